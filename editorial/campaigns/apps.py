from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "editorial.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # The lower layers offer hooks and never import this app: a variant's prompt framing, a gate
        # inherited from the master's sign-off, the variant's ids in payload and manifest, and the
        # start of the variants when a master is approved.
        from editorial.campaigns import hooks

        hooks.register()
