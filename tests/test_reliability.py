"""A pipeline that survives faults: retries, limits, the circuit breaker, fallback, stale runs, SIGKILL."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from agents.calls import breaker, budgets, guarded
from agents.calls.backoff import backoff_delay
from agents.models import AgentRun, BreakerState, ModelVersion, RunSection, SpendDay
from agents.pipeline.recovery import runs_sweep_stale
from agents.pipeline.kinds import run_execute
from agents.pipeline.steps import pipeline_retry
from editorial.models import Draft, Revision
from governance.models import AuditEvent
from tests.helpers import drive, file_brief
from tests.llm_server import LLMServer, token_numbers

pytestmark = pytest.mark.slow


@pytest.fixture
def model_at(settings, llm):
    settings.AIOS_LLM_BASE_URL = llm.base_url
    settings.AIOS_LLM_MODEL = "test-model"
    settings.AIOS_LLM_MODE = "completion"
    settings.AIOS_CALL_RETRY_BASE = 0.01  # keep in-call backoff short; its shape is tested below
    return llm


@pytest.fixture
def second_llm():
    server = LLMServer(tokens_per_second=400, tokens_per_reply=12).start()
    yield server
    server.stop()


def requests_for(llm: LLMServer, part: int) -> list[dict]:
    return [r for r in llm.requests if f"## Part {part}\n" in r["prompt"]]


def test_celery_is_set_up_so_a_lost_worker_loses_no_task(settings):
    from agents.tasks import run_step
    from aios.celery import app

    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    options = conf.broker_transport_options
    assert options["visibility_timeout"] > conf.task_time_limit  # never delivered twice while still running
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10
    assert conf.beat_schedule["sweep-stale-runs"]["task"] == "agents.sweep_stale_runs"
    assert run_step.acks_late and run_step.reject_on_worker_lost


# --- transient and permanent errors --------------------------------------------------------------

def test_a_stream_that_stalls_times_out_and_the_section_is_written_again_from_scratch(world, model_at, settings):
    settings.AIOS_LLM_TIMEOUT = 0.5
    model_at.stall_after_tokens = 3

    done = threading.Event()

    def unstall() -> None:  # only the first stream stalls (plan and retrieve come first: no deadline)
        while not model_at.sent_tokens and not done.is_set():
            time.sleep(0.01)
        time.sleep(0.05)
        model_at.stall_after_tokens = None

    threading.Thread(target=unstall, daemon=True).start()
    draft = file_brief(world)
    try:
        drive(draft)
    finally:
        done.set()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert len(requests_for(model_at, 1)) == 2 and len(requests_for(model_at, 2)) == 1
    stalled = {int(t.strip()[1:]) for t, _ in model_at.sent_tokens[:3]}
    content = draft.current_revision.content
    assert stalled and not stalled & set(token_numbers(content))  # the broken try left nothing behind
    writer = draft.runs.get(kind="write")
    assert writer.attempt_count == 1 and writer.sections.get(index=0).tokens_out == 12


def test_a_429_is_retried_after_the_retry_after_it_names(world, model_at, monkeypatch):
    waits: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(guarded.time, "sleep", lambda s: (waits.append(s), real_sleep(s)))
    model_at.fail_next(1, status=429, body="slow down", retry_after=0.3)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert len(waits) == 1 and 0.3 <= waits[0] <= 0.34
    assert len(requests_for(model_at, 1)) == 2


def test_a_long_retry_after_goes_back_to_the_queue_for_that_long_instead_of_blocking_the_worker(world, model_at):
    model_at.fail_next(1, status=429, body="come back later", retry_after=120)
    draft = file_brief(world)
    retries = drive(draft, max_steps=3)
    writer = draft.runs.get(kind="write")
    assert [round(r.countdown) for r in retries] == [120]
    assert writer.status == AgentRun.Status.QUEUED and "retrying in 120s" in writer.error
    assert len(model_at.requests) == 1


def test_a_storm_of_500s_shorter_than_the_retries_is_ridden_out(world, model_at):
    model_at.fail_next(2, status=500, body="storm")
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert len(requests_for(model_at, 1)) == 3
    world.model_version.refresh_from_db()
    assert world.model_version.breaker_state == BreakerState.CLOSED and world.model_version.breaker_failures == 0


def test_a_malformed_stream_chunk_is_a_transient_error(world, model_at):
    model_at.malformed_next(1, after_tokens=2)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert len(requests_for(model_at, 1)) == 2
    section = draft.runs.get(kind="write").sections.get(index=0)
    assert len(section.text.split()) == 12  # only the good try's tokens


def test_a_stream_without_a_finish_reason_is_written_again_from_scratch(world, model_at):
    model_at.interrupt_next(1, after_tokens=2)  # llama.cpp ends a stream this way when interrupted
    draft = file_brief(world)
    retries = drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW and not retries  # retried inside the call
    assert len(requests_for(model_at, 1)) == 2
    cut = {int(t.strip()[1:]) for t, _ in model_at.sent_tokens[:2]}
    section = draft.runs.get(kind="write").sections.get(index=0)
    assert not cut & set(token_numbers(section.text)) and len(token_numbers(section.text)) == 12
    world.model_version.refresh_from_db()
    assert world.model_version.breaker_failures == 0  # the retry's success reset the count


def _call(world, **kw) -> guarded.CallResult:
    run = AgentRun.objects.create(draft=file_brief(world), kind="write", status="running",
                                  idempotency_key=f"call:{time.monotonic_ns()}", model_version=world.model_version)
    deltas: list[str] = []
    result = guarded.generate(run=run, system="", prompt="## Part 1\n", tokens_used=0, deadline=None,
                              on_reset=deltas.clear, on_delta=deltas.append, **{"max_tokens": 50, **kw})
    assert "".join(deltas) == result.text
    return result


def test_the_guarded_call_reports_the_finish_reason_and_returns_a_length_cut(world, model_at):
    assert _call(world).finish_reason == "stop"
    cut = _call(world, max_tokens=4)
    assert cut.finish_reason == "length" and len(cut.text.split()) == 4 and len(model_at.requests) == 2


def test_stop_and_sampling_overrides_reach_the_server_and_are_part_of_the_cache_key(world, model_at):
    model_at.heading_next()
    first = _call(world, stop=["\n## "])
    assert first.text == "Our autumn roast is back in every shop. " and first.finish_reason == "stop"
    assert model_at.requests[-1]["stop"] == ["\n## "]
    assert _call(world, stop=["\n## "]).cache_hit  # the same call again: from the cache
    assert not _call(world).cache_hit  # without the stop sequence: another key
    varied = _call(world, stop=["\n## "], overrides={"seed": 3})
    assert not varied.cache_hit and model_at.requests[-1]["seed"] == 3
    warm = _call(world, overrides={"temperature": 0.9})
    assert not warm.cache_hit and not _call(world, overrides={"temperature": 0.9}).cache_hit  # not deterministic
    assert len(model_at.requests) == 5


def test_a_reply_cut_at_max_tokens_is_not_cached(world, model_at):
    assert not _call(world, max_tokens=4).cache_hit
    assert not _call(world, max_tokens=4).cache_hit
    assert len(model_at.requests) == 2


def test_an_unknown_provider_is_a_configuration_error_that_fails_at_once(world, model_at):
    ModelVersion.objects.filter(pk=world.model_version.pk).update(provider="carrier-pigeon")
    draft = file_brief(world)
    retries = drive(draft)
    draft.refresh_from_db()
    writer = draft.runs.get(kind="write")
    assert not retries and writer.attempt_count == 1 and draft.status == Draft.Status.FAILED
    assert "Unknown provider 'carrier-pigeon'" in draft.status_reason
    assert not model_at.requests


def test_backoff_grows_exponentially_with_jitter_and_retry_after_wins():
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 10.0)]:
        delays = {backoff_delay(attempt, base=0.5, cap=10.0) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 40  # jittered
    assert backoff_delay(0, retry_after=7.0, base=0.5, cap=10.0) == 7.0
    assert backoff_delay(0, retry_after=70.0, base=0.5, cap=10.0) == 10.0  # honoured up to the cap


# --- per-run limits -------------------------------------------------------------------------------

def test_the_output_token_limit_lowers_max_tokens_so_the_run_never_passes_it(world, model_at):
    ModelVersion.objects.filter(pk=world.model_version.pk).update(max_run_tokens=15)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert [r["max_tokens"] for r in model_at.requests] == [15, 3]
    writer = draft.runs.get(kind="write")
    assert sum(s.tokens_out for s in writer.sections.all()) == 15
    # Three tokens make no section: the run stops at its limit rather than send a stub to review.
    assert draft.status == Draft.Status.FAILED and "output limit of 15 tokens" in draft.status_reason
    assert writer.sections.get(index=1).tries[0]["finish_reason"] == "length"


def test_a_run_out_of_output_tokens_with_sections_left_fails_with_the_reason(world, model_at):
    ModelVersion.objects.filter(pk=world.model_version.pk).update(max_run_tokens=12)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.FAILED
    # The 12 tokens ran out mid-way through the first section ("length"), so both are still to write.
    assert "output limit of 12 tokens" in draft.status_reason and "2 section(s) still to write" in draft.status_reason
    assert len(model_at.requests) == 1


def test_a_run_past_its_time_limit_fails_between_deltas(world, model_at):
    model_at.tokens_per_second = 8  # 12 tokens: 1.5 s per section
    ModelVersion.objects.filter(pk=world.model_version.pk).update(max_run_seconds=1)
    draft = file_brief(world)
    started = time.monotonic()
    retries = drive(draft)
    draft.refresh_from_db()
    assert not retries and draft.status == Draft.Status.FAILED
    assert "longer than its time limit of 1 s" in draft.status_reason
    assert time.monotonic() - started < 5
    assert not Revision.objects.filter(draft=draft).exists()


# --- circuit breaker ------------------------------------------------------------------------------

def test_the_breaker_opens_after_consecutive_failures_and_is_audited(world, settings):
    settings.AIOS_BREAKER_THRESHOLD = 3
    mv = world.model_version
    for _ in range(2):
        breaker.breaker_record_failure(mv, reason="503")
    mv.refresh_from_db()
    assert (mv.breaker_state, mv.breaker_failures) == (BreakerState.CLOSED, 2)
    breaker.breaker_record_success(mv)  # consecutive: a success in between starts the count again
    for _ in range(3):
        breaker.breaker_record_failure(mv, reason="503")
    mv.refresh_from_db()
    assert mv.breaker_state == BreakerState.OPEN and mv.breaker_opened_at is not None
    assert not breaker.breaker_allow(mv)
    event = AuditEvent.objects.get(action="agents.breaker.open", object_id=str(mv.pk))
    assert event.data["to"] == "open" and "3 consecutive failed calls" in event.data["reason"]


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker(world, settings):
    settings.AIOS_BREAKER_COOLDOWN_SECONDS = 30
    mv = world.model_version
    ModelVersion.objects.filter(pk=mv.pk).update(
        breaker_state=BreakerState.OPEN, breaker_failures=5, breaker_opened_at=timezone.now() - timedelta(seconds=31))
    assert breaker.breaker_allow(mv) is True
    mv.refresh_from_db()
    assert mv.breaker_state == BreakerState.HALF_OPEN
    assert breaker.breaker_allow(mv) is False  # the probe is in flight: nobody else goes
    breaker.breaker_record_success(mv)
    mv.refresh_from_db()
    assert (mv.breaker_state, mv.breaker_failures) == (BreakerState.CLOSED, 0)
    assert list(AuditEvent.objects.filter(object_id=str(mv.pk), action__startswith="agents.breaker.")
                .order_by("id").values_list("action", flat=True)) == ["agents.breaker.half_open", "agents.breaker.closed"]


def test_a_failed_probe_opens_the_breaker_again_for_another_cool_down(world):
    mv = world.model_version
    ModelVersion.objects.filter(pk=mv.pk).update(breaker_state=BreakerState.HALF_OPEN, breaker_opened_at=timezone.now())
    breaker.breaker_record_failure(mv, reason="timeout")
    mv.refresh_from_db()
    assert mv.breaker_state == BreakerState.OPEN and not breaker.breaker_allow(mv)
    assert AuditEvent.objects.get(action="agents.breaker.open").data["reason"] == "the probe failed: timeout"


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_concurrent_callers_becomes_the_probe(settings):
    from tests.factories import build_world

    world = build_world()
    mv = world.model_version
    ModelVersion.objects.filter(pk=mv.pk).update(
        breaker_state=BreakerState.OPEN, breaker_opened_at=timezone.now() - timedelta(hours=1))
    barrier = threading.Barrier(8)
    answers: list[bool] = []

    def caller() -> None:
        try:
            version = ModelVersion.objects.get(pk=mv.pk)
            barrier.wait()
            answers.append(breaker.breaker_allow(version))
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [False] * 7 + [True]


def test_an_open_breaker_sends_the_run_to_the_fallback_version_and_provenance_says_so(world, model_at, second_llm):
    fallback = ModelVersion.objects.create(name="Fallback model", base_url=second_llm.base_url, model="test-model",
                                           mode="completion", parameters={"temperature": 0.7})
    primary = world.model_version
    ModelVersion.objects.filter(pk=primary.pk).update(
        fallback=fallback, breaker_state=BreakerState.OPEN, breaker_opened_at=timezone.now())
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    writer = draft.runs.get(kind="write")
    assert (writer.model_version_id, writer.fallback_from_id) == (fallback.pk, primary.pk)
    assert not model_at.requests and len(second_llm.requests) == 2
    prov = draft.current_revision.provenance
    assert prov["fallback_from"] == {"id": primary.pk, "name": primary.name}
    assert prov["model_version"]["id"] == fallback.pk


def test_a_failing_version_opens_its_breaker_mid_run_and_the_run_finishes_on_the_fallback(
        world, model_at, second_llm, settings):
    settings.AIOS_BREAKER_THRESHOLD = 2
    fallback = ModelVersion.objects.create(name="Fallback model", base_url=second_llm.base_url, model="test-model",
                                           mode="completion")
    ModelVersion.objects.filter(pk=world.model_version.pk).update(fallback=fallback)
    model_at.set_down(True)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    writer = draft.runs.get(kind="write")
    assert writer.fallback_from_id == world.model_version.pk and writer.attempt_count == 1
    assert len(second_llm.requests) == 2
    assert AuditEvent.objects.filter(action="agents.breaker.open", object_id=str(world.model_version.pk)).exists()


def test_when_no_version_works_the_draft_needs_a_human_and_can_be_retried(world, model_at, second_llm, settings):
    settings.AIOS_BREAKER_THRESHOLD = 2
    fallback = ModelVersion.objects.create(name="Fallback model", base_url=second_llm.base_url, model="test-model",
                                           mode="completion")
    ModelVersion.objects.filter(pk=world.model_version.pk).update(fallback=fallback)
    model_at.set_down(True)
    second_llm.set_down(True)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.NEEDS_HUMAN
    assert "Settings model, Fallback model" in draft.status_reason and "503" in draft.status_reason
    assert not AgentRun.objects.filter(draft=draft, status__in=["queued", "running"]).exists()  # not spinning

    # A person brings the server back and retries: the retry probes at once, no cool-down to sit out.
    model_at.set_down(False)
    pipeline_retry(draft=draft, user=world.editor)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert AuditEvent.objects.filter(action="agents.breaker.probe_requested", actor_user=world.editor).count() == 2
    world.model_version.refresh_from_db()
    assert world.model_version.breaker_state == BreakerState.CLOSED


# --- stale runs -----------------------------------------------------------------------------------

def _stuck_write(world, *, attempts: int) -> AgentRun:
    draft = file_brief(world)
    return AgentRun.objects.create(
        draft=draft, kind="write", status="running", attempt_count=attempts, idempotency_key=f"stuck:{draft.pk}",
        model_version=world.model_version, heartbeat_at=timezone.now() - timedelta(minutes=10))


def test_the_sweeper_requeues_a_run_whose_worker_died(world, django_capture_on_commit_callbacks, monkeypatch):
    from agents.pipeline import recovery

    enqueued: list[tuple[int, str]] = []
    monkeypatch.setattr(recovery, "enqueue_run", lambda run_id, queue: enqueued.append((run_id, queue)))
    run = _stuck_write(world, attempts=1)
    bulk = _stuck_write(world, attempts=1)
    Draft.objects.filter(pk=bulk.draft_id).update(run_queue="bulk")  # a batch's draft
    held = budgets.budget_reserve(brand=world.brand, amount=Decimal("0.25"), run_id=run.pk)
    fresh = _stuck_write(world, attempts=1)
    AgentRun.objects.filter(pk=fresh.pk).update(heartbeat_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        result = runs_sweep_stale()
    run.refresh_from_db()
    # Each goes back to its draft's queue: a batch's run must not jump ahead of interactive work.
    assert result == {"requeued": [run.pk, bulk.pk], "failed": []}
    assert enqueued == [(run.pk, "default"), (bulk.pk, "bulk")]
    assert run.status == "queued" and "stopped responding" in run.error
    assert run.reserved_cost == 0 and SpendDay.objects.get(brand=world.brand, day=held.day).reserved == 0
    assert AgentRun.objects.get(pk=fresh.pk).status == "running"


def test_the_sweeper_fails_a_run_that_lost_its_worker_too_often_with_the_reason(world, settings):
    settings.AIOS_RUN_MAX_TAKEOVERS = 3
    run = _stuck_write(world, attempts=3)
    Draft.objects.filter(pk=run.draft_id).update(status=Draft.Status.GENERATING)
    assert runs_sweep_stale() == {"requeued": [], "failed": [run.pk]}
    run.refresh_from_db()
    draft = Draft.objects.get(pk=run.draft_id)
    assert run.status == "failed" and draft.status == Draft.Status.FAILED
    assert "worker stopped responding 3 times" in draft.status_reason


def test_a_worker_whose_run_was_taken_over_stops_writing(world, model_at, monkeypatch, settings):
    """The sweeper gave the run to another worker (new attempt number): the old one must not go on."""
    from agents.pipeline import writer as writer_module

    model_at.tokens_per_second = 40
    # A takeover needs a heartbeat older than the stale limit; the writer beats at most every tenth of
    # it, so with a 0.1 s limit every flush re-checks the fence, as a stalled worker's next flush would.
    settings.AIOS_RUN_STALE_SECONDS = 0.1
    draft = file_brief(world)
    drive(draft, max_steps=2)  # plan, retrieve
    writer = draft.runs.get(kind="write")

    real_flush_update = writer_module.run_heartbeat
    taken = {"done": False}

    def heartbeat(run, **kwargs):
        if not taken["done"] and RunSection.objects.filter(run=run, index=0).exclude(text="").exists():
            taken["done"] = True
            AgentRun.objects.filter(pk=run.pk).update(attempt_count=run.attempt_count + 1)  # another claim
        return real_flush_update(run, **kwargs)

    monkeypatch.setattr(writer_module, "run_heartbeat", heartbeat)
    assert run_execute(run_id=writer.pk) is None
    writer.refresh_from_db()
    assert writer.status == "running" and not writer.sections.filter(done=True).exists()
    assert len(model_at.requests) == 1


def test_a_streaming_writer_beats_at_most_once_per_window_and_still_finds_a_takeover(world):
    """Each flush checkpoints the text; the heartbeat UPDATE that goes with it is skipped within the
    window (the claim itself wrote one), and the next one outside it still raises ClaimLost when
    another worker claimed the run."""
    from django.test.utils import CaptureQueriesContext

    from agents.pipeline.runs import ClaimLost, run_claim, run_heartbeat

    draft = file_brief(world)
    run = run_claim(run_id=draft.runs.get(kind="plan").pk)
    with CaptureQueriesContext(connection) as after_claim:
        run_heartbeat(run, unless_within=60)
    with CaptureQueriesContext(connection) as outside:
        run_heartbeat(run, unless_within=0)
    with CaptureQueriesContext(connection) as again:
        run_heartbeat(run, unless_within=60)
    assert len(after_claim) == 0 and len(outside) == 1 and len(again) == 0
    AgentRun.objects.filter(pk=run.pk).update(attempt_count=run.attempt_count + 1)  # another claim
    run_heartbeat(run, unless_within=60)  # within the window: not asked
    with pytest.raises(ClaimLost):
        run_heartbeat(run, unless_within=0)


# --- SIGKILL of a real worker mid-write -------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_write_is_resumed_by_a_new_worker_from_the_last_finished_section(services):
    """kill -9 of the worker's whole process group while it streams section 3 of 4; a new worker
    (and beat, so the stale-run sweeper runs) resumes: sections 1–2 are not requested again,
    section 3 is written again from scratch, every section once in the one revision."""
    from aios import devstack
    from tests.factories import build_world

    base = Path(__file__).resolve().parent.parent
    world = build_world(sections=4)
    llm = LLMServer(tokens_per_second=25, tokens_per_reply=16).start()  # 0.64 s per section
    logdir = Path(tempfile.mkdtemp(prefix="aios-kill-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/test_aios?host={services.pg_dir}",
        "REDIS_URL": services.redis_url,
        "AIOS_LLM_BASE_URL": llm.base_url,
        "AIOS_LLM_MODEL": "test-model",
        "AIOS_LLM_MODE": "completion",
        # Embeddings from the test server: the worker need not load a local model (keeps this test fast).
        "AIOS_EMBEDDINGS": llm.base_url,
        "AIOS_STREAM_FLUSH_SECONDS": "0.02",
        "AIOS_RUN_STALE_SECONDS": "3",
        "AIOS_SWEEP_SECONDS": "1",
        "PYTHONPATH": str(base),
    }
    procs = []
    logs = [open(logdir / name, "wb") for name in ("a.log", "b.log")]  # noqa: SIM115 - closed in finally
    try:
        first = devstack.spawn(devstack.worker_args(concurrency=1), env=env, log=logs[0])
        procs.append(first)
        devstack.wait_celery_worker(env, proc=first, timeout=60)
        draft = file_brief(world)

        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            third = RunSection.objects.filter(run__draft=draft, index=2).first()
            if third is not None and len(third.text.split()) >= 3:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the worker never reached section 3")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(5)
        writer = AgentRun.objects.get(draft=draft, kind="write")
        assert writer.status == "running"
        assert list(writer.sections.values_list("done", flat=True)) == [True, True, False, False]
        done_texts = list(writer.sections.filter(done=True).values_list("text", flat=True))

        second = devstack.spawn(devstack.worker_args(concurrency=1), env=env, log=logs[1])
        procs.append(second)
        procs.append(devstack.spawn(devstack.beat_args(schedule=logdir / "beat"), env=env, log=logs[1]))
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            draft.refresh_from_db()
            if draft.status != Draft.Status.GENERATING:
                break
            time.sleep(0.1)
        assert draft.status == Draft.Status.IN_REVIEW, draft.status_reason

        assert [len(requests_for(llm, part)) for part in (1, 2, 3, 4)] == [1, 1, 2, 1]
        writer.refresh_from_db()
        assert writer.status == "succeeded" and writer.attempt_count == 2
        assert AgentRun.objects.filter(draft=draft, kind="write").count() == 1
        assert RunSection.objects.filter(run__draft=draft).count() == 4
        assert Revision.objects.filter(draft=draft).count() == 1
        content = draft.current_revision.content
        assert [content.count(f"## Part {i}\n") for i in (1, 2, 3, 4)] == [1, 1, 1, 1]
        assert all(text in content for text in done_texts)
        numbers = token_numbers(content)
        assert len(numbers) == 64 and len(set(numbers)) == 64  # 4 × 16 tokens, none twice, no half-try
        # The killed worker's reservation for its call in flight was given back; every call was costed.
        spend = SpendDay.objects.get(brand=world.brand)
        assert spend.reserved == 0 and writer.reserved_cost == 0 and spend.spent >= writer.cost > 0
    finally:
        for proc in procs:
            devstack.stop(proc)
        for log in logs:
            log.close()
        llm.stop()
        for name in ("a.log", "b.log"):
            path = logdir / name
            text = path.read_text(errors="replace") if path.exists() else ""
            if "Traceback" in text:
                sys.stderr.write(f"\n--- {name} ---\n{text[-4000:]}\n")
        shutil.rmtree(logdir, ignore_errors=True)
