"""Signed provenance manifests: what a revision is, where it came from, and who let it out.

A manifest is plain JSON signed with Ed25519 over its canonical form (keys sorted, no spaces,
UTF-8). Fractional numbers appear as strings (source scores with four decimals) and keys are ASCII,
so for manifests these bytes are what RFC 8785 (JCS) gives, and a CMS can verify in any language
with the public key from `manifest_public_key()`: canonicalise `manifest`, check `signature.value`.
"""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.db.models import Q
from django.utils import timezone

from editorial.attribution import attribution_for, disclosure_block
from editorial.models import Draft, Revision
from governance.models import AuditEvent, RuleSetVersion, SignOff

MANIFEST_FORMAT = "aios-provenance/1"
SIGNATURE_ALG = "Ed25519"
# Changing this label changes the development key, and so every development signature.
_DEV_KEY_INFO = b"aios-editorial provenance manifest signing key v1"


# --- keys ---------------------------------------------------------------------------------------

def _private_key() -> Ed25519PrivateKey:
    configured = settings.AIOS_MANIFEST_SIGNING_KEY
    if configured:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(configured))
    # Development and tests only (the deploy check below says so): anyone who knows SECRET_KEY can
    # sign, and rotating SECRET_KEY silently changes the key.
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DEV_KEY_INFO).derive(
        settings.SECRET_KEY.encode()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def _raw_public_key() -> bytes:
    return _private_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def manifest_public_key() -> str:
    """Base64 of the raw 32-byte Ed25519 public key that verifies manifests (give it to CMSs)."""
    return base64.b64encode(_raw_public_key()).decode()


def manifest_key_id() -> str:
    """The `key_id` signatures carry: the first 16 hex digits of SHA-256 over the raw public key."""
    return _key_id(_raw_public_key())


@checks.register(checks.Tags.security, deploy=True)
def check_manifest_signing_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.AIOS_MANIFEST_SIGNING_KEY:
        return []
    return [
        checks.Warning(
            "AIOS_MANIFEST_SIGNING_KEY is not set: provenance manifests are signed with a key derived from "
            "SECRET_KEY, which is meant for development and tests only.",
            hint='Set it to a new key: python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"',
            id="governance.W001",
        )
    ]


# --- signing ------------------------------------------------------------------------------------

def canonical_json(value: Any) -> bytes:
    """The bytes that are signed: sorted keys, compact separators, UTF-8 (not \\u-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    signature = _private_key().sign(canonical_json(manifest))
    return {
        "manifest": manifest,
        "signature": {
            "alg": SIGNATURE_ALG,
            "key_id": manifest_key_id(),
            "value": base64.b64encode(signature).decode(),
        },
    }


def verify_manifest(signed: Any, *, public_key: str | None = None) -> bool:
    """True only for an untouched manifest signed by this key (or by `public_key`, base64 raw)."""
    try:
        signature = signed["signature"]
        if signature["alg"] != SIGNATURE_ALG:
            return False
        raw_public = base64.b64decode(public_key, validate=True) if public_key else _raw_public_key()
        if signature["key_id"] != _key_id(raw_public):
            return False
        Ed25519PublicKey.from_public_bytes(raw_public).verify(
            base64.b64decode(signature["value"], validate=True), canonical_json(signed["manifest"])
        )
    except (InvalidSignature, KeyError, TypeError, ValueError):  # binascii.Error is a ValueError
        return False
    return True


# --- the manifest -------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """JSON values without floats, whose text differs between languages' serialisers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)  # Decimal, UUID, …


def _score(value: Any) -> str | None:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return None


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name()}


def _audit_ref(event: AuditEvent | None) -> dict[str, Any] | None:
    # Ties a manifest entry to the hash-chained audit log, where it can be checked independently.
    return {"id": event.pk, "hash": event.hash} if event is not None else None


# Hooks (draft, revision) -> dict of extra top-level manifest keys (a campaign's variant says it is one,
# with its master and segment version); registered by higher layers, never imported here. A hook's
# keys never replace the manifest's own.
MANIFEST_HOOKS: list[Callable[[Draft, Revision], dict[str, Any]]] = []


def manifest_hook_register(hook: Callable[[Draft, Revision], dict[str, Any]]) -> None:
    if hook not in MANIFEST_HOOKS:
        MANIFEST_HOOKS.append(hook)


