"""CMS connectors' signing secrets: rotation without a gap."""
from __future__ import annotations

import base64
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from governance.audit import audit_log
from governance.models import Connector


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def connector_rotate_secret(*, connector: Connector, user: Any) -> str:
    """Start a rotation: a new secret signs from now on, and the old one keeps signing too (two
    signatures) until `connector_finish_rotation`, so receivers can switch without a gap."""
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    connector.previous_secret, connector.secret = connector.secret, new_webhook_secret()
    connector.secret_rotated_at = timezone.now()
    connector.save(update_fields=["previous_secret", "secret", "secret_rotated_at"])
    audit_log(action="governance.connector.rotate_secret", obj=connector, user=user)
    return connector.secret


@transaction.atomic
def connector_finish_rotation(*, connector: Connector, user: Any) -> Connector:
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    if not connector.previous_secret:
        raise ValidationError("No rotation is in progress.")
    connector.previous_secret = ""
    connector.save(update_fields=["previous_secret"])
    audit_log(action="governance.connector.finish_rotation", obj=connector, user=user)
    return connector
