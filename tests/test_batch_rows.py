"""The batch page's rows: every row's state (with the reason when it failed and a link to its draft
once filed), a page at a time, filtered by state with a count per state; the rows card alone for the
live refresh; access through the batch selectors."""
from __future__ import annotations

import io

import pytest
from django.urls import reverse

from agents.pipeline import runs
from editorial.batches import services
from editorial.batches.models import BatchRow
from editorial.batches.selectors import ROWS_PER_PAGE, batch_rows_for_user
from editorial.models import Draft
from editorial.revisions import revision_create
from governance.models import SignOff

DEFAULTS = {"goal": "Describe {name}", "audience": "home baristas", "tone": "warm"}


def csv_of(n: int) -> str:
    return "name,features\n" + "".join(f"Kettle {i},steel {i}\n" for i in range(1, n + 1))


@pytest.fixture
def filed(world, settings, monkeypatch, django_capture_on_commit_callbacks):
    """`filed(n, filing=k)`: a running batch of n rows whose first k rows have drafts (being written)."""
    monkeypatch.setattr(runs.app, "send_task", lambda *a, **kw: None)
    monkeypatch.setattr(services.app, "send_task", lambda *a, **kw: None)

    def make(n: int, *, filing: int):
        settings.AIOS_BULK_MAX_IN_FLIGHT = settings.AIOS_BULK_MAX_IN_FLIGHT_PER_BRAND = filing
        batch = services.batch_upload(
            user=world.requester, stream=io.BytesIO(csv_of(n).encode()), fmt="csv", brand=world.brand,
            template=world.template, name="Kettles", channel="product", risk="low", language="en",
            mapping={"title": "name"}, defaults=DEFAULTS, source_name="kettles.csv",
        )
        with django_capture_on_commit_callbacks(execute=True):
            batch = services.batch_start(user=world.requester, batch=batch)
            services.batch_feed(batch_id=batch.pk, token=batch.feeder)
        return batch
    return make


def draft_of(batch, number: int) -> Draft:
    return BatchRow.objects.get(batch=batch, number=number).draft


def set_status(batch, number: int, status: str, reason: str = "") -> Draft:
    draft = draft_of(batch, number)
    Draft.objects.filter(pk=draft.pk).update(status=status, status_reason=reason)
    return draft


def rows_url(batch, query: str = "") -> str:
    return reverse("batches:rows", args=[batch.pk]) + (f"?{query}" if query else "")


def test_each_row_shows_its_state_its_reason_and_a_link_to_its_draft(world, filed, as_user):
    batch = filed(8, filing=7)
    set_status(batch, 2, Draft.Status.IN_REVIEW)
    set_status(batch, 3, Draft.Status.NEEDS_HUMAN, "Section 2 kept repeating itself after 3 tries.")
    set_status(batch, 4, Draft.Status.FAILED, "The model server did not answer.")
    set_status(batch, 5, Draft.Status.PUBLISHED)
    approved = set_status(batch, 6, Draft.Status.APPROVED)
    revision = revision_create(draft=approved, content="## Part 1\nA kettle.", author_user=world.editor)
    SignOff.objects.create(draft=approved, revision=revision, gate=world.gates["editorial"], policy="Low-risk products",
                           decision=SignOff.Decision.APPROVE)
    BatchRow.objects.filter(batch=batch, number=7).update(status=BatchRow.Status.REFUSED, draft=None,
                                                          error="No review workflow covers this channel.")
    html = as_user("requester").get(rows_url(batch)).content.decode()

    def row(number: int) -> str:
        start = html.index(f'data-row="{number}"')
        return html[start:html.index("</tr>", start)]

    assert 'data-state="writing"' in row(1) and reverse("editorial:draft", args=[draft_of(batch, 1).pk]) in row(1)
    assert "In review" in row(2)
    assert 'data-state="human"' in row(3) and "kept repeating itself" in row(3)
    assert 'data-state="failed"' in row(4) and "did not answer" in row(4)
    assert "Published" in row(5)
    assert "Approved by policy Low-risk products" in row(6)
    assert "Refused when filed" in row(7) and "No review workflow" in row(7) and "/drafts/" not in row(7)
    assert 'data-state="waiting"' in row(8) and "<a " not in row(8)


