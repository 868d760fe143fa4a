"""The desk queue: my queue per role, team queues, filters, search, paging, claiming and bulk actions."""
from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.models import AgentRun
from editorial.assignments import AlreadyClaimed, draft_assign, draft_claim, draft_unassign
from editorial.models import Draft
from editorial.queue import selection
from editorial.queue.gates import gate_rules_for_user, open_gates_for
from editorial.queue.selection import QueueFilters, queue_drafts_for_user
from editorial.revisions import revision_create
from governance.gates import gate_states, get_actions
from governance.models import AuditEvent, Finding, Gate, SignOff, Stage
from governance.signoffs import signoff_record
from tests.factories import PASSWORD, build_world
from tests.helpers import file_brief

QUEUE = reverse("editorial:queue")
BULK = reverse("editorial:queue-bulk")
_titles = itertools.count(1)


def make(world, *, risk="low", channel="blog", title=None, status=Draft.Status.IN_REVIEW,
         content="## Part 1\n\nHello coffee lovers.", hours_waiting=1.0) -> Draft:
    """A draft with one revision, in `status`, waiting there for `hours_waiting`."""
    draft = file_brief(world, risk=risk, channel=channel, title=title or f"Item {next(_titles)}")
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key=f"test:{draft.pk}:write")
    revision_create(draft=draft, content=content, author_run=run)
    Draft.objects.filter(pk=draft.pk).update(
        status=status, status_changed_at=timezone.now() - timedelta(hours=hours_waiting))
    draft.refresh_from_db()
    return draft


def sign(world, draft, gate, user, decision="approve", comment=""):
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates[gate], user=user, decision=decision,
                   revision_id=draft.current_revision_id, comment=comment)
    draft.refresh_from_db()
    return draft


def mine(world, who, **filters) -> list[int]:
    drafts = queue_drafts_for_user(user=world.user(who), filters=QueueFilters(**filters))
    return sorted(drafts.values_list("pk", flat=True))


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-draft="(\d+)"', response.content.decode())]


# --- my queue, per role -------------------------------------------------------------------------

def test_an_editor_sees_drafts_awaiting_editorial_and_not_those_past_it(world):
    waiting = make(world, risk="medium")
    past = sign(world, make(world, risk="medium"), "editorial", world.editor)
    make(world, status=Draft.Status.PUBLISHED)
    assert mine(world, "editor") == [waiting.pk]
    assert past.status == Draft.Status.IN_REVIEW


def test_a_brand_reviewer_sees_an_item_only_once_editorial_approved_it(world):
    draft = make(world, risk="medium")
    low = make(world, risk="low")
    assert mine(world, "brand_reviewer") == []
    sign(world, draft, "editorial", world.editor)
    sign(world, low, "editorial", world.editor)  # low risk: no brand gate, and now approved
    assert mine(world, "brand_reviewer") == [draft.pk]
    assert mine(world, "legal") == []  # legal only applies from high risk
    sign(world, draft, "brand", world.brand_reviewer)
    assert mine(world, "brand_reviewer") == []


def test_a_requester_sees_what_was_sent_back_on_their_briefs(world):
    back = sign(world, make(world), "editorial", world.editor, "request_changes", "Too long.")
    rejected = sign(world, make(world), "editorial", world.editor, "reject", "Off brand.")
    make(world)  # in review: nothing for the requester to do
    assert back.status == Draft.Status.CHANGES_REQUESTED and rejected.status == Draft.Status.REJECTED
    assert mine(world, "requester") == sorted([back.pk, rejected.pk])


def test_items_assigned_to_someone_are_in_their_queue_until_finished(world):
    draft = make(world, status=Draft.Status.NEEDS_HUMAN)
    draft_assign(draft=draft, user=world.editor, assignee=world.legal)
    assert mine(world, "legal") == [draft.pk]
    Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.PUBLISHED)
    assert mine(world, "legal") == []


def test_an_outsider_sees_nothing_of_the_brand(as_user, world):
    draft = make(world, title="Northwind secret roast")
    for tab in ("mine", "all"):
        response = as_user("outsider").get(QUEUE, {"tab": tab})
        assert response.status_code == 200
        assert draft.title not in response.content.decode()
    assert queue_drafts_for_user(user=world.outsider, tab="all").count() == 0


