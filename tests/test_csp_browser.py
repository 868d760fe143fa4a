"""The Content-Security-Policy (script-src 'self', style-src 'self', no eval) holds on the desk's pages:
in Debian's chromium, no page raises a `securitypolicyviolation` event or logs a CSP error, while a draft
streams and after. To cover a new page, add a line to PAGES."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from playwright.sync_api import Page, expect

from agents.knowledge import document_ingest
from agents.models import ModelVersion
from editorial.batches.services import batch_create
from editorial.campaigns.experiments import experiment_create
from editorial.editing import draft_edit
from editorial.models import Draft
from governance.signoffs import review_link_create, signoff_record
from tests.campaign_helpers import MASTER, approve_master, campaign_world, override_blocking, variants_written
from tests.factories import PASSWORD, UserFactory, World, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

# (who signs in, path). Placeholders: {draft} a draft in review with two revisions, {a}/{b} its
# revisions' ids, {brand} its brand's slug, {model_version} the world's model version and {other_version}
# a second one, {document} a knowledge document, {batch} a batch ready to start, {campaign} a campaign
# with its master approved, {variant} one of its variants, {segment} one of its segments, {experiment}
# an A/B experiment of two variants, {token} an outside reviewer's link to {draft}.
PAGES: list[tuple[str, str]] = [
    ("eddie", "/"),
    ("rita", "/briefs/new/"),
    ("eddie", "/drafts/{draft}/"),
    ("eddie", "/drafts/{draft}/edit/"),
    ("eddie", "/drafts/{draft}/diff/?a={a}&b={b}"),
    ("eddie", "/drafts/{draft}/diff/?a={a}&b={b}&view=side"),
    ("eddie", "/tokens/"),
    ("eddie", "/notifications/"),
    ("eddie", "/notifications/settings/"),
    ("eddie", "/knowledge/"),
    ("eddie", "/knowledge/{brand}/"),
    ("eddie", "/knowledge/{brand}/{document}/"),
    ("eddie", "/drafts/{draft}/shadow/"),
    ("eddie", "/corrections/"),
    ("eddie", "/policies/check/"),
    ("eddie", "/deliveries/dead/"),
    ("eddie", "/demo/receiver/"),
    ("eddie", "/api/v1/docs"),
    ("eddie", "/insights/"),
    ("eddie", "/insights/compare/?dimension=model_version&a={model_version}&b={other_version}"),
    ("eddie", "/campaigns/"),
    ("eddie", "/campaigns/new/"),
    ("eddie", "/campaigns/{campaign}/"),
    ("eddie", "/campaigns/variants/{variant}/"),
    ("eddie", "/campaigns/variants/{variant}/?view=side"),
    ("eddie", "/campaigns/segments/"),
    ("eddie", "/campaigns/segments/new/"),
    ("eddie", "/campaigns/segments/{segment}/"),
    ("eddie", "/campaigns/experiments/{experiment}/"),
    ("eddie", "/batches/"),
    ("eddie", "/batches/new/"),
    ("rita", "/batches/{batch}/"),
    ("root", "/admin/"),
    ("root", "/admin/agents/modelversion/"),
    ("root", "/admin/agents/modelversion/{model_version}/change/"),
    ("root", "/admin/governance/auditevent/"),
    (None, "/login/"),
    (None, "/review/{draft}/{token}/"),
]

# Reports every violation to the test, across navigations (registered before any page script runs).
REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation({page: location.pathname, directive: e.violatedDirective, blocked: e.blockedURI,
                         source: e.sourceFile, line: e.lineNumber, sample: e.sample});
});
"""


@pytest.fixture
def violations(page: Page) -> list:
    seen: list = []
    page.expose_function("__cspViolation", lambda violation: seen.append(violation))
    page.add_init_script(REPORTER)
    page.on("console", lambda msg: seen.append({"console": msg.text})
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text else None)
    return seen


def page_rows(world: World, draft: Draft) -> dict[str, int | str]:
    """The rows behind the pages that need more than a draft, made through the services. Nothing is
    enqueued meanwhile: the pages need rows, not runs, and the live worker must not write these drafts
    under the test's feet."""
    with pytest.MonkeyPatch.context() as quiet:
        quiet.setattr(transaction, "on_commit", lambda *args, **kwargs: None)
        world.editor.user_permissions.add(Permission.objects.get(codename="export_corrections"))
        document = document_ingest(brand=world.brand, title="Roast facts", body="Our autumn roast is back.")
        other = ModelVersion.objects.create(name="Shadow model", use_settings=True)
        batch = batch_create(user=world.requester, brand=world.brand, template=world.template, name="Kettles",
                             channel="blog", risk="low", language="en", mapping={}, defaults={},
                             rows=[{"title": "Kettle", "goal": "Describe the kettle", "audience": "home baristas"}])
        cw = campaign_world(world, arms=2)
        approve_master(cw)
        variants_written(cw, {"Students": MASTER.replace("crisp October", "quiet study"), "Families": MASTER})
        a, b = cw.campaign.variants.filter(segment__name="Students").order_by("arm")
        for variant in (a, b):
            override_blocking(variant.draft, world.editor)
            signoff_record(draft=variant.draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                           revision_id=variant.draft.current_revision_id)
        experiment = experiment_create(user=world.editor, campaign=cw.campaign, name="Headline test",
                                       variants=[a, b], shares=[50, 50])
        _, token = review_link_create(draft=draft, gate=world.gates["editorial"], user=world.editor,
                                      recipient="Freelance copy editor")
    return {"document": document.pk, "other_version": other.pk, "batch": batch.pk, "campaign": cw.campaign.pk,
            "variant": a.pk, "segment": cw.segments[0].pk, "experiment": experiment.pk, "token": token}


