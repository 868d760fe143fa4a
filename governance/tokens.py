"""API tokens, per-caller rate limits and Idempotency-Key records: the services and selectors behind
/api/v1 authentication and the /tokens/ desk page.

A token reads `aios_<prefix>_<secret>`. The prefix (8 url-safe characters) is public: it finds the row
and is shown in lists and logs. Only the SHA-256 of the secret is stored, so a database dump cannot be
replayed against the API; the full token is shown once, to its creator.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from governance.audit import audit_log
from governance.models import ApiToken, IdempotencyRecord

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "aios_"
PREFIX_LENGTH = 8
MAX_EXPIRY_DAYS = 365
# A request that keeps a token busy does not need a write per call: once a minute is enough to tell
# "in use" from "forgotten".
LAST_USED_RESOLUTION = timedelta(minutes=1)

SCOPE_HELP = {
    "read": "Read drafts, revisions, findings and runs.",
    "write": "File briefs and change drafts.",
    "sign-off": "Decide gates the account may sign.",
    "publish": "Publish approved drafts to CMS connectors.",
    "admin": "Every scope: all the account itself may do.",
}


class TokenInvalid(Exception):
    """The presented token cannot authenticate; `str(exc)` is a sentence for the caller."""


@dataclass(frozen=True)
class TokenState:
    label: str
    css: str


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(raw: str) -> tuple[str, str] | None:
    # Fixed widths, because url-safe characters include "_" and the prefix may contain one.
    start, end = len(TOKEN_PREFIX), len(TOKEN_PREFIX) + PREFIX_LENGTH
    if not raw.startswith(TOKEN_PREFIX) or len(raw) < end + 2 or raw[end] != "_":
        return None
    return raw[start:end], raw[end + 1:]


def token_state(token: ApiToken, *, now: Any = None) -> TokenState:
    now = now or timezone.now()
    if token.revoked_at is not None:
        return TokenState("Revoked", "bad")
    if token.expires_at is not None and token.expires_at <= now:
        return TokenState("Expired", "bad")
    return TokenState("Active", "ok")


# --- services ---------------------------------------------------------------------------------

def _clean_token_input(*, name: str, scopes: Any, expires_in_days: Any) -> tuple[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    max_name = ApiToken._meta.get_field("name").max_length
    if not name:
        errors.setdefault("name", []).append("Give the token a name, so you can tell it apart later.")
    elif len(name) > max_name:
        errors.setdefault("name", []).append(f"The name is too long (at most {max_name} characters).")
    if isinstance(scopes, str) or not isinstance(scopes, (list, tuple, set, frozenset)):
        scopes = [scopes] if scopes else []
    unknown = sorted({str(s) for s in scopes} - set(ApiToken.SCOPES))
    if unknown:
        errors.setdefault("scopes", []).append(
            f"Unknown scope{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Choose from: {', '.join(ApiToken.SCOPES)}."
        )
    elif not scopes:
        errors.setdefault("scopes", []).append("Choose at least one scope.")
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_EXPIRY_DAYS
    ):
        errors.setdefault("expires_in_days", []).append(
            f"A token expires after 1 to {MAX_EXPIRY_DAYS} days (or never, when no expiry is given)."
        )
    if errors:
        raise ValidationError(errors)
    return name, [s for s in ApiToken.SCOPES if s in set(scopes)]


@transaction.atomic
def token_create(
    *,
    user: Any,
    name: str,
    scopes: list[str],
    expires_in_days: int | None,
    kind: str = ApiToken.Kind.PERSONAL,
    created_by: Any,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its raw value. The raw value is not stored: show it once, then forget it."""
    if kind == ApiToken.Kind.PERSONAL:
        if user.pk != created_by.pk:
            raise PermissionDenied("A personal token can only be created by its owner.")
    elif kind == ApiToken.Kind.SERVICE:
        if not created_by.is_staff:
            raise PermissionDenied("Only staff can create service tokens.")
        if user.pk == created_by.pk:
            raise ValidationError({"user": "A service token is for another (service) account; "
                                            "create a personal token for yourself."})
    else:
        raise ValidationError({"kind": f"Unknown token kind {kind!r}: use personal or service."})
    if not user.is_active:
        raise ValidationError({"user": f"The account {user.get_username()} is disabled."})
    name, scopes = _clean_token_input(name=name, scopes=scopes, expires_in_days=expires_in_days)
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise ValidationError({"rate_limit_per_minute": "The rate limit must be at least 1 request a minute."})

    now = timezone.now()
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, kind=kind, scopes=scopes, created_by=created_by, secret_hash=_secret_hash(secret),
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    if rate_limit_per_minute is not None:
        token.rate_limit_per_minute = rate_limit_per_minute
    for attempt in range(5):
        token.prefix = secrets.token_urlsafe(6)[:PREFIX_LENGTH]
        try:
            with transaction.atomic():
                token.save()
            break
        except IntegrityError:
            # 48 random bits: a clash on the unique prefix is rare, and another draw fixes it.
            token.pk = None
            if attempt == 4:
                raise
    audit_log(
        action="governance.api_token.create", obj=token, user=created_by,
        data={"name": token.name, "kind": token.kind, "prefix": token.prefix, "scopes": token.scopes,
              "owner": user.get_username(), "expires_at": token.expires_at,
              "rate_limit_per_minute": token.rate_limit_per_minute},
    )
    return token, f"{TOKEN_PREFIX}{token.prefix}_{secret}"