def test_the_queue_page_shows_my_queue_most_urgent_first(as_user, world):
    old_low = make(world, risk="low", hours_waiting=80)
    new_high = make(world, risk="high", hours_waiting=2)
    old_high = make(world, risk="high", hours_waiting=30)
    response = as_user("editor").get(QUEUE)
    assert row_ids(response) == [old_high.pk, new_high.pk, old_low.pk]
    page = response.content.decode()
    assert "sla-red" in page and "sla-amber" in page and "sla-ok" in page
    assert 'gate-pill yours' in page  # the editorial gate, which eddie signs


def test_each_gate_the_user_signs_has_a_team_queue(as_user, world):
    draft = sign(world, make(world, risk="high"), "editorial", world.editor)
    legal = world.gates["legal"]
    response = as_user("legal").get(QUEUE)
    assert f"?tab=gate-{legal.pk}" in response.content.decode()
    assert row_ids(as_user("legal").get(QUEUE, {"tab": f"gate-{legal.pk}"})) == [draft.pk]
    # a gate the user does not sign is no tab of theirs
    response = as_user("legal").get(QUEUE, {"tab": f"gate-{world.gates['brand'].pk}"})
    assert "Ignored the unknown queue" in response.content.decode()


# --- the SQL twin of gate_states ------------------------------------------------------------------

def test_the_queue_agrees_with_gate_states_on_which_gates_are_open(world):
    """Open gates computed in SQL for the queue = gate_states() + get_actions() in Python, over
    revisions, re-opened approvals, answered change requests, soft gates, channels and findings."""
    wf = world.workflow
    s1 = Stage.objects.get(workflow=wf, order=1)
    s3 = Stage.objects.create(workflow=wf, order=3, name="Final")
    seo = Gate.objects.create(stage=s1, name="SEO", slug="seo", group=world.gates["brand"].group, kind="soft",
                              channels=["blog"])
    claims = Gate.objects.create(stage=s3, name="Claims", slug="claims", group=world.gates["legal"].group,
                                 min_risk="high", finding_categories=["claims"], reapprove_on_change=False)
    gates = [world.gates["editorial"], world.gates["brand"], world.gates["legal"], seo, claims]
    roles = ["editor", "brand_reviewer", "legal"]
    histories = [
        [],
        [("editorial", "approve", "current")],
        [("editorial", "approve", "old")],
        [("editorial", "request_changes", "old")],
        [("editorial", "request_changes", "current")],
        [("editorial", "approve", "current"), ("brand", "approve", "current"), ("legal", "reject", "current")],
        [("editorial", "approve", "current"), ("brand", "approve", "current"), ("legal", "approve", "old")],
        [("editorial", "approve", "current"), ("brand", "approve", "current"), ("legal", "approve", "current")],
        [("editorial", "approve", "current"), ("claims", "approve", "old")],
        [("editorial", "approve", "old"), ("editorial", "approve", "current"), ("seo", "approve", "old")],
    ]
    by_slug = {g.slug: g for g in gates}
    drafts = []
    for risk, channel, history, finding in itertools.product(
        ("low", "medium", "high"), ("blog", "social"), histories, (False, True)
    ):
        draft = make(world, risk=risk, channel=channel)
        old = draft.current_revision
        current = revision_create(draft=draft, content="Second take.", author_user=world.editor)
        for slug, decision, which in history:
            SignOff.objects.create(draft=draft, gate=by_slug[slug], user=world.editor, decision=decision,
                                   revision=current if which == "current" else old)
        if finding:
            Finding.objects.create(revision=current, category="claims", severity="warning", message="A claim.")
        draft.refresh_from_db()
        drafts.append(draft)
    sql = open_gates_for([d.pk for d in drafts], gate_rules_for_user(world.editor))
    queues = {role: set(mine(world, role)) for role in roles}
    checked = 0
    for draft in drafts:
        states = gate_states(draft)
        expected = [s.gate.pk for s in states if s.status == "pending"]
        assert [g.id for g in sql.get(draft.pk, [])] == expected, (draft.brief.risk, draft.brief.channel)
        checked += bool(expected)
        for role in roles:
            can_act = any(get_actions(draft, s, world.user(role), blocking=[]) for s in states)
            assert (draft.pk in queues[role]) is can_act, (role, draft.brief.risk, draft.brief.channel)
    assert checked > len(drafts) // 3


