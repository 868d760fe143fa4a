"""One real generation from the packaged Gemma 3 270M through llama.cpp's OpenAI-compatible
server, called through the same provider (and so the same `openai` SDK path) the pipeline uses."""
from __future__ import annotations

import subprocess

import pytest

from agents.models import ModelVersion
from agents.calls.providers import Usage, provider_for
from aios import devstack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_url():
    port = devstack.free_port()
    proc = devstack.spawn(
        devstack.llama_args(port=port, model_path=devstack.gemma_model_path(), n_ctx=1024),
        env=devstack.os.environ, log=subprocess.DEVNULL,
    )
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
