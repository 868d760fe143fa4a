"""When a knowledge document that grounded pieces changes, exactly those pieces are flagged "sources
changed": listed on the document's page, marked and filtered in the desk, sent back to review with one
audited action, their editors told; an approval clears the flag."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from agents import knowledge
from agents.models import AgentRun, KnowledgeDocument
from editorial.editing import draft_edit
from editorial.models import Draft, Notification, NotificationKind, SourceChange
from editorial.queue.selection import QueueFilters, queue_drafts_for_user
from editorial.queue.sources import draft_sources_send_back
from editorial.revisions import revision_create
from governance.models import AuditEvent
from governance.permissions import brand_member_add
from governance.publishing.publish import draft_publish
from governance.signoffs import signoff_record
from tests.factories import UserFactory, group_with
from tests.helpers import file_brief

FACT = "Autumn Ember is roasted in Huila for 14 minutes."
OTHER = "Brew it with care."
CONTENT = f"## Part 1\n\n{FACT} {OTHER}"


def link(document, sentence: str, *, matched: bool = True) -> dict:
    start = CONTENT.index(sentence)
    return {"section": "Part 1", "start": start, "end": start + len(sentence), "chunk_id": 1,
            "document_id": document.pk, "title": document.title, "score": 0.91 if matched else 0.2,
            "supported": True, "matched": matched, "factual": True, "snippet": "roasted in Huila"}


def grounded(world, *links: dict, title: str = "Autumn roast") -> Draft:
    draft = file_brief(world, title=title)
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key=f"test:{draft.pk}:write")
    revision_create(draft=draft, content=CONTENT, author_run=run, provenance={"model": "m", "sentences": list(links)})
    Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.IN_REVIEW)
    draft.refresh_from_db()
    return draft


def approve(world, draft: Draft) -> Draft:
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    return draft


def published(world, draft: Draft) -> Draft:
    draft_publish(draft=approve(world, draft), user=world.editor)
    draft.refresh_from_db()
    return draft


@pytest.fixture
def kb(world):
    group_with("editors", "agents.add_knowledgedocument")
    world.second_editor = UserFactory(username="edna", first_name="Edna")
    world.second_editor.groups.add(group_with("editors"))
    brand_member_add(brand=world.brand, user=world.second_editor)
    world.roast = KnowledgeDocument.objects.create(brand=world.brand, title="Roast notes", body=FACT)
    world.hours = KnowledgeDocument.objects.create(brand=world.brand, title="Opening hours", body="Open daily.")
    world.pieces = {
        "draft": grounded(world, link(world.roast, FACT), title="In review"),
        "published": published(world, grounded(world, link(world.roast, FACT), title="Published")),
        "other source": grounded(world, link(world.hours, FACT), title="Other source"),
        "weak match": grounded(world, link(world.roast, FACT, matched=False), title="Weak match"),
        "rewritten": grounded(world, link(world.roast, FACT), title="Rewritten"),
    }
    rewritten = world.pieces["rewritten"]
    draft_edit(draft=rewritten, user=world.editor, base_revision_id=rewritten.current_revision_id,
               content=CONTENT.replace(FACT, "Autumn Ember is a dark roast."))
    return world


def flagged_titles() -> set[str]:
    return set(SourceChange.objects.filter(cleared_at__isnull=True).values_list("draft__title", flat=True))


def test_expiring_a_source_flags_exactly_the_pieces_whose_sentences_it_supported(kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    assert flagged_titles() == {"In review", "Published"}
    published = SourceChange.objects.get(draft__title="Published")
    assert published.kind == "expired" and published.published and published.document_title == "Roast notes"
    assert published.sentences[0]["text"] == FACT and published.sentences[0]["snippet"] == "roasted in Huila"
    assert AuditEvent.objects.filter(action="editorial.sources.flag").count() == 2


def test_the_brands_other_editors_are_told_once_and_the_outsider_and_the_actor_are_not(kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    notes = Notification.objects.filter(kind=NotificationKind.SOURCE_CHANGED)
    assert [n.user.username for n in notes] == ["edna"]
    assert "Roast notes" in notes[0].message and "2 pieces" in notes[0].message
    assert notes[0].url == reverse("agents:knowledge-document", args=[kb.brand.slug, kb.roast.pk])


def test_deleting_a_source_flags_its_pieces_and_the_flags_outlive_the_document(kb):
    knowledge.document_delete(user=kb.editor, document=kb.roast)
    assert flagged_titles() == {"In review", "Published"}
    assert set(SourceChange.objects.values_list("kind", flat=True)) == {"deleted"}
    assert not SourceChange.objects.filter(document__isnull=False).exists()


@pytest.mark.slow  # the local embedding model
def test_editing_a_sources_text_flags_its_pieces_but_renaming_it_does_not(kb):
    knowledge.document_edit(user=kb.editor, document=kb.roast, title="Roast notes (2026)", text=FACT)
    assert flagged_titles() == set()
    document = knowledge.document_edit(user=kb.editor, document=kb.roast, title="Roast notes (2026)",
                                       text="Autumn Ember is roasted in Huila for 12 minutes.")
    assert flagged_titles() == {"In review", "Published"}
    assert set(SourceChange.objects.values_list("kind", flat=True)) == {"edited"}
    assert document.chunks.get().text.endswith("12 minutes.")
    with pytest.raises(ValidationError):
        knowledge.document_edit(user=kb.editor, document=kb.roast, title="Roast notes (2026)",
                                text="Autumn Ember is roasted in Huila for 12 minutes.")
    with pytest.raises(PermissionDenied):
        knowledge.document_edit(user=kb.outsider, document=kb.roast, title="x", text="y")


def test_the_queue_filter_lists_flagged_pieces_to_the_brand_and_nothing_to_an_outsider(kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    changed = QueueFilters(sources="changed")
    assert {d.title for d in queue_drafts_for_user(user=kb.editor, tab="all", filters=changed)} == {
        "In review", "Published"}
    assert list(queue_drafts_for_user(user=kb.outsider, tab="all", filters=changed)) == []


def test_sending_back_is_audited_through_the_transition_and_the_flag_clears_after_approval_again(kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    published = kb.pieces["published"]
    revision = draft_sources_send_back(draft=published, user=kb.editor)
    published.refresh_from_db()
    assert published.status == Draft.Status.IN_REVIEW and published.current_revision == revision
    assert "Roast notes" in published.status_reason
    event = AuditEvent.objects.get(action="editorial.sources.send_back")
    assert event.data["status"] == ["published", "in_review"]
    assert revision.provenance["review_reset"]["sources"][0]["title"] == "Roast notes"
    assert "Published" in flagged_titles()  # still flagged until it is approved again
    approve(kb, published)
    assert flagged_titles() == {"In review"}
    assert AuditEvent.objects.filter(action="editorial.sources.clear", object_id=str(published.pk)).exists()
    with pytest.raises(ValidationError):  # nothing left to send back for
        draft_sources_send_back(draft=published, user=kb.editor)


def test_an_outsider_cannot_send_another_brands_piece_back(kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    with pytest.raises(PermissionDenied):
        draft_sources_send_back(draft=kb.pieces["draft"], user=kb.outsider)
    assert Draft.objects.get(pk=kb.pieces["draft"].pk).current_revision.number == 1


# --- pages -------------------------------------------------------------------------------------

def test_the_documents_page_lists_its_pieces_with_the_sentences_and_flags(client, kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    client.force_login(kb.editor)
    page = client.get(reverse("agents:knowledge-document", args=[kb.brand.slug, kb.roast.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "In review" in html and "Published" in html and "Weak match" not in html and "Rewritten" not in html
    assert FACT in html and "Sources changed" in html and "Send 2 flagged pieces back to review" in html


def test_a_reviewer_sees_the_pieces_but_cannot_edit_the_document(client, kb):
    client.force_login(kb.brand_reviewer)
    page = client.get(reverse("agents:knowledge-document", args=[kb.brand.slug, kb.roast.pk]))
    assert page.status_code == 200 and "In review" in page.content.decode()
    assert "Edit the document" not in page.content.decode()
    edit = client.post(reverse("agents:knowledge-edit", args=[kb.brand.slug, kb.roast.pk]),
                       {"title": "x", "text": "y"})
    assert edit.status_code == 403


def test_an_outsider_gets_404_for_the_document_and_its_editor_and_a_get_to_the_editor_is_405(client, kb):
    client.force_login(kb.outsider)
    assert client.get(reverse("agents:knowledge-document", args=[kb.brand.slug, kb.roast.pk])).status_code == 404
    assert client.post(reverse("agents:knowledge-edit", args=[kb.brand.slug, kb.roast.pk]),
                       {"title": "x", "text": "y"}).status_code == 404
    client.force_login(kb.editor)
    assert client.get(reverse("agents:knowledge-edit", args=[kb.brand.slug, kb.roast.pk])).status_code == 405


def test_a_blank_edit_is_refused_with_the_form_and_nothing_changes(client, kb):
    client.force_login(kb.editor)
    response = client.post(reverse("agents:knowledge-edit", args=[kb.brand.slug, kb.roast.pk]),
                           {"title": "Roast notes", "text": "   "})
    assert response.status_code == 422 and "The document is empty" in response.content.decode()
    assert KnowledgeDocument.objects.get(pk=kb.roast.pk).body == FACT and not SourceChange.objects.exists()


def test_the_desk_marks_flagged_rows_and_filters_them(client, kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    client.force_login(kb.editor)
    html = client.get(reverse("editorial:queue") + "?tab=all&sources=changed").content.decode()
    assert html.count('class="pill sources-changed"') == 2 and "Other source" not in html
    client.force_login(kb.outsider)
    html = client.get(reverse("editorial:queue") + "?tab=all&sources=changed").content.decode()
    assert 'class="pill sources-changed"' not in html and "<tr data-draft" not in html


def test_the_queue_api_filters_and_counts_open_flags(client, kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    client.force_login(kb.editor)
    items = client.get("/api/v1/queue?sources=changed").json()["items"]
    assert {(i["title"], i["sources_changed"]) for i in items} == {("In review", 1), ("Published", 1)}
    assert client.get("/api/v1/queue?sources=maybe").status_code == 422
    client.force_login(kb.outsider)
    assert client.get("/api/v1/queue?sources=changed").json()["items"] == []


def test_the_bulk_action_from_the_documents_page_sends_the_flagged_pieces_back(client, kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    client.force_login(kb.editor)
    ids = [kb.pieces["draft"].pk, kb.pieces["published"].pk]
    confirm = client.post(reverse("editorial:queue-bulk"), {"action": "sources_review", "ids": ids})
    assert confirm.status_code == 200 and "In review" in confirm.content.decode()
    done = client.post(reverse("editorial:queue-bulk"), {"action": "sources_review", "ids": ids, "confirm": "yes"},
                       follow=True)
    assert "2 sent back to review" in done.content.decode()
    assert AuditEvent.objects.filter(action="editorial.sources.send_back").count() == 2


def test_the_draft_page_shows_the_sources_changed_banner_with_its_action(client, kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    client.force_login(kb.editor)
    html = client.get(reverse("editorial:draft", args=[kb.pieces["published"].pk])).content.decode()
    assert 'id="sources-changed"' in html and "Roast notes" in html and "Send back to review" in html
    html = client.get(reverse("editorial:draft", args=[kb.pieces["weak match"].pk])).content.decode()
    assert 'id="sources-changed"' not in html


def test_the_api_draft_counts_its_open_flags_and_the_admin_lists_them_read_only(client, admin_client, kb):
    knowledge.document_expire(user=kb.editor, document=kb.roast)
    client.force_login(kb.editor)
    assert client.get(f"/api/v1/drafts/{kb.pieces['draft'].pk}").json()["sources_changed"] == 1
    assert client.get(f"/api/v1/drafts/{kb.pieces['other source'].pk}").json()["sources_changed"] == 0
    flag = SourceChange.objects.first()
    assert admin_client.get("/admin/editorial/sourcechange/").status_code == 200
    assert admin_client.get(f"/admin/editorial/sourcechange/{flag.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/editorial/sourcechange/{flag.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_document_whose_expiry_date_passes_flags_its_pieces_once_on_the_sweep(kb):
    from datetime import timedelta

    from django.utils import timezone

    from editorial.sourceflags import documents_expired_sweep

    knowledge.document_set_expiry(user=kb.editor, document=kb.roast, expires_at=timezone.now() + timedelta(days=1))
    assert documents_expired_sweep() == [] and flagged_titles() == set()
    # Uploaded with an expiry date that has passed since (no person expired it).
    KnowledgeDocument.objects.filter(pk=kb.hours.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    hours_piece = grounded(kb, link(kb.hours, FACT), title="Hours piece")
    assert documents_expired_sweep() == [kb.hours.pk]
    assert flagged_titles() == {"Other source", "Hours piece"}
    assert AuditEvent.objects.filter(action="agents.document.expired", object_id=str(kb.hours.pk)).count() == 1
    assert documents_expired_sweep() == []
    assert SourceChange.objects.filter(draft=hours_piece).count() == 1


def test_the_sweep_leaves_a_document_a_person_expired_alone(kb):
    from datetime import timedelta

    from django.utils import timezone

    from editorial.sourceflags import documents_expired_sweep

    knowledge.document_expire(user=kb.editor, document=kb.roast)
    assert documents_expired_sweep(now=timezone.now() + timedelta(minutes=5)) == []
    assert SourceChange.objects.count() == 2


def test_beat_runs_the_expiry_sweep_through_a_registered_task(settings):
    import agents.tasks  # noqa: F401 - registers the tasks, as the worker's autodiscovery does
    from aios.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-expired-sources"]
    assert entry["task"] == "agents.sweep_expired_sources" and entry["task"] in app.tasks
