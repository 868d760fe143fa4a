"""Nothing unusable reaches review: what the pipeline does with each failure seen from llama.cpp +
Gemma 3 270M, emulated by the test server (an interrupted stream, a length cut, a continuation into
the next heading, HTML, a loop, a single token), and how a redelivered task recovers its run."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from django.utils import timezone

from agents.models import AgentRun, RunSection
from agents.pipeline.kinds import run_execute
from agents.pipeline.runs import TransientRunError, owner_id
from agents.pipeline.steps import pipeline_retry
from editorial.models import Draft
from editorial.sections import split_sections
from tests.helpers import drive, file_brief
from tests.llm_server import token_numbers

pytestmark = pytest.mark.django_db

TWO_SENTENCES = "Our autumn roast is back in every shop today. It tastes of caramel and baked apple."


def written(draft: Draft) -> list[RunSection]:
    return list(RunSection.objects.filter(run__draft=draft, run__kind="write").order_by("run_id", "index"))


def test_an_interrupted_stream_is_written_again_from_scratch(world, model_at):
    model_at.interrupt_next(1, after_tokens=2)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert len(model_at.requests) == 3  # the broken stream, its retry, the second section
    first = split_sections(draft.current_revision.content)[0].body
    assert not {0, 1} & set(token_numbers(first))  # nothing of the broken try is left


def test_a_length_cut_is_trimmed_to_its_last_sentence_and_recorded(world, model_at):
    model_at.reply_next(TWO_SENTENCES + " And the new cups are made of", finish_reason="length")
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert split_sections(draft.current_revision.content)[0].body == TWO_SENTENCES
    section = written(draft)[0]
    assert (section.finish_reason, section.trimmed, len(section.tries)) == ("length", True, 1)
    recorded = draft.current_revision.provenance["sections"][0]
    assert recorded["finish_reason"] == "length" and recorded["trimmed"] is True


def test_a_continuation_into_the_next_heading_is_stopped_there(world, model_at):
    model_at.heading_next()
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert "\n#" in model_at.requests[0]["stop"]
    sections = split_sections(draft.current_revision.content)
    assert [s.heading for s in sections] == ["Part 1", "Part 2"]
    assert sections[0].body == "Our autumn roast is back in every shop."


def test_html_is_rejected_and_the_section_written_again_with_other_sampling(world, model_at):
    model_at.html_next()
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert "<p>" not in draft.current_revision.content
    section = written(draft)[0]
    assert [t["problems"] for t in section.tries] == [["contains HTML markup"], []]
    first, second = model_at.requests[0], model_at.requests[1]
    assert second["temperature"] != first.get("temperature") and "seed" in second
    tries = draft.current_revision.provenance["sections"][0]["tries"]
    assert tries[0]["problems"] == ["contains HTML markup"] and tries[1]["problems"] == []


@pytest.mark.parametrize("token", ["The", "#", "---"])
def test_a_single_token_never_becomes_a_section(world, model_at, token):
    model_at.single_token_next(token)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert [len(s.tries) for s in written(draft)] == [2, 1]
    assert all(len(s.body.split()) >= 5 for s in split_sections(draft.current_revision.content))


def test_a_section_unusable_after_every_try_makes_the_draft_need_a_human(world, model_at, settings):
    settings.AIOS_SECTION_TRIES = 3
    model_at.loop_next(3)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.NEEDS_HUMAN and draft.current_revision is None
    assert draft.status_reason.startswith("The write step failed: Section 1 “Part 1” was not usable after 3 tries: "
                                          "repeats the sentence")
    section = written(draft)[0]
    assert not section.done and section.text.startswith("The roast is back.") and len(section.tries) == 3
    assert section.problems and all(t["problems"] for t in section.tries)
    # One click writes the failed section again; a person said to try once more.
    requests = len(model_at.requests)
    pipeline_retry(draft=draft, user=world.editor)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert len(model_at.requests) == requests + 2  # the failed section and the one never reached


# --- a redelivered task and its run's owner --------------------------------------------------------

def _claimed_write(world, *, owner: str, errors: int = 0) -> AgentRun:
    draft = file_brief(world)
    drive(draft, max_steps=2)  # plan, retrieve
    writer = draft.runs.get(kind="write")
    AgentRun.objects.filter(pk=writer.pk).update(status="running", attempt_count=1, error_count=errors,
                                                 claimed_by=owner, heartbeat_at=timezone.now())
    return writer


def test_a_redelivered_task_takes_over_at_once_when_the_owner_process_is_gone(world, model_at):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    writer = _claimed_write(world, owner=f"{socket.gethostname()}:{dead.stdout.strip()}")
    run = run_execute(run_id=writer.pk)
    writer.refresh_from_db()
    assert run is not None and writer.status == "succeeded" and writer.attempt_count == 2
    assert writer.claimed_by == owner_id()


def test_a_redelivered_task_retries_later_while_the_owner_may_still_be_working(world, model_at, settings):
    settings.AIOS_RUN_STALE_SECONDS = 90
    writer = _claimed_write(world, owner="another-host:4242")
    with pytest.raises(TransientRunError) as retry:
        run_execute(run_id=writer.pk)
    assert 80 <= retry.value.countdown <= 92
    writer.refresh_from_db()
    assert writer.status == "running" and writer.claimed_by == "another-host:4242" and not model_at.requests[2:]


def test_lost_workers_do_not_use_up_the_runs_model_error_attempts(world, model_at):
    writer = _claimed_write(world, owner="another-host:1")
    # Lost its worker five times (claimed five times, no model error): a model error still retries.
    AgentRun.objects.filter(pk=writer.pk).update(status="queued", attempt_count=5, error_count=0)
    model_at.fail_next(3, status=503, body="busy")
    with pytest.raises(TransientRunError):
        run_execute(run_id=writer.pk)
    writer.refresh_from_db()
    assert (writer.status, writer.error_count) == ("queued", 1)


# --- what editors and API clients see ---------------------------------------------------------------

def test_the_desk_and_the_api_say_which_section_failed_why_and_show_what_was_written(world, model_at, settings,
                                                                                       as_user):
    settings.AIOS_SECTION_TRIES = 2
    model_at.reply_next("<b>Buy</b> now <script>alert(1)</script>", n=2)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.NEEDS_HUMAN
    page = as_user("editor").get(f"/drafts/{draft.pk}/").content.decode()
    assert "Section quality" in page and "not usable after 2 tries" in page
    assert "What the last try wrote" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page  # model output is untrusted HTML
    assert "Write “Part 1” again" in page
    assert "not written yet" in page  # Part 2 was never reached: not "not usable"
    body = as_user("editor").get(f"/api/v1/drafts/{draft.pk}").json()
    first = body["sections"][0]
    assert (first["heading"], first["usable"], first["tries"]) == ("Part 1", False, 2)
    assert "contains HTML markup" in first["problems"] and "<script>" in first["text"]
    queue = as_user("editor").get("/?tab=all").content.decode()
    assert "Needs a human" in queue and "status=needs_human" in queue


def test_a_usable_section_written_after_a_refused_try_says_so(world, model_at, as_user):
    model_at.single_token_next("#")
    draft = file_brief(world)
    drive(draft)
    page = as_user("editor").get(f"/drafts/{draft.pk}/").content.decode()
    assert "usable after 2 tries" in page and "Refused tries (1)" in page and "usable, first try" in page
    body = as_user("editor").get(f"/api/v1/drafts/{draft.pk}").json()
    assert [s["tries"] for s in body["sections"]] == [2, 1]
    assert body["sections"][0]["rejected"] == [{"number": 1, "problems": ["too short (0 words; at least 5)"]}]


def test_a_brief_says_its_language_and_a_wrong_one_is_refused(world, as_user):
    client = as_user("requester")
    body = {"brand": world.brand.slug, "title": "Herbst", "goal": "Den Herbstkaffee ankündigen", "audience": "Gäste",
            "channel": "blog", "template": world.template.slug, "language": "de"}
    created = client.post("/api/v1/briefs", body, content_type="application/json")
    assert created.status_code == 201
    assert Draft.objects.get(pk=created.json()["id"]).brief.language == "de"
    brief_id = Draft.objects.get(pk=created.json()["id"]).brief_id
    assert client.get(f"/api/v1/briefs/{brief_id}").json()["language"] == "de"
    refused = client.post("/api/v1/briefs", {**body, "language": "xx"}, content_type="application/json")
    assert refused.status_code == 422 and "language" in refused.text
