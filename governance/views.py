"""HTML views of governance: sign-off side actions (overrides, review links, the outside reviewer's
page), the policy check, and provenance manifest downloads. Publishing's views are in
`governance.publishing.views`."""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from editorial.draftpage import draft_page_render
from editorial.models import Revision
from editorial.rendering import highlight_findings, render_markdown
from editorial.selectors import draft_get_for_user
from governance.models import Channel, Finding, Gate
from governance.permissions import brands_for_user, error_text
from governance.policies import evaluate, rule_set_version_for
from governance.provenance import SIGNATURE_ALG, manifest_for, manifest_key_id, manifest_public_key, sign_manifest
from governance.signoffs import finding_override, review_link_create, review_link_decide, review_link_get


# --- sign-off side actions --------------------------------------------------------------------

@login_required
@require_POST
def finding_override_view(request: HttpRequest, pk: int, finding_id: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    finding = get_object_or_404(Finding, pk=finding_id, revision__draft=draft)
    try:
        finding_override(finding=finding, user=request.user, justification=request.POST.get("justification", ""))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Override recorded for “{finding.text or finding.category_label}”.")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def review_link_create_view(request: HttpRequest, pk: int, gate_id: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    gate = get_object_or_404(Gate, pk=gate_id, stage__workflow_id=draft.workflow_id)
    try:
        hours = int(request.POST.get("hours") or 72)
        link, token = review_link_create(draft=draft, gate=gate, user=request.user,
                                         recipient=request.POST.get("recipient", ""), hours=hours)
    except ValueError:
        messages.error(request, "The link's lifetime must be a whole number of hours.")
        return draft_page_render(request, draft, status=400)
    except (ValidationError, PermissionDenied) as exc:
        # The draft page again, with the reason: refused input is a 4xx, not a redirect.
        messages.error(request, error_text(exc))
        return draft_page_render(request, draft, status=403 if isinstance(exc, PermissionDenied) else 400)
    else:
        url = request.build_absolute_uri(reverse("governance:external-review", args=[draft.pk, token]))
        messages.success(
            request,
            f"Review link for {link.recipient} (valid until {link.expires_at:%Y-%m-%d %H:%M} UTC, single use). "
            f"Copy it now; it is not shown again: {url}",
        )
    return redirect("editorial:draft", pk=draft.pk)


@require_http_methods(["GET", "POST"])
def external_review(request: HttpRequest, draft_id: int, token: str) -> HttpResponse:
    """No account needed: the token is the credential, for one gate of one item, once."""
    try:
        link = review_link_get(draft_id=draft_id, token=token)
    except ValidationError as exc:
        return render(request, "governance/external_review.html", {"error": error_text(exc)}, status=410)
    error = ""
    if request.method == "POST":
        try:
            signoff = review_link_decide(draft_id=draft_id, token=token, decision=request.POST.get("decision", ""),
                                         comment=request.POST.get("comment", ""))
        except ValidationError as exc:
            error = error_text(exc)
        else:
            return render(request, "governance/external_review.html", {"done": signoff, "link": link})
    return render(
        request,
        "governance/external_review.html",
        {"link": link, "content_html": render_markdown(link.revision.content), "error": error,
         "comment": request.POST.get("comment", "")},
        status=422 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_check(request: HttpRequest) -> HttpResponse:
    """Run the brand's active rules on pasted text, or on any revision the user may read."""
    brands = brands_for_user(request.user)
    text, channel, brand_id, revision = "", "blog", request.POST.get("brand") or request.GET.get("brand"), None
    status = 200
    if request.GET.get("revision", "").isdigit():
        revision = get_object_or_404(Revision, pk=request.GET["revision"])
        draft = draft_get_for_user(user=request.user, pk=revision.draft_id)
        text, channel, brand_id = revision.content, draft.brief.channel, str(draft.brand_id)
    elif request.GET.get("revision"):
        messages.error(request, "The revision must be given by its number.")
        status = 400
    brand = brands.filter(pk=brand_id).first() if brand_id and str(brand_id).isdigit() else brands.first()
    findings = None
    if request.method == "POST":
        text = request.POST.get("text", "")
        channel = request.POST.get("channel", "blog")
        if channel not in Channel.values:
            channel = "blog"
        findings = evaluate(text, channel=channel, version=rule_set_version_for(brand), brand=brand) if brand else []
    elif revision is not None:
        findings = evaluate(text, channel=channel, version=rule_set_version_for(brand), brand=brand)
    return render(request, "governance/policy_check.html", {
        "brands": brands, "brand": brand, "channels": Channel.choices, "channel": channel, "text": text,
        "findings": findings, "revision": revision,
        "highlighted": highlight_findings(text, findings or []) if findings is not None else "",
    }, status=status)


# --- provenance manifests ----------------------------------------------------------------------------------

def _filename(revision: Revision) -> str:
    return f"provenance-draft-{revision.draft_id}-r{revision.number}.json"


def _manifest_response(revisions: Iterable[Revision]) -> HttpResponse:
    """One revision: its signed manifest as a JSON file. Several: a ZIP with one file each."""
    files = [
        (_filename(r), json.dumps(sign_manifest(manifest_for(r)), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        for r in revisions
    ]
    if len(files) == 1:
        name, body = files[0]
        response = HttpResponse(body.encode(), content_type="application/json")
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file_name, body in files:
                archive.writestr(file_name, body)
        name = f"provenance-{timezone.now():%Y%m%d-%H%M%S}.zip"
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def manifest_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The signed manifest of the draft's published revision, or of its current one before that."""
    draft = draft_get_for_user(user=request.user, pk=pk)
    revision = draft.published_revision or draft.current_revision
    if revision is None:
        raise Http404("This draft has no revision yet.")
    return _manifest_response([revision])


@require_GET
def manifest_key_view(request: HttpRequest) -> JsonResponse:
    """The public key, for CMSs that fetch it rather than have it configured. Public by nature."""
    return JsonResponse({"alg": SIGNATURE_ALG, "key_id": manifest_key_id(), "public_key": manifest_public_key()})


@admin.action(description="Download provenance manifest", permissions=["view"])
def download_provenance_manifest(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Revision]
) -> HttpResponse:
    """For the Revision admin: `actions = [download_provenance_manifest]`."""
    return _manifest_response(queryset.order_by("draft_id", "number"))
