"""The packaged Gemma 3 270M through llama.cpp's OpenAI-compatible server: one generation through the
provider the pipeline uses, and two briefs written at once by a real worker, as a new user gets them."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from agents.calls.providers import Usage, provider_for
from agents.models import ModelVersion, PromptTemplate
from agents.pipeline.acceptance import check_section, rules_for
from aios import devstack
from editorial.briefs import brief_create
from editorial.models import Draft
from editorial.sections import split_sections

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def llama_url():
    """The model server as the launcher starts it (devstack.llama_args: no interrupted streams)."""
    port = devstack.free_port()
    proc = devstack.spawn(devstack.llama_args(port=port, model_path=devstack.gemma_model_path()),
                          env=devstack.os.environ, log=subprocess.DEVNULL)
    try:
        devstack.wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=120, proc=proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        devstack.stop(proc)


def test_the_local_model_streams_a_short_text_through_the_sdk(llama_url):
    version = ModelVersion(name="gemma", base_url=llama_url, model="gemma-3-270m", mode="completion",
                           parameters={"temperature": 0, "stop": ["\n\n"]})
    usage = Usage()
    chunks = list(provider_for(version).stream(
        system="", prompt="The three primary colours are red, blue and", max_tokens=12, usage=usage))
    text = "".join(chunks)
    assert len(chunks) > 1, "the reply was not streamed"
    assert text.strip(), "the model wrote nothing"
    assert 0 < usage.completion_tokens <= 12 and usage.prompt_tokens > 0
    assert usage.finish_reason in ("stop", "length")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_briefs_at_once_reach_review_only_with_usable_sections(services, llama_url):
    """The demo workspace, the demo templates, a real worker with two processes writing at once
    against the real model: every section of a draft in review passes the acceptance check, and a
    draft that is not in review needs a human and says why."""
    call_command("seed_demo", password="pw", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.contrib.auth.models import User

    from governance.models import Brand

    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/test_aios?host={services.pg_dir}",
        "REDIS_URL": services.redis_url,
        "AIOS_LLM_BASE_URL": llama_url, "AIOS_LLM_MODEL": "gemma-3-270m", "AIOS_LLM_MODE": "completion",
        "AIOS_SECTION_MIN_WORDS": "20",  # the product's default, not the test server's
        "PYTHONPATH": str(BASE_DIR),
    }
    log_path = Path(tempfile.mkdtemp(prefix="aios-gemma-")) / "worker.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    worker = devstack.spawn(devstack.worker_args(concurrency=2), env=env, log=log)
    try:
        devstack.wait_celery_worker(env, proc=worker, timeout=90)
        rita, brand = User.objects.get(username="rita"), Brand.objects.get(slug="northwind")
        briefs = [("Autumn Ember is back", "Announce the return of the Autumn Ember roast", "blog", "blog-post"),
                  ("Oat milk at no extra cost", "Announce that oat milk no longer costs extra", "email",
                   "product-update")]
        drafts = [brief_create(user=rita, brand=brand, title=t, goal=g, audience="coffee lovers", channel=c,
                               tone="warm", risk="low", template=PromptTemplate.objects.get(slug=slug))
                  for t, g, c, slug in briefs]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if not Draft.objects.filter(pk__in=[d.pk for d in drafts], status=Draft.Status.GENERATING).exists():
                break
            time.sleep(1)
        else:
            pytest.fail("the drafts were still being written after 10 minutes")
        for draft in Draft.objects.filter(pk__in=[d.pk for d in drafts]).select_related("current_revision"):
            if draft.status == Draft.Status.IN_REVIEW:
                planned = {s["heading"]: s for s in draft.prompt_version.sections}
                sections = split_sections(draft.current_revision.content)
                assert [s.heading for s in sections] == list(planned)
                for section in sections:
                    rules = rules_for(planned[section.heading], language=draft.brief.language)
                    assert check_section(section.body, rules) == [], (draft.title, section.heading, section.body)
            else:
                assert draft.status == Draft.Status.NEEDS_HUMAN and draft.status_reason, (draft.status,
                                                                                           draft.status_reason)
    finally:
        devstack.stop(worker)
        log.close()
        text = log_path.read_text(errors="replace")
        if "Traceback" in text:
            sys.stderr.write(f"\n--- worker.log ---\n{text[-6000:]}\n")
