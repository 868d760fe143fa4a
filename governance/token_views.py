"""The /tokens/ desk page: my API tokens, a new one (shown once), revoking; service tokens for staff."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from governance.models import ApiToken
from governance.tokens import (
    MAX_EXPIRY_DAYS,
    SCOPE_HELP,
    service_token_list_for_user,
    token_create,
    token_get_for_user,
    token_list_for_user,
    token_revoke,
    token_state,
)

SCOPE_CHOICES = [(scope, f"{scope} — {SCOPE_HELP.get(scope, '')}") for scope in ApiToken.SCOPES]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Where it is used, e.g. “CMS import script”.")
    scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple,
                                       initial=["read"])
    expires_in_days = forms.IntegerField(
        label="Expires after (days)", min_value=1, max_value=MAX_EXPIRY_DAYS, required=False, initial=90,
        help_text=f"1 to {MAX_EXPIRY_DAYS} days. Leave empty for a token that does not expire.",
    )


class ServiceTokenForm(TokenForm):
    user = forms.ModelChoiceField(queryset=None, label="Service account",
                                  help_text="The account the token acts as; its permissions still apply.")
    field_order = ["user", "name", "scopes", "expires_in_days"]

    def __init__(self, *args: Any, staff: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (get_user_model().objects.filter(is_active=True).exclude(pk=staff.pk)
                                        .order_by("username"))


def _with_state(tokens: Any) -> list[ApiToken]:
    now = timezone.now()
    rows = list(tokens)
    for token in rows:
        token.state = token_state(token, now=now)
    return rows


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _page(request: HttpRequest, *, form: TokenForm | None = None, service_form: ServiceTokenForm | None = None,
          new_token: str = "", new_row: ApiToken | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    context = {
        "tokens": _with_state(token_list_for_user(user=user)),
        "form": form or TokenForm(),
        "new_token": new_token,
        "new_row": new_row,
    }
    if user.is_staff:
        context["service_tokens"] = _with_state(service_token_list_for_user(user=user))
        context["service_form"] = service_form or ServiceTokenForm(prefix="service", staff=user)
    return render(request, "governance/tokens.html", context, status=status)


@never_cache  # the one answer that shows a new token must not be kept by any cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: my tokens. POST: create a personal token and show it, once."""
    if request.method == "GET":
        return _page(request)
    form = TokenForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            token, raw = token_create(user=request.user, name=data["name"], scopes=data["scopes"],
                                      expires_in_days=data["expires_in_days"], created_by=request.user)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return _page(request, new_token=raw, new_row=token, status=201)
    return _page(request, form=form, status=422)


@never_cache
@login_required
@require_POST
def service_token_create(request: HttpRequest) -> HttpResponse:
    """Staff only: a token for a service account, shown once."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can create service tokens.")
    form = ServiceTokenForm(request.POST, prefix="service", staff=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            token, raw = token_create(user=data["user"], name=data["name"], scopes=data["scopes"],
                                      expires_in_days=data["expires_in_days"], kind=ApiToken.Kind.SERVICE,
                                      created_by=request.user)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return _page(request, new_token=raw, new_row=token, status=201)
    return _page(request, service_form=form, status=422)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = token_get_for_user(user=request.user, pk=pk)
    if token.revoked_at is not None:
        messages.info(request, f"“{token.name}” was already revoked.")
    else:
        token_revoke(token=token, user=request.user)
        messages.success(request, f"Revoked “{token.name}” (aios_{token.prefix}_…). It no longer works.")
    return redirect("tokens:list")
