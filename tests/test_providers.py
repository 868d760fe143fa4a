from __future__ import annotations

import pytest

from agents.models import ModelVersion
from agents.calls.providers import ProviderError, Usage, provider_for


def version(base_url: str, mode: str) -> ModelVersion:
    return ModelVersion(name="v", base_url=base_url, model="test-model", mode=mode, parameters={"temperature": 0})


@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_both_modes_stream_text_and_report_usage(llm, mode):
    usage = Usage()
    chunks = list(provider_for(version(llm.base_url, mode)).stream(
        system="Be brief.", prompt="Say hello", max_tokens=5, usage=usage))
    assert len(chunks) == 5 and all(c.startswith("w") for c in chunks)
    assert usage.completion_tokens == 5 and usage.prompt_tokens == 4
    body = llm.requests[-1]
    if mode == "chat":
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        assert body["prompt"] == "Be brief.\n\nSay hello"


def test_rate_limits_are_transient_and_carry_retry_after(llm):
    llm.fail_next(1, status=429, retry_after=7)
    with pytest.raises(ProviderError) as caught:
        list(provider_for(version(llm.base_url, "completion")).stream(system="", prompt="x", max_tokens=3, usage=Usage()))
    assert not caught.value.permanent and caught.value.retry_after == 7


def test_bad_requests_are_permanent(llm):
    llm.fail_next(1, status=400, body="prompt too long")
    with pytest.raises(ProviderError) as caught:
        list(provider_for(version(llm.base_url, "chat")).stream(system="", prompt="x", max_tokens=3, usage=Usage()))
    assert caught.value.permanent and "prompt too long" in str(caught.value)


def test_an_unreachable_server_is_transient():
    with pytest.raises(ProviderError) as caught:
        list(provider_for(version("http://127.0.0.1:9/v1", "chat")).stream(system="", prompt="x", max_tokens=3,
                                                                          usage=Usage()))
    assert not caught.value.permanent and "Could not reach" in str(caught.value)


def test_the_api_key_comes_from_the_named_environment_variable(monkeypatch, llm):
    monkeypatch.setenv("VENDOR_KEY", "sk-from-env")
    v = version(llm.base_url, "chat")
    v.api_key_env = "VENDOR_KEY"
    assert provider_for(v).client.api_key == "sk-from-env"