# --- filters, search, paging ----------------------------------------------------------------------

def test_filters_narrow_the_queue(world):
    blog = make(world, channel="blog", risk="high")
    social = make(world, channel="social", risk="low", hours_waiting=100)
    published = make(world, channel="blog", status=Draft.Status.PUBLISHED)
    draft_assign(draft=social, user=world.editor, assignee=world.brand_reviewer)

    def ids(**filters):
        qs = queue_drafts_for_user(user=world.editor, tab="all", filters=QueueFilters(**filters))
        return sorted(qs.values_list("pk", flat=True))

    assert ids(channel="social") == [social.pk]
    assert ids(risk="high") == [blog.pk]
    assert ids(status="published") == [published.pk]
    assert ids(assignee="bree") == [social.pk]
    assert ids(assignee="none") == sorted([blog.pk, published.pk])
    assert ids(older_than_hours=72) == [social.pk]
    assert ids(template="blog-post") == sorted([blog.pk, social.pk, published.pk])
    assert ids(brand="northwind", channel="blog", status="in_review") == [blog.pk]
    assert ids(model=world.model_version.pk + 999) == []


def test_search_finds_titles_and_the_current_text_only(world):
    by_title = make(world, title="Saffron latte is back")
    by_text = make(world, content="Our new roast has notes of saffron and honey.")
    edited_away = make(world, content="A saffron special.")
    revision_create(draft=edited_away, content="A cinnamon special.", author_user=world.editor)
    make(world, content="Nothing to see.")
    assert mine(world, "editor", q="saffron") == sorted([by_title.pk, by_text.pk])
    assert mine(world, "editor", q="cinnamon") == [edited_away.pk]
    assert mine(world, "editor", q="zanzibar") == mine(world, "editor", q="the") == []  # nothing; only a stop word


def test_a_common_word_is_searched_by_walking_the_queue_with_the_same_results(world, monkeypatch):
    by_title = make(world, title="Saffron latte is back")
    by_text = make(world, content="Our new roast has notes of saffron and honey.")
    edited_away = make(world, content="A saffron special.")
    revision_create(draft=edited_away, content="A cinnamon special.", author_user=world.editor)
    def sql() -> str:
        return str(queue_drafts_for_user(user=world.editor, tab="all", filters=QueueFilters(q="saffron")).query)

    rare = mine(world, "editor", q="saffron")
    assert "= ANY(" in sql() and "EXISTS" not in sql()  # read from the indexes into a list of ids
    monkeypatch.setattr(selection, "SEARCH_COMMON_ABOVE", -1)  # every word counts as common now
    assert "EXISTS" in sql()  # tested row by row as the queue is walked
    assert mine(world, "editor", q="saffron") == rare == sorted([by_title.pk, by_text.pk])


def test_unknown_filter_values_are_ignored_with_a_note(as_user, world):
    draft = make(world)
    response = as_user("editor").get(QUEUE, {"status": "bogus", "channel": "fax", "age": "soon", "sort": "random",
                                             "after": "nonsense", "brand": "acme"})
    page = response.content.decode()
    assert response.status_code == 200 and row_ids(response) == [draft.pk]
    for note in ("unknown status “bogus”", "unknown channel “fax”", "the age “soon”", "unknown sort order",
                 "page position that is not valid", "unknown brand “acme”"):
        assert note in page


def test_filtering_through_the_page_and_the_htmx_partial(as_user, world):
    make(world, channel="blog", title="Blog piece")
    social = make(world, channel="social", title="Social piece")
    client = as_user("editor")
    assert row_ids(client.get(QUEUE, {"channel": "social"})) == [social.pk]
    partial = client.get(QUEUE, {"channel": "social", "q": "social"}, HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="queue-rows")
    body = partial.content.decode()
    assert row_ids(partial) == [social.pk] and "<html" not in body and 'id="queue-rows"' in body


