"""Checks that the fake LLM server speaks the protocol the official SDK expects.

These tests talk to ``tests/llm_server.py`` only through ``openai.OpenAI`` so a
change in either the fake or the SDK that would break the real end-to-end tests
shows up here first, with a small, obvious failure. No Django or database.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import openai
import pytest

try:  # works whether or not tests/ later becomes a package
    from tests.llm_server import EMBEDDING_DIM, FAILURE_TEXTS, LLMServer, token_numbers
except ImportError:  # pragma: no cover - depends on how pytest sets sys.path
    from llm_server import EMBEDDING_DIM, FAILURE_TEXTS, LLMServer, token_numbers

# Explicitly no marks: in particular no django_db, these tests need no database.
pytestmark: list = []


@pytest.fixture(scope="module")
def server() -> Iterator[LLMServer]:
    # A fast rate keeps the suite quick while still exercising pacing.
    srv = LLMServer(tokens_per_second=1000.0, tokens_per_reply=6).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _clean(server: LLMServer) -> Iterator[None]:
    server.reset()
    yield
    server.reset()
    server.set_down(False)


@pytest.fixture
def client(server: LLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=10)


def _assert_consecutive(numbers: list[int], count: int) -> None:
    assert len(numbers) == count
    assert numbers == list(range(numbers[0], numbers[0] + count))


def test_models_list(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["test-model"]


def test_streaming_completions_tokens_and_usage(
    server: LLMServer, client: openai.OpenAI
) -> None:
    stream = client.completions.create(
        model="some-model",
        prompt="one two three",
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: list[str] = []
    finish_reasons: list[str | None] = []
    usage = None
    for chunk in stream:
        assert chunk.model == "some-model"
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
        for choice in chunk.choices:
            texts.append(choice.text)
            finish_reasons.append(choice.finish_reason)

    text = "".join(texts)
    _assert_consecutive(token_numbers(text), 6)
    assert re.fullmatch(r"(w\d+ ){5}w\d+\. ", text)  # a reply that ends on its own ends a sentence
    assert finish_reasons[-1] == "stop"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 6, 9)

    # The request was recorded exactly as sent by the SDK.
    assert len(server.requests) == 1
    assert server.requests[0]["prompt"] == "one two three"
    assert server.requests[0]["stream"] is True
    assert [t for t, _ in server.sent_tokens] == [t for t in texts if t]


def test_streaming_max_tokens_finishes_with_length(client: openai.OpenAI) -> None:
    stream = client.completions.create(
        model="m", prompt="p", stream=True, max_tokens=2
    )
    chunks = list(stream)
    text = "".join(c.text for ch in chunks for c in ch.choices)
    assert len(token_numbers(text)) == 2
    assert chunks[-1].choices[0].finish_reason == "length"


def test_tokens_are_globally_unique(client: openai.OpenAI) -> None:
    seen: list[int] = []
    for _ in range(3):
        resp = client.completions.create(model="m", prompt="p")
        seen += token_numbers(resp.choices[0].text)
    assert len(seen) == len(set(seen)) == 18


def test_chat_streaming(server: LLMServer, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="chat-model",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    content = ""
    usage = None
    finish = None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            content += choice.delta.content or ""
            finish = choice.finish_reason or finish
    _assert_consecutive(token_numbers(content), 6)
    assert finish == "stop"
    assert usage is not None and usage.prompt_tokens == 4
    assert usage.completion_tokens == 6
    assert server.requests[0]["messages"][1]["content"] == "hello there"


def test_non_streaming(client: openai.OpenAI) -> None:
    comp = client.completions.create(model="m", prompt="a b", max_tokens=4)
    assert comp.object == "text_completion"
    assert len(token_numbers(comp.choices[0].text)) == 4
    assert comp.choices[0].finish_reason == "length"
    assert comp.usage is not None and comp.usage.total_tokens == 6

    chat = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.object == "chat.completion"
    assert chat.choices[0].message.role == "assistant"
    assert len(token_numbers(chat.choices[0].message.content or "")) == 6
    assert chat.choices[0].finish_reason == "stop"
    assert chat.usage is not None and chat.usage.prompt_tokens == 1


def test_echo_marker(client: openai.OpenAI) -> None:
    comp = client.completions.create(
        model="m", prompt="Write this: [[echo:the forbidden word]] please"
    )
    assert comp.choices[0].text == "the forbidden word "

    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "[[echo:alpha beta]]"}],
        stream=True,
    )
    deltas = [c.delta.content for ch in stream for c in ch.choices if c.delta.content]
    assert deltas == ["alpha ", "beta "]


def test_fail_next_500(server: LLMServer, client: openai.OpenAI) -> None:
    server.fail_next(1, status=500, body="kaput")
    with pytest.raises(openai.InternalServerError) as excinfo:
        client.completions.create(model="m", prompt="p", stream=True)
    assert excinfo.value.status_code == 500
    assert "kaput" in str(excinfo.value)
    # Only one failure was queued: the next request succeeds.
    ok = client.completions.create(model="m", prompt="p")
    assert len(token_numbers(ok.choices[0].text)) == 6
    # Both attempts are recorded, including the failed one.
    assert len(server.requests) == 2


def test_fail_next_429_with_retry_after(server: LLMServer, client: openai.OpenAI) -> None:
    server.fail_next(1, status=429, body="slow down", retry_after=2)
    with pytest.raises(openai.RateLimitError) as excinfo:
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert excinfo.value.status_code == 429
    assert excinfo.value.response.headers["retry-after"] == "2"


def test_set_down(server: LLMServer, client: openai.OpenAI) -> None:
    server.set_down(True)
    with pytest.raises(openai.APIStatusError) as excinfo:
        client.models.list()
    assert excinfo.value.status_code == 503
    with pytest.raises(openai.InternalServerError):
        client.completions.create(model="m", prompt="p")
    server.set_down(False)
    assert client.models.list().data[0].id == "test-model"


def test_embeddings_both_encodings(client: openai.OpenAI) -> None:
    inputs = ["hello world", "another text"]
    # No encoding_format: the SDK asks for base64 and decodes it itself.
    as_b64 = client.embeddings.create(model="emb", input=inputs)
    as_float = client.embeddings.create(model="emb", input=inputs, encoding_format="float")
    assert len(as_b64.data) == len(as_float.data) == 2
    for b, f in zip(as_b64.data, as_float.data):
        assert len(b.embedding) == len(f.embedding) == EMBEDDING_DIM
        assert all(isinstance(x, float) for x in b.embedding)
        assert list(b.embedding) == list(f.embedding)
        assert abs(sum(x * x for x in f.embedding) - 1.0) < 1e-4
    assert as_float.data[0].embedding != as_float.data[1].embedding
    # Deterministic across calls and for a single-string input.
    single = client.embeddings.create(model="emb", input="hello world", encoding_format="float")
    assert single.data[0].embedding == as_float.data[0].embedding


def test_sent_tokens_timestamps_increase(server: LLMServer, client: openai.OpenAI) -> None:
    before = time.time()
    list(client.completions.create(model="m", prompt="p", stream=True))
    stamps = [ts for _, ts in server.sent_tokens]
    assert len(stamps) == 6
    assert stamps == sorted(stamps)
    assert before <= stamps[0] and stamps[-1] <= time.time()
    # Paced at 1000 tok/s, so six tokens take at least ~5 ms in total.
    assert stamps[-1] - stamps[0] >= 0.004


def test_stall_then_client_timeout(server: LLMServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=0.5)
    server.stall_after_tokens = 2
    received = ""
    with pytest.raises(openai.APITimeoutError):
        for chunk in client.completions.create(model="m", prompt="p", stream=True):
            received += "".join(c.text for c in chunk.choices)
    assert len(token_numbers(received)) == 2
    assert len(server.sent_tokens) == 2


def test_unknown_path_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.get("/nope", cast_to=object)


def test_closing_stream_stops_sending() -> None:
    # Slow enough that the server is mid-stream when the client hangs up.
    slow = LLMServer(tokens_per_second=50.0, tokens_per_reply=50).start()
    try:
        client = openai.OpenAI(base_url=slow.base_url, api_key="x", max_retries=0, timeout=10)
        stream = client.completions.create(model="m", prompt="p", stream=True)
        got = 0
        for _ in stream:
            got += 1
            if got == 3:
                break
        stream.close()
        time.sleep(0.3)  # ~15 token intervals: plenty to notice the hang-up
        # Nothing past what the client read (allow one token racing the close).
        assert 3 <= len(slow.sent_tokens) <= 4
    finally:
        slow.stop()


def test_stop_mid_stream_is_a_connection_error() -> None:
    srv = LLMServer(tokens_per_second=1000.0).start()
    srv.stall_after_tokens = 1
    client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0, timeout=10)
    stream = client.completions.create(model="m", prompt="p", stream=True)
    it = iter(stream)
    next(it)  # first token arrives, then the stream stalls
    srv.stop()
    # Not a silently truncated "successful" reply: the SDK does not require
    # "data: [DONE]", so the server resets the connection instead of closing.
    with pytest.raises(openai.APIConnectionError):
        for _ in it:
            pass


# --- the failures seen with llama.cpp + Gemma 3 270M, one knob each ---------------------------------


def _stream(client: openai.OpenAI, *, chat: bool = False, **kw) -> tuple[str, list[str | None], list]:
    """(text, finish reasons of every choice, usage chunks) of one streamed reply."""
    if chat:
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "p"}], stream=True,
                                                stream_options={"include_usage": True}, **kw)
    else:
        stream = client.completions.create(model="m", prompt="p", stream=True,
                                           stream_options={"include_usage": True}, **kw)
    text, reasons, usages = "", [], []
    for chunk in stream:
        if chunk.usage is not None:
            usages.append(chunk.usage)
        for choice in chunk.choices:
            text += (choice.delta.content or "") if chat else choice.text
            reasons.append(choice.finish_reason)
    return text, reasons, usages


@pytest.mark.parametrize("chat", [False, True])
def test_an_interrupted_stream_ends_with_done_and_no_finish_reason(server: LLMServer, client: openai.OpenAI,
                                                                  chat: bool) -> None:
    server.interrupt_next(1, after_tokens=2)
    text, reasons, usages = _stream(client, chat=chat)
    assert len(token_numbers(text)) == 2 and "." not in text
    assert reasons == [None, None] and not usages  # no finish reason in any chunk
    text, reasons, _ = _stream(client, chat=chat)  # only the next reply was interrupted
    assert len(token_numbers(text)) == 6 and reasons[-1] == "stop"


def test_a_length_cut_ends_mid_sentence(server: LLMServer, client: openai.OpenAI) -> None:
    server.length_cut_next()
    text, reasons, _ = _stream(client)
    assert text == FAILURE_TEXTS["length"] and not text.rstrip().endswith(".")
    assert reasons[-1] == "length"


def test_a_continuation_into_the_next_heading(server: LLMServer, client: openai.OpenAI) -> None:
    server.heading_next()
    text, reasons, _ = _stream(client)
    assert text == FAILURE_TEXTS["heading"] and "\n## How to use\n" in text and reasons[-1] == "stop"


def test_raw_html(server: LLMServer, client: openai.OpenAI) -> None:
    server.html_next()
    text, _, _ = _stream(client, chat=True)
    assert text.startswith("<p>") and text.endswith("</p>")


def test_a_repetition_loop(server: LLMServer, client: openai.OpenAI) -> None:
    server.loop_next()
    text, _, _ = _stream(client)
    assert text.count("The roast is back.") == 12


@pytest.mark.parametrize("token", ["The", "#", "---"])
def test_a_single_token_reply(server: LLMServer, client: openai.OpenAI, token: str) -> None:
    server.single_token_next(token)
    text, reasons, usages = _stream(client)
    assert text == token and reasons[-1] == "stop" and usages[0].completion_tokens == 1


def test_scripted_replies_are_served_in_order_with_their_finish_reasons(server: LLMServer,
                                                                       client: openai.OpenAI) -> None:
    server.script_next(["First reply.", ("Second reply cut", "length"), ("Third, interrupted", None)])
    assert _stream(client)[:2] == ("First reply.", [None, None, "stop"])
    assert _stream(client)[:2] == ("Second reply cut", [None, None, None, "length"])
    assert _stream(client, chat=True)[:2] == ("Third, interrupted", [None, None])
    assert len(token_numbers(_stream(client)[0])) == 6  # then the usual reply again
    comp = client.completions.create(model="m", prompt="p")
    assert len(token_numbers(comp.choices[0].text)) == 6


def test_max_tokens_cuts_a_scripted_reply_with_length(server: LLMServer, client: openai.OpenAI) -> None:
    server.reply_next("one two three four")
    text, reasons, _ = _stream(client, max_tokens=2)
    assert text == "one two " and reasons[-1] == "length"


def test_stop_sequences_cut_the_reply_before_them_and_finish_with_stop(server: LLMServer,
                                                                     client: openai.OpenAI) -> None:
    server.heading_next()
    text, reasons, _ = _stream(client, stop=["\n## ", "\n\n"])
    assert text == "Our autumn roast is back in every shop. " and reasons[-1] == "stop"
    assert server.requests[-1]["stop"] == ["\n## ", "\n\n"]
    # Also mid-token, and on the usual reply (a stop that never occurs changes nothing).
    server.reply_next("alpha beta</p> gamma", finish_reason="length")
    assert _stream(client, chat=True, stop="</p>")[:2] == ("alpha beta", [None, None, "stop"])
    text, reasons, _ = _stream(client, stop=["zzz"])
    assert len(token_numbers(text)) == 6 and reasons[-1] == "stop"


def test_reset_forgets_queued_replies(server: LLMServer, client: openai.OpenAI) -> None:
    server.loop_next(3)
    server.interrupt_next()
    server.reset()
    text, reasons, _ = _stream(client)
    assert len(token_numbers(text)) == 6 and reasons[-1] == "stop"
