from __future__ import annotations

import base64
import copy
import io
import json
import os
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from agents.models import AgentRun
from editorial.editing import draft_edit
from editorial.models import Draft, Revision
from editorial.revisions import revision_create
from governance.models import AuditEvent, SignOff
from governance.provenance import (
    canonical_json,
    check_manifest_signing_key,
    manifest_for,
    manifest_key_id,
    manifest_public_key,
    sign_manifest,
    verify_manifest,
)
from governance.publishing.publish import draft_publish
from governance.signoffs import finding_override, signoff_record
from governance.views import download_provenance_manifest
from tests.factories import PASSWORD
from tests.helpers import draft_in_review, file_brief



def sign(draft, world, gate, user, decision="approve", comment=""):
    draft.refresh_from_db()
    return signoff_record(draft=draft, gate=world.gates[gate], user=user, decision=decision,
                          revision_id=draft.current_revision_id, comment=comment)


def generated_draft(world, *, risk: str = "low") -> Draft:
    """A draft in review whose revision carries what the pipeline's check step records."""
    draft = file_brief(world, risk=risk)
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key=f"test:{draft.pk}:write")
    version = world.template.active_version
    revision_create(draft=draft, content="## Part 1\n\nHello coffee lovers.", author_run=run, provenance={
        "model": "test-model",
        "model_version": {"id": world.model_version.pk, "name": world.model_version.name},
        "prompt_template_version": {"id": version.pk, "label": str(version)},
        "prompt_hash": "ab" * 32,
        "sources": [
            {"chunk_id": 7, "document_id": 3, "title": "Roast notes", "score": 0.81234567},
            {"chunk_id": 9, "document_id": 4, "title": "Origins", "score": 3.2e-05},
        ],
        "tokens_in": 10, "tokens_out": 20, "cost": "0.00004", "ttft_ms": 12.5,
        "runs": [{"id": run.pk, "kind": "write"}],
        "rule_set_version": world.rule_set_version.pk,
    })
    Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.IN_REVIEW)
    draft.refresh_from_db()
    return draft


@pytest.fixture
def published(world) -> Draft:
    draft = generated_draft(world)
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    draft_publish(draft=draft, user=world.editor)
    draft.refresh_from_db()
    return draft


# --- the manifest ---------------------------------------------------------------------------

def test_the_manifest_of_a_published_revision_says_what_it_is_and_where_it_came_from(world, published):
    revision = published.published_revision
    manifest = manifest_for(revision)
    assert manifest["format"] == "aios-provenance/1" and manifest["generated_at"]
    assert manifest["draft"] == {"id": published.pk, "title": "Autumn roast", "brand": "northwind",
                                 "channel": "blog", "risk": "low", "status": "published"}
    assert manifest["revision"]["id"] == revision.pk and manifest["revision"]["number"] == 1
    assert manifest["revision"]["published"] is True
    assert manifest["revision"]["author"] == {"kind": "agent", "run_id": revision.author_run_id}
    assert manifest["content"] == {"sha256": revision.content_hash, "format": "markdown"}
    generation = manifest["generation"]
    assert generation["model"] == "test-model"
    assert generation["model_version"] == {"id": world.model_version.pk, "name": "Settings model"}
    assert generation["prompt_template_version"]["label"] == "Blog post v1"
    assert manifest["rule_set_versions"] == [{"id": world.rule_set_version.pk, "rule_set": "House rules", "number": 1}]
    # Scores as fixed decimals: any language's canonical JSON gives the same bytes.
    assert [(s["title"], s["score"]) for s in manifest["sources"]] == [("Roast notes", "0.8123"), ("Origins", "0.0000")]
    publish_event = AuditEvent.objects.get(action="governance.draft.publish")
    assert manifest["publication"]["by"]["username"] == "eddie"
    assert manifest["publication"]["audit_event"] == {"id": publish_event.pk, "hash": publish_event.hash}
    assert manifest["findings"] == [] and manifest["overrides"] == []


def test_every_signoff_is_listed_with_person_gate_decision_time_and_its_audit_event(world):
    draft = generated_draft(world, risk="medium")
    sign(draft, world, "editorial", world.editor)
    sign(draft, world, "brand", world.brand_reviewer)
    draft.refresh_from_db()
    manifest = manifest_for(draft.current_revision)
    signoffs = manifest["signoffs"]
    assert [(s["gate"], s["decision"], s["by"]["username"]) for s in signoffs] == [
        ("editorial", "approve", "eddie"), ("brand", "approve", "bree"),
    ]
    for entry, signoff in zip(signoffs, SignOff.objects.order_by("created_at", "id"), strict=True):
        event = AuditEvent.objects.get(object_type="governance.signoff", object_id=str(signoff.pk))
        assert entry["at"] == signoff.created_at.isoformat()
        assert entry["audit_event"] == {"id": event.pk, "hash": event.hash}
        assert entry["revision_number"] == 1 and entry["external_recipient"] is None