@pytest.mark.parametrize("search", ["", "saffron"])  # walked per risk level; sorted in one query
def test_keyset_pages_walk_forward_and_back_without_gaps(as_user, world, search):
    drafts = [make(world, risk=("high", "low", "medium")[i % 3], hours_waiting=(i * 7) % 31 + 1,
                   content="Notes of saffron.") for i in range(31)]
    other = make(world, risk="high", content="Nothing to find here.")
    if not search:
        drafts.append(other)
    client = as_user("editor")
    query = {"q": search} if search else {}
    response = client.get(QUEUE, query)
    pages = [row_ids(response)]
    while True:
        match = re.search(r'after=([\w.\-]+)" rel="next"', response.content.decode())
        if not match:
            break
        response = client.get(QUEUE, {**query, "after": match.group(1)})
        pages.append(row_ids(response))
    seen = [pk for page in pages for pk in page]
    by_pk = {d.pk: d for d in drafts}
    expected = sorted(drafts, key=lambda d: (["high", "medium", "low"].index(d.brief.risk), d.status_changed_at))
    assert seen == [d.pk for d in expected]
    assert [len(p) for p in pages] == [25, len(drafts) - 25] and set(seen) == set(by_pk)
    back = re.search(r'before=([\w.\-]+)" rel="prev"', response.content.decode()).group(1)
    assert row_ids(client.get(QUEUE, {**query, "before": back})) == pages[0]


def test_the_query_count_does_not_grow_with_the_rows(as_user, world):
    client = as_user("editor")
    make(world)
    client.get(QUEUE)
    with CaptureQueriesContext(connection) as few:
        client.get(QUEUE)
    for i in range(12):
        draft = make(world, risk=("low", "high")[i % 2])
        if i % 3 == 0:
            draft_claim(draft=draft, user=world.brand_reviewer)
    with CaptureQueriesContext(connection) as many:
        response = client.get(QUEUE)
    assert len(row_ids(response)) == 13
    assert len(many) == len(few)


# --- claim, assign, unassign ------------------------------------------------------------------------

def test_claiming_marks_the_row_and_is_audited(as_user, world):
    draft = make(world)
    client = as_user("editor")
    response = client.post(reverse("editorial:draft-claim", args=[draft.pk]), {"next": QUEUE})
    assert response.status_code == 302 and response.url == QUEUE
    draft.refresh_from_db()
    assert draft.assignee == world.editor
    assert AuditEvent.objects.filter(action="editorial.draft.claim", object_id=str(draft.pk)).exists()
    assert "You are reviewing" in client.get(QUEUE).content.decode()
    client.logout()
    page = as_user("brand_reviewer").get(QUEUE, {"tab": "all"}).content.decode()
    assert "Being reviewed by Eddie" in page


def test_claiming_an_item_someone_else_claimed_asks_first(as_user, world):
    draft = make(world)
    draft_claim(draft=draft, user=world.editor)
    with pytest.raises(AlreadyClaimed):
        draft_claim(draft=draft, user=world.brand_reviewer)
    client = as_user("brand_reviewer")
    url = reverse("editorial:draft-claim", args=[draft.pk])
    response = client.post(url, {"next": QUEUE})
    assert response.status_code == 409 and "Eddie" in response.content.decode()
    draft.refresh_from_db()
    assert draft.assignee == world.editor
    assert client.post(url, {"next": QUEUE, "force": "yes"}).status_code == 302
    draft.refresh_from_db()
    assert draft.assignee == world.brand_reviewer


def test_only_members_who_edit_or_sign_may_claim_or_assign(as_user, world):
    draft = make(world)
    with pytest.raises(Exception) as refused:
        draft_claim(draft=draft, user=world.requester)
    assert "claim" in str(refused.value)
    response = as_user("requester").post(reverse("editorial:draft-claim", args=[draft.pk]), {"next": QUEUE})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.assignee is None
    assert as_user("outsider").post(reverse("editorial:draft-claim", args=[draft.pk])).status_code == 404
    with pytest.raises(Exception, match="Choose who to assign it to."):
        draft_assign(draft=draft, user=world.editor, assignee=world.outsider)
    draft.refresh_from_db()
    assert draft.assignee is None and not AuditEvent.objects.filter(action__startswith="editorial.draft.").exists()


