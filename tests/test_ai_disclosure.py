"""The AI disclosure block: in the signed provenance manifest and in the CMS payload."""
from __future__ import annotations

import copy

import pytest

from editorial.editing import draft_edit
from editorial.models import Attribution, Draft
from governance.provenance import manifest_for, sign_manifest, verify_manifest
from governance.publishing.delivery import delivery_payload
from governance.publishing.publish import draft_publish
from governance.signoffs import signoff_record
from tests.helpers import draft_in_review

AGENT_TEXT = "## Part 1\n\nOur autumn roast is dark and sweet.\n\n## Part 2\n\nBrew it with care."


@pytest.fixture
def published(world) -> Draft:
    """Agent text; a person rewrites one word and adds a sentence; approved and published."""
    draft = draft_in_review(world, content=AGENT_TEXT)
    draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id,
               content=AGENT_TEXT.replace("sweet.", "smoky.") + " Ask our baristas.")
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    draft_publish(draft=draft, user=world.editor)
    draft.refresh_from_db()
    return draft


def test_the_signed_manifest_carries_the_disclosure_of_the_published_text_and_still_verifies(world, published):
    revision = published.published_revision
    manifest = manifest_for(revision)
    block = manifest["ai_disclosure"]
    assert block["format"] == "aios-ai-disclosure/1" and block["revision_id"] == revision.pk
    # "Part 1 Our autumn roast is dark and" + "Part 2 Brew it with care" by the agent; "smoky" rewritten;
    # "Ask our baristas" written by the person.
    assert block["words"] == {"agent": 14, "edited": 1, "human": 3, "total": 18}
    assert block["ai_share"] == "0.7778" and block["ai_involved_share"] == "0.8333"
    assert [(s["heading"], s["words"]["total"], s["ai_share"]) for s in block["sections"]] == [
        ("Part 1", 9, "0.8889"), ("Part 2", 9, "0.6667")]
    # The stored attribution (recorded at approval) is what the manifest reports.
    stored = Attribution.objects.get(revision=revision)
    assert (stored.words_agent, stored.words_edited, stored.words_human) == (14, 1, 3)
    signed = sign_manifest(manifest)
    assert verify_manifest(signed)
    forged = copy.deepcopy(signed)
    forged["manifest"]["ai_disclosure"]["ai_share"] = "0.0000"
    assert not verify_manifest(forged)


def test_the_cms_payload_has_the_disclosure_block_and_the_same_block_inside_its_verified_signature(world, published):
    payload = delivery_payload(draft=published, revision=published.published_revision, event_type="published",
                               connector=world.connector)
    data = payload["data"]
    assert data["ai_disclosure"]["words"]["human"] == 3
    assert verify_manifest(data["provenance"])
    assert data["ai_disclosure"] == data["provenance"]["manifest"]["ai_disclosure"]


def test_a_retraction_payload_carries_no_disclosure(world, published):
    payload = delivery_payload(draft=published, revision=published.published_revision, event_type="retracted",
                               connector=world.connector, reason="withdrawn")
    assert "ai_disclosure" not in payload["data"]


def test_a_draft_in_review_is_attributed_on_demand_without_storing_anything(world):
    draft = draft_in_review(world, content=AGENT_TEXT)
    block = manifest_for(draft.current_revision)["ai_disclosure"]
    assert block["ai_share"] == "1.0000" and block["words"]["total"] == 15
    assert not Attribution.objects.exists()


def test_the_api_gives_the_current_revisions_disclosure_to_the_brand_and_nothing_to_an_outsider(client, world,
                                                                                              published):
    client.force_login(world.editor)
    body = client.get(f"/api/v1/drafts/{published.pk}").json()
    assert body["ai_disclosure"]["words"] == {"agent": 14, "edited": 1, "human": 3, "total": 18}
    assert body["ai_disclosure"]["revision_id"] == published.current_revision_id
    assert body["sources_changed"] == 0
    client.force_login(world.outsider)
    assert client.get(f"/api/v1/drafts/{published.pk}").status_code == 404


def test_the_draft_page_draws_the_tinted_text_and_its_legend_for_the_brand(client, world, published):
    client.force_login(world.brand_reviewer)
    html = client.get(f"/drafts/{published.pk}/").content.decode()
    assert 'data-attribution-toggle' in html and 'id="attribution-legend"' in html
    assert '<span class="attr attr-human" title="Written by a person">Ask our baristas.</span>' in html
    assert '<span class="attr attr-edited" title="Agent text rewritten by a person">smoky</span>' in html
    assert "78%" in html  # the AI-written share
    client.force_login(world.outsider)
    assert client.get(f"/drafts/{published.pk}/").status_code == 404


def test_the_admin_lists_stored_attributions_read_only(admin_client, published):
    row = Attribution.objects.get(revision=published.published_revision)
    assert admin_client.get("/admin/editorial/attribution/").status_code == 200
    assert admin_client.get(f"/admin/editorial/attribution/{row.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/editorial/attribution/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Attribution.objects.filter(pk=row.pk).exists()