def sign_in(page: Page, url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login/)"))


def test_the_desks_pages_raise_no_csp_violation(live_stack, page: Page, violations: list):
    world = build_world(sections=3)
    UserFactory(username="root", is_staff=True, is_superuser=True)
    # Without on-commit work, like page_rows: the live worker must not write this draft meanwhile (its
    # new revision would make the outside reviewer's link below stale).
    with pytest.MonkeyPatch.context() as quiet:
        quiet.setattr(transaction, "on_commit", lambda *args, **kwargs: None)
        draft = draft_in_review(world, content="## Part 1\n\nHello coffee lovers.\n\n## Part 2\n\nA second part.")
        first = draft.current_revision_id
        draft_edit(draft=draft, user=world.editor,
                   content="## Part 1\n\nHello, coffee lovers!\n\n## Part 2\n\nA second part.",
                   note="Warmer", base_revision_id=first)
    draft.refresh_from_db()
    values = {"draft": draft.pk, "a": first, "b": draft.current_revision_id, "brand": world.brand.slug,
              "model_version": world.model_version.pk, **page_rows(world, draft)}
    header = page.request.get(live_stack.url + "/login/").headers["content-security-policy"]
    assert "script-src 'self'" in header and "unsafe-inline" not in header and "unsafe-eval" not in header
    SHOTS.mkdir(parents=True, exist_ok=True)

    signed_in_as = ""
    for who, path in PAGES:
        if who != signed_in_as:
            if who is None:
                page.context.clear_cookies()
            else:
                sign_in(page, live_stack.url, who)
            signed_in_as = who
        response = page.goto(live_stack.url + path.format(**values))
        assert response is not None and response.status == 200, (who, path, response and response.status)
        page.wait_for_load_state("networkidle")
        assert not violations, (path, violations)

    # An htmx swap: posting a comment replaces the comments panel and marks its quote in the text.
    sign_in(page, live_stack.url, "eddie")
    page.goto(live_stack.url + f"/drafts/{draft.pk}/")
    page.get_by_label("New comment").fill("Is the greeting warm enough?")
    page.locator("#new-thread").get_by_role("button", name="Comment").click()
    expect(page.locator("#comments .thread").first).to_contain_text("Is the greeting warm enough?")
    assert not violations, ("comment posted", violations)

    # While a draft is being written (WebSocket, live text, progress bar) and once it is in review.
    live_stack.llm.tokens_per_second = 12
    sign_in(page, live_stack.url, "rita")
    page.goto(live_stack.url + "/briefs/new/")
    page.get_by_label("Title").fill("Autumn Ember is back")
    page.get_by_label("Goal").fill("Announce the return of our autumn roast")
    page.get_by_label("Audience").fill("coffee lovers")
    page.get_by_label("Risk").select_option("low")
    page.get_by_role("button", name="File brief and start drafting").click()
    expect(page).to_have_url(re.compile(r"/drafts/\d+/$"))
    expect(page.locator(".live-section .live-text").first).to_contain_text(re.compile(r"w\d+"), timeout=60_000)
    assert Draft.objects.filter(status=Draft.Status.GENERATING).exists()
    assert not violations, ("streaming", violations)
    expect(page.locator("#draft-status")).to_have_text("In review", timeout=90_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SHOTS / "csp-draft-in-review.png", full_page=True)
    assert not violations, ("after streaming", violations)

    # The outside reviewer's form: refused without a reason to reject, then approved (the link is used up).
    page.context.clear_cookies()
    page.goto(live_stack.url + "/review/{draft}/{token}/".format(**values))
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Comment (required to reject)").fill("Reads well.")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    page.screenshot(path=SHOTS / "csp-external-review-done.png", full_page=True)
    assert not violations, ("outside review", violations)


def test_the_reporter_does_see_a_violation(live_stack, page: Page, violations: list):
    """The check above can fail: an inline script on one of our pages is reported."""
    page.goto(live_stack.url + "/login/")
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.x = 1";
                            document.body.appendChild(s); }""")
    page.wait_for_timeout(300)
    assert any(v.get("directive", "").startswith("script-src") for v in violations), violations