def manifest_for(revision: Revision) -> dict[str, Any]:
    """Everything a CMS or an auditor needs to trust one revision, as plain JSON (unsigned)."""
    draft = Draft.objects.select_related("brief", "brand", "model_version", "prompt_version__template").get(
        pk=revision.draft_id
    )
    revision = Revision.objects.select_related("author_user").get(pk=revision.pk)
    # A person's edit keeps the provenance of the generation it started from (as deliveries do).
    generated = (
        draft.revisions.filter(author_run__isnull=False, number__lte=revision.number).order_by("-number").first()
    )
    prov = (generated.provenance if generated else None) or {}
    editors = sorted(set(
        draft.revisions.filter(author_user__isnull=False, number__lte=revision.number)
        .values_list("author_user__username", flat=True)
    ))
    findings = list(revision.findings.order_by("id"))

    rule_set_ids = {f.rule_set_version_id for f in findings if f.rule_set_version_id}
    if isinstance(prov.get("rule_set_version"), int):
        rule_set_ids.add(prov["rule_set_version"])
    rule_set_versions = [
        {"id": v.pk, "rule_set": v.rule_set.name, "number": v.number}
        for v in RuleSetVersion.objects.filter(pk__in=rule_set_ids).select_related("rule_set").order_by("id")
    ]

    model_version = prov.get("model_version") or (
        {"id": draft.model_version.pk, "name": draft.model_version.name} if draft.model_version else None
    )
    template_version = prov.get("prompt_template_version") or (
        {"id": draft.prompt_version.pk, "label": str(draft.prompt_version)} if draft.prompt_version else None
    )

    signoffs = list(
        SignOff.objects.filter(draft=draft, revision__number__lte=revision.number)
        .select_related("gate", "user", "revision")
        .order_by("created_at", "id")
    )
    signoff_events = {
        e.object_id: e
        for e in AuditEvent.objects.filter(
            object_type="governance.signoff", object_id__in=[str(s.pk) for s in signoffs],
            action__startswith="governance.gate.",
        )
    }
    overrides = AuditEvent.objects.filter(action="governance.finding.override").filter(
        Q(data__revision=revision.pk)
        | Q(object_type="governance.finding", object_id__in=[str(f.pk) for f in findings])
    ).select_related("actor_user").order_by("id")
    publication = (
        AuditEvent.objects.filter(
            action="governance.draft.publish", object_type="editorial.draft", object_id=str(draft.pk),
            data__revision=revision.pk,
        ).select_related("actor_user").order_by("id").first()
    )

    manifest = {
        "format": MANIFEST_FORMAT,
        "generated_at": timezone.now(),
        "draft": {
            "id": draft.pk,
            "title": draft.title,
            "brand": draft.brand.slug,
            "channel": draft.brief.channel,
            "risk": draft.brief.risk,
            "status": draft.status,
        },
        "revision": {
            "id": revision.pk,
            "number": revision.number,
            "parent_id": revision.parent_id,
            "created_at": revision.created_at,
            "author": (
                {"kind": "person", **_person(revision.author_user)} if revision.author_user_id
                else {"kind": "agent", "run_id": revision.author_run_id}
            ),
            "published": draft.published_revision_id == revision.pk,
        },
        "content": {"sha256": revision.content_hash, "format": "markdown"},
        "generation": {
            "revision_id": generated.pk if generated else None,
            "model": prov.get("model"),
            "model_version": model_version,
            "prompt_template_version": template_version,
            "prompt_hash": prov.get("prompt_hash"),
            "runs": prov.get("runs", []),
        },
        "edited_by": editors,
        # Which words the agent wrote and which people wrote (docs/ai-disclosure.md).
        "ai_disclosure": disclosure_block(attribution_for(revision)),
        "rule_set_versions": rule_set_versions,
        "sources": [
            {
                "document_id": s.get("document_id"),
                "chunk_id": s.get("chunk_id"),
                "title": s.get("title"),
                "score": _score(s.get("score")),
            }
            for s in prov.get("sources", [])
        ],
        "findings": [
            {
                "id": f.pk,
                "category": f.category,
                "severity": f.severity,
                "message": f.message,
                "text": f.text,
                "start": f.start,
                "end": f.end,
                "rule_set_version_id": f.rule_set_version_id,
            }
            for f in findings
        ],
        "overrides": [
            {
                "finding_id": e.data.get("finding", e.object_id),
                "category": e.data.get("category"),
                "text": e.data.get("text"),
                "justification": e.data.get("justification"),
                "by": _person(e.actor_user),
                "at": e.created_at,
                "audit_event": _audit_ref(e),
            }
            for e in overrides
        ],
        "signoffs": [
            {
                "id": s.pk,
                "gate": s.gate.slug,
                "gate_name": s.gate.name,
                "decision": s.decision,
                "by": _person(s.user),
                "external_recipient": s.external_recipient or None,
                "approved_by_policy": s.policy or None,
                "at": s.created_at,
                "revision_id": s.revision_id,
                "revision_number": s.revision.number,
                "audit_event": _audit_ref(signoff_events.get(str(s.pk))),
            }
            for s in signoffs
        ],
        "publication": (
            {
                "by": _person(publication.actor_user),
                "at": publication.created_at,
                "audit_event": _audit_ref(publication),
            }
            if publication is not None else None
        ),
    }
    for hook in MANIFEST_HOOKS:
        for key, value in hook(draft, revision).items():
            manifest.setdefault(key, value)
    return _plain(manifest)
