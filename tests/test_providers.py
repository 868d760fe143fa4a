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


# --- finish reasons, stop sequences and sampling overrides ----------------------------------------

def _stream(llm, mode: str = "completion", **kw) -> tuple[str, Usage]:
    usage = Usage()
    text = "".join(provider_for(version(llm.base_url, mode)).stream(
        system="", prompt="Say hello", usage=usage, **{"max_tokens": 50, **kw}))
    return text, usage


@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_the_finish_reason_is_recorded_and_a_length_cut_is_returned_not_raised(llm, mode):
    assert _stream(llm, mode)[1].finish_reason == "stop"
    text, usage = _stream(llm, mode, max_tokens=3)
    assert usage.finish_reason == "length" and len(text.split()) == 3


@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_a_stream_without_a_finish_reason_is_a_transient_error(llm, mode):
    llm.interrupt_next(1, after_tokens=2)
    with pytest.raises(ProviderError) as caught:
        _stream(llm, mode)
    assert not caught.value.permanent
    assert str(caught.value) == "The model stream ended without a finish reason (interrupted)."


def test_stop_sequences_reach_the_server_after_the_versions_own(llm):
    llm.heading_next()
    v = version(llm.base_url, "completion")
    v.parameters = {"temperature": 0, "stop": "\n\n"}
    usage = Usage()
    text = "".join(provider_for(v).stream(system="", prompt="p", max_tokens=50, usage=usage, stop=["\n## ", "\n\n"]))
    assert llm.requests[-1]["stop"] == ["\n\n", "\n## "]
    assert text == "Our autumn roast is back in every shop. " and usage.finish_reason == "stop"
    _stream(llm)
    assert "stop" not in llm.requests[-1]  # none configured, none given: none sent


def test_sampling_overrides_apply_to_one_call_only(llm):
    _stream(llm, overrides={"temperature": 1.1, "seed": 7})
    assert (llm.requests[-1]["temperature"], llm.requests[-1]["seed"]) == (1.1, 7)
    _stream(llm)
    assert llm.requests[-1]["temperature"] == 0 and "seed" not in llm.requests[-1]
    with pytest.raises(ValueError, match="max_tokens"):
        _stream(llm, overrides={"max_tokens": 5})


def test_calls_to_one_endpoint_share_the_process_client_and_a_forked_process_builds_its_own(monkeypatch):
    """Building a client loads the CA bundle (tens of milliseconds per call before); a pool process
    forked from a parent must never reuse the parent's sockets."""
    from agents.calls import providers

    first = providers.openai_client(base_url="http://127.0.0.1:9/v1", api_key="k", timeout=5)
    assert providers.openai_client(base_url="http://127.0.0.1:9/v1", api_key="k", timeout=5) is first
    assert providers.openai_client(base_url="http://127.0.0.1:8/v1", api_key="k", timeout=5) is not first
    assert providers.openai_client(base_url="http://127.0.0.1:9/v1", api_key="k", timeout=9) is not first
    monkeypatch.setattr(providers.os, "getpid", lambda: -1)
    assert providers.openai_client(base_url="http://127.0.0.1:9/v1", api_key="k", timeout=5) is not first