def test_a_manifest_lists_earlier_revisions_signoffs_but_not_later_ones(world):
    draft = draft_in_review(world)
    first = draft.current_revision
    sign(draft, world, "editorial", world.editor, decision="request_changes", comment="Too short")
    draft.refresh_from_db()
    draft_edit(draft=draft, user=world.editor, content="Longer now.", base_revision_id=first.pk)
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    latest = manifest_for(draft.current_revision)
    assert [(s["decision"], s["revision_number"]) for s in latest["signoffs"]] == [
        ("request_changes", 1), ("approve", 2),
    ]
    assert latest["revision"]["author"]["username"] == "eddie" and latest["edited_by"] == ["eddie"]
    assert latest["generation"]["model"] == "test-model"  # from the generated revision the edit started from
    assert [s["decision"] for s in manifest_for(first)["signoffs"]] == ["request_changes"]


def test_findings_overrides_and_the_rule_set_of_a_draft_in_review(world):
    draft = draft_in_review(world)
    draft_edit(draft=draft, user=world.editor, content="Results guaranteed.",
               base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    finding = draft.current_revision.findings.get()
    world.legal.user_permissions.add(Permission.objects.get(codename="override_finding"))
    legal = type(world.legal).objects.get(pk=world.legal.pk)
    finding_override(finding=finding, user=legal, justification="The guarantee is in the signed contract.")
    manifest = manifest_for(draft.current_revision)
    assert manifest["draft"]["status"] == "in_review"
    assert manifest["revision"]["published"] is False and manifest["publication"] is None
    assert [(f["id"], f["category"], f["severity"], f["text"]) for f in manifest["findings"]] == [
        (finding.pk, "banned_term", "blocking", "guaranteed"),
    ]
    assert manifest["rule_set_versions"] == [{"id": world.rule_set_version.pk, "rule_set": "House rules", "number": 1}]
    (override,) = manifest["overrides"]
    event = AuditEvent.objects.get(action="governance.finding.override")
    assert override["finding_id"] == finding.pk and override["by"]["username"] == "lena"
    assert override["justification"] == "The guarantee is in the signed contract."
    assert override["audit_event"] == {"id": event.pk, "hash": event.hash}
    assert manifest_for(Revision.objects.get(draft=draft, number=1))["overrides"] == []


# --- signing --------------------------------------------------------------------------------

def test_canonical_json_is_sorted_compact_utf8_and_a_manifest_has_no_floats(world, published):
    assert canonical_json({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()

    def no_floats(text: str):
        raise AssertionError(f"float {text} in the manifest")

    manifest = manifest_for(published.published_revision)
    assert json.loads(canonical_json(manifest), parse_float=no_floats) == manifest


def test_a_signed_manifest_verifies_with_the_published_public_key(world, published):
    signed = sign_manifest(manifest_for(published.published_revision))
    assert signed["signature"]["alg"] == "Ed25519" and signed["signature"]["key_id"] == manifest_key_id()
    assert len(base64.b64decode(signed["signature"]["value"])) == 64
    assert verify_manifest(signed)
    assert verify_manifest(json.loads(json.dumps(signed, indent=2)))  # formatting is not signed
    assert verify_manifest(signed, public_key=manifest_public_key())


MUTATIONS = {
    "title": lambda s: s["manifest"]["draft"].update(title="Another title"),
    "content hash": lambda s: s["manifest"]["content"].update(sha256="0" * 64),
    "a signoff removed": lambda s: s["manifest"]["signoffs"].pop(),
    "a signoff's person": lambda s: s["manifest"]["signoffs"][0]["by"].update(username="mallory"),
    "a score": lambda s: s["manifest"]["sources"][0].update(score="0.9999"),
    "a field added": lambda s: s["manifest"].update(note="approved by legal"),
    "generated_at": lambda s: s["manifest"].update(generated_at="2020-01-01T00:00:00+00:00"),
    "an integer as text": lambda s: s["manifest"]["revision"].update(number="1"),
    "signature value": lambda s: s["signature"].update(value=base64.b64encode(b"\0" * 64).decode()),
    "signature not base64": lambda s: s["signature"].update(value="not base64!"),
    "key id": lambda s: s["signature"].update(key_id="0" * 16),
    "algorithm": lambda s: s["signature"].update(alg="HS256"),
    "signature removed": lambda s: s.pop("signature"),
    "manifest removed": lambda s: s.pop("manifest"),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_any_change_to_a_signed_manifest_fails_verification(world, published, mutation):
    signed = sign_manifest(manifest_for(published.published_revision))
    changed = copy.deepcopy(signed)
    MUTATIONS[mutation](changed)
    assert verify_manifest(signed) and not verify_manifest(changed)


def test_a_configured_key_signs_and_the_development_key_does_not_verify_it(world, published, settings):
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    development_key = manifest_public_key()
    settings.AIOS_MANIFEST_SIGNING_KEY = base64.b64encode(raw).decode()
    assert manifest_public_key() == base64.b64encode(public).decode() != development_key
    signed = sign_manifest(manifest_for(published.published_revision))
    assert verify_manifest(signed)
    settings.AIOS_MANIFEST_SIGNING_KEY = ""
    assert not verify_manifest(signed)
    assert verify_manifest(signed, public_key=base64.b64encode(public).decode())


def test_the_development_key_is_derived_from_the_secret_key(settings):
    settings.AIOS_MANIFEST_SIGNING_KEY = ""
    first = manifest_public_key()
    assert manifest_public_key() == first
    settings.SECRET_KEY = "another-secret"
    assert manifest_public_key() != first


def test_the_deploy_check_warns_while_the_development_key_is_in_use(settings):
    settings.AIOS_MANIFEST_SIGNING_KEY = ""
    assert [m.id for m in check_manifest_signing_key()] == ["governance.W001"]
    settings.AIOS_MANIFEST_SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()
    assert check_manifest_signing_key() == []


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_signing_key_fails_at_start_up(monkeypatch, value):
    from aios.settings import _ed25519_private_key

    monkeypatch.setenv("AIOS_MANIFEST_SIGNING_KEY", value)
    with pytest.raises(ImproperlyConfigured, match="32-byte Ed25519 private key"):
        _ed25519_private_key("AIOS_MANIFEST_SIGNING_KEY")


# --- the download view ----------------------------------------------------------------------

def download(client, draft):
    return client.get(reverse("governance:manifest", args=[draft.pk]))


def test_a_brand_member_downloads_the_signed_manifest_of_the_published_revision(client, world, published):
    assert client.login(username="bree", password=PASSWORD)
    response = download(client, published)
    revision = published.published_revision
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="provenance-draft-{published.pk}-r{revision.number}.json"'
    )
    signed = json.loads(response.content)
    assert verify_manifest(signed) and signed["manifest"]["revision"]["id"] == revision.pk


def test_before_publishing_the_download_is_the_current_revision(client, world):
    draft = generated_draft(world)
    assert client.login(username="eddie", password=PASSWORD)
    signed = json.loads(download(client, draft).content)
    assert signed["manifest"]["revision"]["id"] == draft.current_revision_id
    assert signed["manifest"]["revision"]["published"] is False


def test_an_outsider_cannot_download_a_manifest_or_learn_the_draft_exists(client, world, published):
    assert client.login(username="otto", password="pw")
    assert download(client, published).status_code == 404


def test_anonymous_visitors_are_sent_to_login_and_posts_are_refused(client, world, published):
    response = download(client, published)
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert client.login(username="eddie", password=PASSWORD)
    assert client.post(reverse("governance:manifest", args=[published.pk])).status_code == 405


def test_a_draft_without_a_revision_has_no_manifest(client, world):
    draft = file_brief(world)
    assert client.login(username="eddie", password=PASSWORD)
    assert download(client, draft).status_code == 404


# --- the admin action -----------------------------------------------------------------------

def test_the_admin_action_downloads_one_manifest_or_a_zip_of_several(world, published, admin_user):
    request = RequestFactory().post("/admin/editorial/revision/")
    request.user = admin_user
    other = generated_draft(world)
    one = download_provenance_manifest(None, request, Revision.objects.filter(pk=published.published_revision_id))
    assert one["Content-Disposition"] == f'attachment; filename="provenance-draft-{published.pk}-r1.json"'
    assert verify_manifest(json.loads(one.content))
    several = download_provenance_manifest(None, request, Revision.objects.filter(draft__in=[published, other]))
    assert several["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(several.content)) as archive:
        names = archive.namelist()
        assert names == [f"provenance-draft-{published.pk}-r1.json", f"provenance-draft-{other.pk}-r1.json"]
        assert all(verify_manifest(json.loads(archive.read(name))) for name in names)
