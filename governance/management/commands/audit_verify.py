"""Check the audit log's hash chain; exit status 1 at the first broken link (for cron and CI)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from governance.audit import audit_verify
from governance.models import AuditEvent


class Command(BaseCommand):
    help = "Recompute every audit event's hash and check the links between them."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="HASH",
            help="A head hash printed by an earlier run and kept elsewhere; fails if that event is gone "
            "(the chain alone cannot show that the newest events were removed). Repeatable.",
        )

    def handle(self, *args, **options) -> None:
        # Read before verifying, so the head printed is one the verification covered.
        head = AuditEvent.objects.order_by("-id").values_list("pk", "hash").first()
        checked, broken, reason = audit_verify()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at event #{broken.pk} ({broken.action}) after {checked - 1} intact "
                f"events: {reason}"
            )
        for anchor in options["anchor"]:
            if not AuditEvent.objects.filter(hash=anchor).exists():
                raise CommandError(
                    f"{checked} events, chain intact, but no event has the anchor hash {anchor}: "
                    "that event and any after it were removed (or the hash is mistyped)"
                )
        self.stdout.write(f"{checked} events, chain intact")
        if head is not None:
            self.stdout.write(f"head: #{head[0]} {head[1]}")