def test_the_counts_per_state_add_up_and_a_filter_shows_only_its_rows(world, filed):
    batch = filed(10, filing=4)
    set_status(batch, 1, Draft.Status.FAILED, "boom")
    set_status(batch, 2, Draft.Status.NEEDS_HUMAN, "loop")
    set_status(batch, 3, Draft.Status.IN_REVIEW)
    view = batch_rows_for_user(user=world.requester, pk=batch.pk)
    counts = {s.key: n for s, n in view.counts}
    assert counts == {"waiting": 6, "writing": 1, "review": 1, "approved": 0, "published": 0, "human": 1,
                      "failed": 1, "cancelled": 0, "other": 0}
    assert view.total == 10 == sum(counts.values())
    failed = batch_rows_for_user(user=world.requester, pk=batch.pk, state="failed")
    assert [r.number for r in failed.page.object_list] == [1]
    assert [t["label"] for t in failed.tabs if t["current"]] == ["Failed"]
    assert "Other" not in [t["label"] for t in failed.tabs]  # shown only when some row is


def test_two_thousand_rows_come_a_page_at_a_time_within_a_state(world, filed, as_user):
    batch = filed(2000, filing=0)
    services.batch_cancel(user=world.requester, batch=batch)
    BatchRow.objects.filter(batch=batch, number__gt=1990).update(status=BatchRow.Status.PENDING)  # 10 "waiting"
    client = as_user("requester")
    first = client.get(reverse("batches:detail", args=[batch.pk])).content.decode()
    assert first.count('data-row="') == ROWS_PER_PAGE and 'data-row="51"' not in first
    assert "1–50 of 2,000" in first and "Page 1 of 40" in first
    last = client.get(rows_url(batch, "state=cancelled&page=40")).content.decode()
    assert 'data-row="1990"' in last and 'data-row="1991"' not in last and "1,951–1,990 of 1,990 cancelled" in last
    assert 'rel="prev"' in last and 'rel="next"' not in last
    waiting = client.get(rows_url(batch, "state=waiting")).content.decode()
    assert waiting.count('data-row="') == 10 and "Page 1 of" not in waiting  # one page: no pager
    assert "Waiting <span class=\"count\">10</span>" in waiting


def test_the_rows_cost_the_same_queries_for_a_page_of_two_rows_or_fifty(world, filed, as_user,
                                                                         django_assert_max_num_queries):
    small = filed(2, filing=2)
    big = filed(60, filing=60)
    client = as_user("requester")
    client.get(rows_url(small))  # the session and user are loaded: count the page alone
    with django_assert_max_num_queries(8) as few:
        client.get(rows_url(small))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(rows_url(big))


