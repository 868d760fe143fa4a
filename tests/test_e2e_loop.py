"""The whole loop on the real stack: embedded PostgreSQL and Valkey, a Celery worker process, the
ASGI server, a streaming OpenAI-compatible test server, a WebSocket client watching progress,
approvals by the right people, and a CMS receiver that verifies Standard Webhooks signatures."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from agents.models import RunSection
from agents.knowledge import document_ingest
from editorial.models import Draft
from governance.models import AuditEvent, Delivery
from tests.conftest import csrf_token
from tests.factories import build_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class Receiver:
    """A CMS that fails the first delivery, then accepts; it verifies every signature."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                receiver.received.append({"headers": headers, "body": body, "verified": verified})
                ok = verified and len(receiver.received) > 1
                answer = json.dumps({"id": "cms-1", "url": "https://cms.example/p/1"} if ok else {"error": "later"})
                self.send_response(200 if ok else (500 if verified else 401))
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


def ws_url(stack, draft_id: int) -> str:
    return stack.url.replace("http://", "ws://") + f"/ws/drafts/{draft_id}/"


def follow(stack, client, draft_id: int, *, until: str, timeout: float = 90) -> list[dict]:
    """Collect the draft's events over a real WebSocket until a status event `until`."""
    events: list[dict] = []
    with connect(ws_url(stack, draft_id), origin=stack.url,
                 additional_headers={"Cookie": f"sessionid={client.cookies['sessionid']}"}) as ws:
        # Subscribed: anything that happened before is in the database, anything after on the socket.
        status = Draft.objects.get(pk=draft_id).status
        if status in (until, "failed"):
            return [{"kind": "status", "status": status}]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            events.append(event)
            if event.get("kind") == "status" and event.get("status") in (until, "failed"):
                return events
    raise AssertionError(f"no {until!r} status within {timeout}s; got {events[-3:]}")


def assemble(events: list[dict]) -> dict[int, str]:
    """Rebuild each section's text from the streamed deltas, as the browser does."""
    texts: dict[int, str] = {}
    for e in events:
        if e.get("kind") != "run" or "section" not in e:
            continue
        if e.get("reset"):
            texts[e["section"]] = ""
        if "delta" in e:
            have = texts.setdefault(e["section"], "")
            assert e["offset"] <= len(have), "a delta arrived after a gap"
            texts[e["section"]] = have + e["delta"][len(have) - e["offset"]:]
    return texts


def sign(stack, client, draft_id: int, gate_id: int, revision_id: int) -> str:
    page = client.get(f"/drafts/{draft_id}/")
    response = client.post(f"/drafts/{draft_id}/gates/{gate_id}/", data={
        "decision": "approve", "revision": revision_id, "comment": "", "csrfmiddlewaretoken": csrf_token(page.text)})
    assert response.status_code == 200
    return response.text


def test_a_brief_is_drafted_live_reviewed_approved_and_delivered_to_a_cms(live_stack, transactional_db):
    receiver = Receiver()
    world = build_world(connector_url=receiver.url)
    receiver.secret = world.connector.secret
    document_ingest(brand=world.brand, title="Roast facts", body="Autumn Ember is a medium-dark roast from Huila.")

    rita = live_stack.client("rita")
    form = rita.get("/briefs/new/")
    response = rita.post("/briefs/new/", data={
        "csrfmiddlewaretoken": csrf_token(form.text), "brand": world.brand.pk, "title": "Autumn Ember is back",
        "goal": "Announce the return of Autumn Ember", "audience": "coffee lovers", "channel": "blog",
        "tone": "warm", "risk": "high", "template": world.template.pk,
    })
    assert response.status_code == 200 and "/drafts/" in str(response.url)
    draft = Draft.objects.get()
    assert draft.status == Draft.Status.GENERATING

    events = follow(live_stack, rita, draft.pk, until="in_review")
    assert events[-1]["status"] == "in_review", events[-1]
    progress = [e for e in events if "delta" in e]
    assert progress, "no tokens were streamed to the WebSocket client"
    assert all(e["sections_total"] == 2 for e in progress)
    tokens = [e["tokens"] for e in progress]
    assert tokens == sorted(tokens) and tokens[-1] > 0
    streamed = assemble(events)
    draft.refresh_from_db()
    writer = draft.runs.get(kind="write")
    for section in RunSection.objects.filter(run=writer):
        if section.index in streamed:  # every section the client saw from its start matches the checkpoint
            assert streamed[section.index].strip() == section.text
    assert draft.current_revision.content.count("## Part") == 2

    # approvals by the right people; the editor cannot sign legal
    eddie, bree, lena = (live_stack.client(n) for n in ("eddie", "bree", "lena"))
    rev = draft.current_revision_id
    assert "Editorial: approve recorded." in sign(live_stack, eddie, draft.pk, world.gates["editorial"].pk, rev)
    assert "You cannot sign the Legal gate." in sign(live_stack, eddie, draft.pk, world.gates["legal"].pk, rev)
    sign(live_stack, bree, draft.pk, world.gates["brand"].pk, rev)
    sign(live_stack, lena, draft.pk, world.gates["legal"].pk, rev)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED

    page = eddie.get(f"/drafts/{draft.pk}/")
    published = eddie.post(f"/drafts/{draft.pk}/publish/", data={"csrfmiddlewaretoken": csrf_token(page.text)})
    assert "Published. Sending to Test CMS." in published.text

    deadline = time.monotonic() + 30  # the first attempt fails; the retry comes 5 s later
    delivery = Delivery.objects.get(draft=draft)
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status == Delivery.Status.DELIVERED:
            break
        time.sleep(0.3)
    assert delivery.status == Delivery.Status.DELIVERED, list(delivery.attempts.values())
    assert [a.status_code for a in delivery.attempts.all()] == [500, 200]
    assert (delivery.remote_id, delivery.remote_url) == ("cms-1", "https://cms.example/p/1")
    assert len(receiver.received) == 2 and all(r["verified"] for r in receiver.received)
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1  # stable across retries
    payload = json.loads(receiver.received[-1]["body"])["data"]
    content = draft.current_revision.content
    assert payload["content"] == content
    assert payload["content_sha256"] == hashlib.sha256(content.encode()).hexdigest()
    manifest = payload["provenance"]["manifest"]
    assert manifest["generation"]["model"] == "test-model" and manifest["sources"]
    assert manifest["content"]["sha256"] == payload["content_sha256"]

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"editorial.brief.create", "agents.run.write.succeed", "editorial.draft.ready_for_review",
            "governance.gate.approve", "governance.draft.publish", "governance.delivery.delivered"} <= actions