def test_assign_and_unassign_through_the_views(as_user, world):
    draft = make(world)
    client = as_user("brand_reviewer")  # signs the brand gate of this workflow
    response = client.post(reverse("editorial:draft-assign", args=[draft.pk]), {"assignee": "lena", "next": QUEUE})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.assignee == world.legal
    client.post(reverse("editorial:draft-unassign", args=[draft.pk]), {"next": QUEUE})
    draft.refresh_from_db()
    assert draft.assignee is None
    actions = list(AuditEvent.objects.filter(object_id=str(draft.pk), action__startswith="editorial.draft.")
                   .order_by("id").values_list("action", "data"))
    assert actions == [("editorial.draft.assign", {"assignee": [None, "lena"]}),
                       ("editorial.draft.unassign", {"assignee": ["lena", None]})]
    assert draft_unassign(draft=draft, user=world.editor).assignee is None  # twice is harmless


def test_a_claim_nudges_open_queues_of_the_brand(transactional_db):
    world = build_world()
    draft = make(world)
    from django.test import Client

    def connect_as(user):
        client = Client()
        client.force_login(user)
        return [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1"),
                (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]

    async def scenario() -> tuple[bool, bool, dict]:
        from channels.db import database_sync_to_async

        from aios.asgi import application

        headers = database_sync_to_async(connect_as)
        outsider = WebsocketCommunicator(application, "/ws/queue/", headers=await headers(world.outsider))
        member = WebsocketCommunicator(application, "/ws/queue/", headers=await headers(world.legal))
        anonymous = WebsocketCommunicator(application, "/ws/queue/",
                                          headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1")])
        anonymous_ok, _ = await anonymous.connect()
        member_ok, _ = await member.connect()
        await outsider.connect()
        await database_sync_to_async(draft_claim)(draft=draft, user=world.editor)
        event = await member.receive_json_from(timeout=5)
        outsider_quiet = await outsider.receive_nothing(timeout=0.3)
        await member.disconnect()
        await outsider.disconnect()
        return anonymous_ok, member_ok and outsider_quiet, event

    anonymous_ok, member_ok, event = async_to_sync(scenario)()
    assert not anonymous_ok and member_ok
    assert event == {"kind": "assignee", "draft": draft.pk, "assignee": "eddie"}


# --- bulk actions ---------------------------------------------------------------------------------

def test_bulk_approve_asks_to_confirm_then_reports_each_row(as_user, world):
    ok = [make(world, risk="medium") for _ in range(3)]
    sent_back = sign(world, make(world), "editorial", world.editor, "request_changes", "No.")
    client = as_user("editor")
    ids = [d.pk for d in ok] + [sent_back.pk]
    confirm = client.post(BULK, {"ids": ids, "action": "approve", "next": QUEUE})
    assert confirm.status_code == 200 and "Confirm: approve 4" in confirm.content.decode()
    assert SignOff.objects.filter(decision="approve").count() == 0
    revisions = {f"rev-{d.pk}": d.current_revision_id for d in ok + [sent_back]}
    response = client.post(BULK, {"ids": ids, "action": "approve", "next": QUEUE, "confirm": "yes", **revisions},
                           follow=True)
    text = response.content.decode()
    assert f"3 approved, 1 skipped: “{sent_back.title}” — it is “Changes requested”, not in review" in text
    assert SignOff.objects.filter(decision="approve", gate=world.gates["editorial"]).count() == 3
    sent_back.refresh_from_db()
    assert sent_back.status == Draft.Status.CHANGES_REQUESTED


def test_bulk_send_back_needs_a_reason_and_skips_rows_the_user_cannot_sign(as_user, world):
    mine_ = make(world, risk="medium")
    past_editorial = sign(world, make(world, risk="medium"), "editorial", world.editor)
    client = as_user("editor")
    data = {"ids": [mine_.pk, past_editorial.pk], "action": "send_back", "next": QUEUE, "confirm": "yes"}
    response = client.post(BULK, data, follow=True)
    assert "a reason is required" in response.content.decode()
    assert not SignOff.objects.filter(decision="request_changes").exists()
    response = client.post(BULK, {**data, "reason": "Needs sources."}, follow=True)
    assert "1 sent back, 1 skipped" in response.content.decode()
    assert "none of its open gates is yours to sign" in response.content.decode()
    mine_.refresh_from_db()
    past_editorial.refresh_from_db()
    assert mine_.status == Draft.Status.CHANGES_REQUESTED and mine_.status_reason == "Needs sources."
    assert past_editorial.status == Draft.Status.IN_REVIEW


def test_bulk_assign_refuses_rows_outside_the_users_brands(as_user, world):
    draft = make(world)
    theirs = make(world)
    Draft.objects.filter(pk=theirs.pk).update(brand=world.other_brand)
    response = as_user("editor").post(
        BULK, {"ids": [draft.pk, theirs.pk], "action": "assign", "assignee": "bree", "confirm": "yes"}, follow=True)
    assert f"1 assigned to Bree, 1 skipped: #{theirs.pk} — not found" in response.content.decode()
    draft.refresh_from_db()
    theirs.refresh_from_db()
    assert draft.assignee == world.brand_reviewer and theirs.assignee is None


def test_bulk_actions_without_rows_say_so(as_user, world):
    response = as_user("editor").post(BULK, {"action": "approve", "next": QUEUE}, follow=True)
    assert "Select at least one item first; nothing was changed." in response.content.decode()
    response = as_user("editor").post(BULK, {"ids": [make(world).pk], "action": "explode"}, follow=True)
    assert "Choose what to do with the selected items" in response.content.decode()


def test_next_never_leaves_the_site(as_user, world):
    response = as_user("editor").post(BULK, {"action": "approve", "next": "https://evil.example/"})
    assert response.url == QUEUE


# --- methods ------------------------------------------------------------------------------------

@pytest.mark.parametrize("route", ["editorial:draft-claim", "editorial:draft-assign", "editorial:draft-unassign"])
def test_claim_routes_refuse_get(as_user, world, route):
    draft = make(world)
    assert as_user("editor").get(reverse(route, args=[draft.pk])).status_code == 405


def test_bulk_refuses_get_and_the_queue_refuses_post(as_user, world):
    client = as_user("editor")
    assert client.get(BULK).status_code == 405
    assert client.post(QUEUE).status_code == 405


def test_anonymous_visitors_are_sent_to_login(client, world):
    assert client.get(QUEUE).status_code == 302
    assert client.post(BULK, {"ids": [1], "action": "approve"}).status_code == 302


# --- in a browser: keys, and a claim appearing without a reload ------------------------------------

@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.browser
def test_the_queue_in_a_browser_keys_and_live_claims(live_stack, page, monkeypatch):
    from pathlib import Path

    from playwright.sync_api import expect

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread
    world = build_world()
    first = make(world, risk="high", title="Harvest notes", hours_waiting=80)
    second = make(world, risk="low", title="Grinder guide", hours_waiting=30)
    page.goto(live_stack.url + "/login/")
    page.get_by_label("Username").fill("eddie")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    rows = page.locator("#queue-rows tbody tr")
    expect(rows).to_have_count(2)
    page.wait_for_load_state("load")  # the rows are server-rendered; the key handlers come with the script

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("is-current"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("is-current"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("is-current"))
    page.keyboard.press("x")
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    # Someone else claims the second item: the queue shows it within seconds, and the tick stays.
    page.wait_for_timeout(500)  # the socket is open by now
    draft_claim(draft=second, user=world.brand_reviewer)
    expect(page.locator(f'tr[data-draft="{second.pk}"]')).to_contain_text("Being reviewed by Bree", timeout=5_000)
    expect(page.locator(f'tr[data-draft="{first.pk}"] input[name=ids]')).to_be_checked()
    shots = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / "queue.png", full_page=True)

    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(rf"/drafts/{first.pk}/$"))