def test_an_unknown_state_is_named_and_every_row_is_shown(world, filed, as_user):
    batch = filed(3, filing=0)
    client = as_user("requester")
    response = client.get(rows_url(batch, "state=burnt"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "No row state “burnt”" in page and page.count('data-row="') == 3
    assert client.get(reverse("batches:detail", args=[batch.pk]) + "?state=burnt").status_code == 400


def test_a_page_number_past_the_end_shows_the_last_page(world, filed, as_user):
    batch = filed(60, filing=0)
    html = as_user("requester").get(rows_url(batch, "page=99")).content.decode()
    assert 'data-row="60"' in html and "Page 2 of 2" in html
    assert as_user("requester").get(rows_url(batch, "page=abc")).status_code == 200


def test_the_rows_card_alone_is_what_the_live_refresh_swaps_in(world, filed, as_user):
    batch = filed(3, filing=1)
    html = as_user("requester").get(rows_url(batch, "state=writing")).content.decode()
    assert html.lstrip().startswith('<section class="card batch-rows" id="batch-rows"') and "<html" not in html
    # It refreshes itself with the same filter and page, and its links keep working without JS.
    assert f'hx-get="{rows_url(batch, "state=writing")}"' in html
    assert f'href="{reverse("batches:detail", args=[batch.pk])}?state=failed#batch-rows"' in html


def test_the_page_without_js_filters_by_the_query(world, filed, as_user):
    batch = filed(3, filing=2)
    set_status(batch, 2, Draft.Status.FAILED, "The model server did not answer.")
    html = as_user("requester").get(reverse("batches:detail", args=[batch.pk]) + "?state=failed").content.decode()
    assert 'id="batch-progress"' in html and html.count('data-row="') == 1 and "did not answer" in html
    assert 'aria-current="page" >Failed' not in html and 'aria-current="page">Failed' in html.replace(" >", ">")


def test_a_same_brand_reviewer_sees_the_rows(world, filed, as_user):
    batch = filed(3, filing=1)
    response = as_user("brand_reviewer").get(rows_url(batch))
    assert response.status_code == 200 and response.content.decode().count('data-row="') == 3


def test_an_outsider_gets_404_for_the_rows(world, filed, as_user):
    batch = filed(3, filing=1)
    client = as_user("outsider")
    assert client.get(rows_url(batch)).status_code == 404
    assert client.get(rows_url(batch, "state=failed")).status_code == 404
    assert client.get(reverse("batches:detail", args=[batch.pk]) + "?state=failed").status_code == 404


def test_the_rows_refuse_a_wrong_method(world, filed, as_user):
    batch = filed(3, filing=1)
    response = as_user("requester").post(rows_url(batch))
    assert response.status_code == 405
    assert BatchRow.objects.filter(batch=batch, status=BatchRow.Status.PENDING).count() == 2  # nothing acted


def test_signed_out_visitors_are_sent_to_sign_in(world, filed, client):
    batch = filed(1, filing=0)
    response = client.get(rows_url(batch))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_batch_socket_tells_brand_members_and_refuses_an_outsider(transactional_db):
    """The signal the live rows listen to: the batch's progress push, over a socket that checks access
    with the same selector as the page."""
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from aios.asgi import application
    from tests.factories import build_world

    world = build_world()
    batch = services.batch_upload(
        user=world.requester, stream=io.BytesIO(csv_of(3).encode()), fmt="csv", brand=world.brand,
        template=world.template, name="Kettles", channel="product", risk="low", language="en",
        mapping={"title": "name"}, defaults=DEFAULTS, source_name="kettles.csv",
    )

    def headers(user) -> list[tuple[bytes, bytes]]:
        client = Client()
        client.force_login(user)
        return [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1"),
                (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]

    async def scenario() -> tuple[bool, bool, tuple[bool, int | None], dict]:
        path = f"/ws/batches/{batch.pk}/"
        owner = WebsocketCommunicator(application, path, headers=await database_sync_to_async(headers)(world.requester))
        reviewer = WebsocketCommunicator(application, path,
                                         headers=await database_sync_to_async(headers)(world.brand_reviewer))
        outsider = WebsocketCommunicator(application, path, headers=await database_sync_to_async(headers)(world.outsider))
        owner_ok, _ = await owner.connect()
        reviewer_ok, _ = await reviewer.connect()
        outsider_result = await outsider.connect()
        await database_sync_to_async(services.push_progress)(batch.pk)
        event = await reviewer.receive_json_from(timeout=5)
        await owner.receive_json_from(timeout=5)
        await owner.disconnect()
        await reviewer.disconnect()
        return owner_ok, reviewer_ok, outsider_result, event

    owner_ok, reviewer_ok, (outsider_ok, outsider_code), event = async_to_sync(scenario)()
    assert owner_ok and reviewer_ok
    assert not outsider_ok and outsider_code == 4404
    assert event["batch"] == batch.pk and event["pending"] == 3 and event["status"] == "ready"


def test_the_actions_card_alone_follows_the_batchs_status(world, filed, as_user):
    batch = filed(3, filing=1)  # running
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "batch-actions"}
    url = reverse("batches:detail", args=[batch.pk])
    html = as_user("requester").get(url, **headers).content.decode()
    assert html.lstrip().startswith('<section class="card" id="batch-actions"') and 'data-status="running"' in html
    assert ">Pause<" in html and 'id="batch-start"' not in html and 'data-row="' not in html
    assert as_user("brand_reviewer").get(url, **headers).content == b""  # sees the batch, may not act
    assert as_user("outsider").get(url, **headers).status_code == 404