def test_an_outsider_cannot_subscribe_to_a_drafts_progress(live_stack, transactional_db):
    world = build_world()
    from tests.helpers import draft_in_review

    draft = draft_in_review(world)
    otto = live_stack.client("otto")
    with pytest.raises(InvalidStatus):
        with connect(ws_url(live_stack, draft.pk), origin=live_stack.url,
                     additional_headers={"Cookie": f"sessionid={otto.cookies['sessionid']}"}):
            pass
    with pytest.raises(InvalidStatus):  # and nobody gets in without a session
        with connect(ws_url(live_stack, draft.pk), origin=live_stack.url):
            pass


def test_a_model_server_that_is_down_shows_the_reason_and_offers_retry(live_stack, transactional_db):
    world = build_world()
    live_stack.llm.set_down(True)
    try:
        rita = live_stack.client("rita")
        form = rita.get("/briefs/new/")
        rita.post("/briefs/new/", data={
            "csrfmiddlewaretoken": csrf_token(form.text), "brand": world.brand.pk, "title": "Doomed",
            "goal": "x", "audience": "y", "channel": "blog", "tone": "warm", "risk": "low",
            "template": world.template.pk,
        })
        draft = Draft.objects.get()
        follow(live_stack, rita, draft.pk, until="needs_human", timeout=120)
    finally:
        live_stack.llm.set_down(False)
    draft.refresh_from_db()
    # Repeated failures opened the version's circuit breaker; with no fallback a person decides.
    assert draft.status == Draft.Status.NEEDS_HUMAN and draft.current_revision is None
    eddie = live_stack.client("eddie")
    page = eddie.get(f"/drafts/{draft.pk}/").text
    assert "Generation stopped." in page and "503" in page and "Retry from the failed step" in page
    assert "circuit breaker is open" in page
    retried = eddie.post(f"/drafts/{draft.pk}/retry/", data={"csrfmiddlewaretoken": csrf_token(page)})
    assert "Retrying from the step that failed." in retried.text
    follow(live_stack, eddie, draft.pk, until="in_review", timeout=60)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW and draft.current_revision is not None


def test_healthz_reports_every_part_up(live_stack, transactional_db):
    import httpx

    from tests.conftest import LIVE_HEALTH_TOKEN

    assert httpx.get(live_stack.url + "/healthz", timeout=10).json() == {"ok": True}
    response = httpx.get(live_stack.url + "/healthz", headers={"Authorization": f"Bearer {LIVE_HEALTH_TOKEN}"},
                         timeout=10)
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "workers", "model_server"}
    assert all(check["ok"] for check in body["checks"].values())


def test_publishing_to_the_built_in_demo_cms_shows_a_verified_receipt(live_stack, transactional_db):
    from aios.demo_cms.models import DemoReceipt
    from tests.helpers import draft_in_review

    world = build_world()
    world.connector.url = f"{live_stack.url}/demo/receiver/{world.connector.pk}/"
    world.connector.save()
    draft = draft_in_review(world)
    eddie = live_stack.client("eddie")
    sign(live_stack, eddie, draft.pk, world.gates["editorial"].pk, draft.current_revision_id)
    page = eddie.get(f"/drafts/{draft.pk}/")
    eddie.post(f"/drafts/{draft.pk}/publish/", data={"csrfmiddlewaretoken": csrf_token(page.text)})
    delivery = Delivery.objects.get(draft=draft)
    deadline = time.monotonic() + 20
    while delivery.status != Delivery.Status.DELIVERED and time.monotonic() < deadline:
        time.sleep(0.2)
        delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED, list(delivery.attempts.values())
    assert delivery.attempts.get().latency_ms < 5000  # no waiting on our own locks
    receipt = DemoReceipt.objects.get()
    assert receipt.verified and delivery.remote_id == f"demo-{receipt.pk}"
    assert "Signature verified" in eddie.get("/demo/receiver/").text

    # a forged delivery is refused and shown as such
    import httpx

    forged = httpx.post(world.connector.url, content=receipt.body.replace("Hello", "Goodbye"),
                        headers={**receipt.headers, "content-type": "application/json"})
    assert forged.status_code == 401
    assert DemoReceipt.objects.filter(verified=False).count() == 1
    assert "Signature rejected" in eddie.get("/demo/receiver/").text
