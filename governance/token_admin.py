"""Admin for API tokens: view and revoke. Tokens are created on the /tokens/ desk page, the one
place that can show the secret once; changing scopes here would bypass the audit log."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from governance.models import ApiToken
from governance.tokens import token_revoke, token_state


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "kind", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "state"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["user"]
    search_fields = ["name", "=prefix", "user__username"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]
    exclude = ["secret_hash"]
    actions = ["revoke_selected"]

    @admin.display(description="Status")
    def state(self, obj: ApiToken) -> str:
        return token_state(obj).label

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        return [name for name in self.readonly_fields if name != "secret_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoke instead: the audit log keeps pointing at the row

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            token_revoke(token=token, user=request.user)
            count += 1
        messages.success(request, f"Revoked {count} token{'s' if count != 1 else ''}.")