@transaction.atomic
def token_revoke(*, token: ApiToken, user: Any) -> ApiToken:
    """Revoke a token (its owner, or staff). Revoking a revoked token changes nothing."""
    if token.user_id != user.pk and not user.is_staff:
        raise PermissionDenied("Only the token's owner or staff can revoke it.")
    now = timezone.now()
    claimed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    if claimed == 1:
        audit_log(action="governance.api_token.revoke", obj=token, user=user,
                  data={"name": token.name, "prefix": token.prefix, "kind": token.kind})
    return token


def token_check(raw: str) -> ApiToken:
    """The token `raw` stands for, if it may authenticate now; else TokenInvalid saying why."""
    parts = _split(raw or "")
    if parts is None:
        raise TokenInvalid("This is not an AIOS API token (expected aios_<prefix>_<secret>).")
    prefix, secret = parts
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    # Compare even when there is no row, so an unknown prefix takes as long as a wrong secret.
    stored = token.secret_hash if token is not None else "0" * 64
    if not hmac.compare_digest(_secret_hash(secret), stored) or token is None:
        raise TokenInvalid("This token is not valid.")
    # Only the holder of the real secret learns why a known token is refused.
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenInvalid("This token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenInvalid("This token has expired.")
    if not token.user.is_active:
        raise TokenInvalid("The account this token belongs to is disabled.")
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    """The token, or None when it is unknown, malformed, revoked or expired."""
    try:
        return token_check(raw)
    except TokenInvalid:
        return None


# --- selectors --------------------------------------------------------------------------------

def token_list_for_user(*, user: Any) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first."""
    return ApiToken.objects.filter(user=user).select_related("created_by")


def service_token_list_for_user(*, user: Any) -> QuerySet[ApiToken]:
    """Service tokens of every account, for staff; nothing for anyone else."""
    if not user.is_staff:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(kind=ApiToken.Kind.SERVICE).select_related("user", "created_by")


def token_get_for_user(*, user: Any, pk: int) -> ApiToken:
    """A token the user may manage: their own, or (staff) a service token. Others do not exist."""
    token = ApiToken.objects.select_related("user").filter(pk=pk).first()
    if token is None or not (token.user_id == user.pk or (user.is_staff and token.kind == ApiToken.Kind.SERVICE)):
        raise Http404("No such token.")
    return token


# --- rate limits ------------------------------------------------------------------------------

_clock = time.time  # tests pin it, so a run never straddles a window

def rate_limit_hit(*, bucket: str, limit: int, window: int = 60, now: float | None = None) -> int | None:
    """Count one request against `bucket` in a fixed window. Returns None when allowed, else the
    seconds until the window resets (for Retry-After)."""
    now = _clock() if now is None else now
    window_start = int(now // window) * window
    key = f"rl:{bucket}:{window_start}"
    try:
        # add + incr are each atomic in Redis, so concurrent requests never lose a count.
        cache.add(key, 0, timeout=window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.add(key, 1, timeout=window + 5)
            count = 1
    except Exception:
        # A cache outage should not take the API down with it: let the request through, loudly.
        logger.exception("rate limit cache unavailable; allowing %s", bucket)
        return None
    if count > limit:
        return max(1, math.ceil(window_start + window - now))
    return None


# --- idempotency ------------------------------------------------------------------------------

IDEMPOTENCY_TTL = timedelta(hours=24)
# A record still in flight after this long belongs to a request whose process died: let a retry
# take the key over rather than answer 409 for a day.
IDEMPOTENCY_STALE_IN_FLIGHT = timedelta(minutes=10)


def idempotency_claim(
    *, owner: str, key: str, method: str, path: str, body_hash: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim `key` for `owner`. Returns (record, True) when this request owns it now, or
    (the existing record, False) when an earlier request holds it (in flight or done)."""
    for _ in range(3):
        now = timezone.now()
        IdempotencyRecord.objects.filter(owner=owner, key=key).filter(
            Q(expires_at__lte=now)
            | Q(state=IdempotencyRecord.State.IN_FLIGHT, created_at__lte=now - IDEMPOTENCY_STALE_IN_FLIGHT)
        ).delete()
        try:
            # Its own transaction, committed before the view runs: a concurrent request with the same
            # key then hits the unique constraint instead of running the route a second time.
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner, key=key, method=method, path=path[:500], body_hash=body_hash,
                    expires_at=now + IDEMPOTENCY_TTL,
                )
            return record, True
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if existing is not None:
                return existing, False
            # Released between our insert and our read (the first request failed): try again.
    raise RuntimeError(f"could not claim idempotency key {key!r} for {owner}")


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: str, content_type: str) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).update(
        state=IdempotencyRecord.State.DONE, response_status=status, response_body=body,
        response_content_type=content_type[:100],
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget an in-flight claim whose request failed, so the client may retry with the same key."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()


def idempotency_purge() -> int:
    """Delete expired records; for a periodic task. Returns how many went."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
