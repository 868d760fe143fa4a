from __future__ import annotations

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "editorial.batches"
    label = "batches"
    verbose_name = "Bulk briefs"

    def ready(self) -> None:
        # Publishing (a lower layer) asks through its hook when a batch's drafts approved by policy go out.
        from editorial.batches.services import batch_policy_publish_at
        from governance.publishing.policy import publish_at_hook_register

        publish_at_hook_register(batch_policy_publish_at)
