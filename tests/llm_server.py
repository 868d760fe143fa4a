"""A tiny OpenAI-compatible HTTP server for end-to-end tests and benchmarks.

Why this exists: the application talks to an LLM through the official ``openai``
SDK. Real models are slow, nondeterministic and cannot be told to fail on cue,
so tests run against this fake instead. It speaks just enough of the OpenAI
wire protocol (models, legacy completions, chat completions, embeddings,
server-sent-event streaming) for the SDK to be used unmodified, and adds knobs
a real server lacks:

* deterministic, globally unique tokens (``"w{i} "``) so a test can tell exactly
  which tokens reached the client; a reply that ends on its own ends with a period
  (``"w11. "``), one that max_tokens cuts off does not;
* an ``[[echo:...]]`` prompt marker to force specific reply content;
* exact replies and finish reasons for the next requests (``reply_next``,
  ``script_next``), and the failures seen with llama.cpp + Gemma 3 270M, each a
  knob: an interrupted stream without a finish reason (``interrupt_next``), a
  ``length`` cut mid-sentence (``length_cut_next``), a continuation into the next
  heading (``heading_next``), raw HTML (``html_next``), a repetition loop
  (``loop_next``) and a single-token reply (``single_token_next``);
* ``stop`` sequences honoured as llama.cpp does: the reply is cut before the first
  occurrence and finishes with ``"stop"``;
* fault injection (``fail_next``, ``set_down``, ``stall_after_tokens``);
* a record of every request body and the send time of every streamed token.

Only the standard library is used so the helper works before (or without) any
optional dependency being installed, and so its behaviour is easy to reason
about: one thread per connection, blocking writes, explicit flushes.

Typical use::

    server = LLMServer(tokens_per_second=500).start()
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    ...
    server.stop()
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LLMServer", "EMBEDDING_DIM", "MODEL_ID", "FAILURE_TEXTS", "token_numbers"]

MODEL_ID = "test-model"
EMBEDDING_DIM = 384

# Non-greedy and DOTALL so a marker may span lines and several markers in one
# prompt do not swallow each other; only the first marker is used.
_ECHO_RE = re.compile(r"\[\[echo:(.*?)\]\]", re.DOTALL)

# Errors that just mean "the client went away". They are expected in tests that
# cancel streams or time out, so they must never produce tracebacks.
_DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

_COMPLETION_PATHS = ("/v1/completions", "/v1/chat/completions")

# One token per word, each with the whitespace after it; leading whitespace is a token of its own.
_TOKEN_RE = re.compile(r"^\s+|\S+\s*")

# What a small base model (Gemma 3 270M behind llama.cpp) was seen to write instead of a section.
FAILURE_TEXTS = {
    "heading": "Our autumn roast is back in every shop. \n## How to use\nGrind it fresh and brew it ",
    "html": "<p>Our autumn roast is back.</p>\n<p>Order it today.</p>",
    "loop": "The roast is back. " * 12,
    "length": "Our autumn roast is back in every shop, roasted darker than last year and",
}


def _tokens_of(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


@dataclass(frozen=True)
class _Reply:
    """One queued exact reply (see ``LLMServer.reply_next``); ``finish_reason`` None means the
    stream is interrupted after ``after_tokens`` (or all) tokens: [DONE] with no finish reason."""

    text: str | None
    finish_reason: str | None
    after_tokens: int | None = None


@dataclass(frozen=True)
class _Fault:
    """One queued injected failure (see ``LLMServer.fail_next``)."""

    status: int
    body: str
    retry_after: float | None


class _ClientGone(Exception):
    """Raised inside a handler when the stream must be abandoned.

    Used both for real disconnects and for ``stop()``, so the streaming loop has
    a single way out that skips the trailer chunks.
    """


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its owning ``LLMServer``."""

    # Handler threads must not keep the interpreter alive if a test forgets to
    # call stop(); ThreadingHTTPServer already sets this, restated for clarity.
    daemon_threads = True
    # Tests restart servers quickly; don't trip over TIME_WAIT sockets.
    allow_reuse_address = True
    # The socketserver default backlog of 5 makes bursts of concurrent clients
    # (benchmarks) hit dropped SYNs and ~1 s kernel retransmit delays.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], owner: LLMServer) -> None:
        self.owner = owner
        # Connections to reset rather than close gracefully (see
        # _Handler._abort_connection). Only touched by each socket's own
        # handler thread, and set operations are atomic under the GIL.
        self.aborted: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def shutdown_request(self, request: Any) -> None:
        # socketserver normally does shutdown(SHUT_WR) before close, which
        # sends a FIN; for an aborted stream that FIN would let the client see
        # a clean end of body. Skip straight to close() so only a RST goes out.
        if request in self.aborted:
            self.aborted.discard(request)
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Disconnects are routine; anything else is a bug in this helper and is
        # worth the default traceback on stderr.
        exc = sys.exc_info()[1]
        if isinstance(exc, _DISCONNECT_ERRORS + (_ClientGone,)):
            return
        super().handle_error(request, client_address)


class LLMServer:
    """Fake OpenAI-compatible server running in a background thread.

    All public mutators are thread-safe: tests call them from the test thread
    while handler threads are serving requests.
    """

    def __init__(
        self,
        *,
        tokens_per_second: float = 200.0,
        tokens_per_reply: int = 24,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tokens_per_second = tokens_per_second
        self.tokens_per_reply = tokens_per_reply
        self.host = host
        self.port = port
        # Read once per token by streaming handlers, so a test may change it
        # mid-stream; a plain attribute read is atomic enough for that.
        # Applies to streams only; non-streaming replies are never stalled.
        self.stall_after_tokens: int | None = None
        # Share (0..1) of completion requests answered with a random transient error (500, 502,
        # 503 or 429 with a short Retry-After) before any fail_next fault; for fault-mode benchmarks.
        self.fault_rate: float = 0.0
        self._fault_rng = random.Random(1234)
        # How many of the next streamed replies break with an invalid JSON chunk (after
        # ``malformed_after`` tokens).
        self._malformed = 0
        self.malformed_after = 2
        # Completion requests answered with an injected fault (fail_next or fault_rate) since reset().
        self.faults_served = 0
        # Every JSON body POSTed to a completions endpoint, including ones
        # answered by an injected fault (so retries can be counted), but not
        # ones refused while set_down(True). Appended under self._lock.
        self.requests: list[dict] = []
        # (token text, time.time() taken just before its chunk was written),
        # appended under self._lock so order matches timestamps globally.
        self.sent_tokens: list[tuple[str, float]] = []

        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._replies: deque[_Reply] = deque()
        self._down = False
        # Global token counter: never reset (not even by reset()) so every token
        # text ever emitted by this server is unique.
        self._next_token = 0
        # Set by stop(); streaming handlers wait on it instead of time.sleep so
        # that stop() interrupts pacing and stalls immediately.
        self._stopping = threading.Event()
        self._active = 0
        self._idle = threading.Condition(self._lock)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LLMServer:
        if self._httpd is not None:
            raise RuntimeError("LLMServer already started")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        # Remember the real port so base_url works when port=0 was requested.
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LLMServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        # Wake paced and stalled streams first so they close their sockets;
        # otherwise clients blocked on a stall would hang until their timeout.
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # Give in-flight handlers a moment to notice _stopping and finish, so a
        # test that stops the server sees no late writes to sent_tokens.
        deadline = time.monotonic() + 5
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(timeout=max(0.0, deadline - time.monotonic()))
        self._httpd = None
        self._thread = None

    def __enter__(self) -> LLMServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("LLMServer not started")
        return f"http://{self.host}:{self.port}/v1"

    # ---------------------------------------------------------- fault injection

    def fail_next(
        self,
        n: int,
        status: int = 500,
        body: str = "boom",
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``n`` completion requests fail with ``status``.

        Faults are queued, so two calls (e.g. one 429 then one 500) are served
        in the order they were added. Models and embeddings are unaffected.
        """
        fault = _Fault(status=status, body=body, retry_after=retry_after)
        with self._lock:
            self._faults.extend([fault] * n)

    def malformed_next(self, n: int, *, after_tokens: int = 2) -> None:
        """Make the next ``n`` streamed replies send an invalid JSON chunk after some tokens."""
        with self._lock:
            self._malformed += n
            self.malformed_after = after_tokens

    def reply_next(self, text: str, *, finish_reason: str | None = "stop", n: int = 1) -> None:
        """Answer the next ``n`` completion requests with exactly ``text`` (one token per word) and
        ``finish_reason``: "stop", "length" (a cut), or None for a stream that ends with [DONE] and
        no finish reason in any chunk (interrupted). max_tokens and ``stop`` still apply."""
        with self._lock:
            self._replies.extend([_Reply(text=text, finish_reason=finish_reason)] * n)

    def script_next(self, replies: list[str | tuple[str, str | None]]) -> None:
        """Queue several exact replies in order: a text (finishing with "stop") or (text, finish_reason)."""
        for reply in replies:
            text, finish_reason = (reply, "stop") if isinstance(reply, str) else reply
            self.reply_next(text, finish_reason=finish_reason)

    def interrupt_next(self, n: int = 1, *, after_tokens: int = 2) -> None:
        """The next ``n`` streamed replies end after ``after_tokens`` of the usual tokens with [DONE]
        and no finish reason, as llama-cpp-python's server does when another request interrupts it."""
        with self._lock:
            self._replies.extend([_Reply(text=None, finish_reason=None, after_tokens=after_tokens)] * n)

    def length_cut_next(self, n: int = 1, *, text: str = FAILURE_TEXTS["length"]) -> None:
        """A reply cut off mid-sentence with finish_reason "length"."""
        self.reply_next(text, finish_reason="length", n=n)

    def heading_next(self, n: int = 1) -> None:
        """A base model continuing past its section into the next heading."""
        self.reply_next(FAILURE_TEXTS["heading"], n=n)

    def html_next(self, n: int = 1) -> None:
        """Raw HTML markup instead of text."""
        self.reply_next(FAILURE_TEXTS["html"], n=n)

    def loop_next(self, n: int = 1) -> None:
        """A repetition loop: the same sentence many times."""
        self.reply_next(FAILURE_TEXTS["loop"], n=n)

    def single_token_next(self, token: str = "The", n: int = 1) -> None:
        """A whole reply of one token (seen: "The", "#", "*", "1", "---")."""
        self.reply_next(token, n=n)

    def set_down(self, down: bool) -> None:
        """While down, every request (any path) answers 503."""
        with self._lock:
            self._down = down

    def reset(self) -> None:
        """Forget recorded traffic and all injected faults.

        Faults here means queued fail_next failures, queued replies, set_down
        and stall_after_tokens, so each test starts from a healthy server.

        The token counter is deliberately kept so tokens stay unique for the
        whole lifetime of the server.
        """
        with self._lock:
            self.requests.clear()
            self.sent_tokens.clear()
            self._faults.clear()
            self._replies.clear()
            self._down = False
            self._malformed = 0
            self.faults_served = 0
        self.stall_after_tokens = None
        self.fault_rate = 0.0

    # ------------------------------------------------- internals used by _Handler

    def _is_down(self) -> bool:
        with self._lock:
            return self._down

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if self._faults:
                self.faults_served += 1
                return self._faults.popleft()
            if self.fault_rate and self._fault_rng.random() < self.fault_rate:
                self.faults_served += 1
                status = self._fault_rng.choice((500, 502, 503, 429))
                return _Fault(status=status, body="injected transient fault",
                              retry_after=0.2 if status == 429 else None)
            return None

    def _take_reply(self) -> _Reply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def _take_malformed(self) -> bool:
        with self._lock:
            if self._malformed:
                self._malformed -= 1
                return True
            return False

    def _record_request(self, body: dict) -> None:
        with self._lock:
            self.requests.append(body)

    def _allocate_tokens(self, n: int) -> list[str]:
        # Allocate a contiguous block up front so one reply's tokens are
        # consecutive numbers; tokens never sent (stall, disconnect) are simply
        # skipped, which keeps uniqueness.
        with self._lock:
            first = self._next_token
            self._next_token += n
        return [f"w{i} " for i in range(first, first + n)]

    def _default_tokens(self, limit: float) -> list[str]:
        """The usual reply; when it ends on its own (not cut by max_tokens) its last word ends a sentence."""
        tokens = self._allocate_tokens(int(min(self.tokens_per_reply, limit)))
        if tokens and limit > self.tokens_per_reply:
            tokens[-1] = tokens[-1].rstrip() + ". "
        return tokens

    def _record_sent(self, token: str) -> None:
        # Timestamp and append under one lock so the list order matches the
        # timestamp order even across concurrent streams.
        with self._lock:
            self.sent_tokens.append((token, time.time()))

    def _enter(self) -> None:
        with self._lock:
            self._active += 1

    def _leave(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def _pause(self) -> None:
        """Sleep one token interval; abort the stream if the server stops."""
        rate = self.tokens_per_second
        delay = 1.0 / rate if rate and rate > 0 else 0.0
        if self._stopping.wait(delay):
            raise _ClientGone


# ------------------------------------------------------------------ text helpers


def _words(text: str) -> list[str]:
    return text.split()


def _content_text(content: Any) -> str:
    """Flatten a chat message ``content`` (string or list of parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


def _prompt_text(path: str, body: dict) -> str:
    if path == "/v1/chat/completions":
        messages = body.get("messages") or []
        # Join with newlines so words from adjacent messages never merge, which
        # would skew the prompt word count.
        return "\n".join(
            _content_text(m.get("content")) for m in messages if isinstance(m, dict)
        )
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        # A batch of prompts or a token-id list; either way we only need text
        # for the word count and the echo marker.
        return "\n".join(str(p) for p in prompt)
    return str(prompt) if prompt is not None else ""


def _embedding(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """Deterministic unit vector for ``text``, already rounded to float32.

    Rounding to float32 here means the "float" and "base64" encodings carry
    bit-identical values, so tests can compare them with ==.
    """
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    # Draw the full vector even when fewer dimensions are requested, so a
    # shortened embedding is a (renormalised) prefix of the full one, as with
    # OpenAI's `dimensions` parameter.
    full = [rng.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIM)]
    vec = full[:dim]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    packed = struct.pack(f"<{len(vec)}f", *(v / norm for v in vec))
    return list(struct.unpack(f"<{len(vec)}f", packed))


# ---------------------------------------------------------------------- handler


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0 means one request per connection and lets a streamed body be
    # delimited by closing the socket: no Content-Length or chunked encoding
    # needed, and httpx (under the openai SDK) reads such bodies fine.
    protocol_version = "HTTP/1.0"
    server_version = "FakeLLM/1.0"
    server: _HTTPServer

    # -- plumbing

    @property
    def owner(self) -> LLMServer:
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:
        # Tests run thousands of requests; access logs would drown real output.
        return

    def handle(self) -> None:
        self.owner._enter()
        try:
            super().handle()
        except _DISCONNECT_ERRORS + (_ClientGone,):
            # The client hung up or stop() aborted the stream: nothing to report.
            self.close_connection = True
            if self.owner._stopping.is_set():
                self._abort_connection()
        finally:
            self.owner._leave()

    def _abort_connection(self) -> None:
        # The body is close-delimited, so a plain close would look to the
        # client like a normal (if short) end of stream: the SDK does not
        # insist on "data: [DONE]". A zero linger makes close() send RST, so a
        # stream cut off by stop() surfaces as a connection error instead.
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        except OSError:
            return
        self.server.aborted.add(self.connection)

    def _send_json(
        self, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error_json(
        self,
        status: int,
        message: str,
        err_type: str = "server_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = {"error": {"message": message, "type": err_type, "code": None}}
        self._send_json(status, payload, headers)

    def _read_json(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _path(self) -> str:
        # Ignore query strings and a trailing slash so e.g. "/v1/models/" works.
        path = self.path.split("?", 1)[0]
        return path.rstrip("/") or "/"

    def _down_guard(self) -> bool:
        if self.owner._is_down():
            # Drain the body so the client is not reset mid-upload, which
            # would surface as a connection error instead of a clean 503.
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)
            self._send_error_json(503, "server is down (set_down)")
            return True
        return False

    # -- verbs

    def do_GET(self) -> None:
        if self._down_guard():
            return
        path = self._path()
        if path == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": MODEL_ID,
                            "object": "model",
                            "created": 0,
                            "owned_by": "tests",
                        }
                    ],
                },
            )
        elif path == f"/v1/models/{MODEL_ID}":
            self._send_json(
                200,
                {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "tests"},
            )
        else:
            self._send_error_json(404, f"no route for GET {path}", "not_found_error")

    def do_POST(self) -> None:
        if self._down_guard():
            return
        path = self._path()
        if path not in _COMPLETION_PATHS and path != "/v1/embeddings":
            self._send_error_json(404, f"no route for POST {path}", "not_found_error")
            return
        body = self._read_json()
        if body is None:
            self._send_error_json(400, "request body must be a JSON object",
                                  "invalid_request_error")
            return
        if path == "/v1/embeddings":
            self._embeddings(body)
            return

        # Record before fault injection so tests can also count failed attempts
        # (e.g. to verify the client's retry behaviour).
        self.owner._record_request(body)
        fault = self.owner._take_fault()
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                # Retry-After is seconds; keep fractions because the SDK parses
                # floats and tests want sub-second backoffs.
                ra = fault.retry_after
                headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
            self._send_error_json(fault.status, fault.body, "server_error", headers)
            return
        self._completion(path, body)

    # -- completions

    def _completion(self, path: str, body: dict) -> None:
        chat = path == "/v1/chat/completions"
        model = body.get("model") or MODEL_ID
        prompt = _prompt_text(path, body)
        prompt_tokens = len(_words(prompt))

        max_tokens = body.get("max_tokens")
        if chat and body.get("max_completion_tokens") is not None:
            # Newer SDKs/clients send this instead of max_tokens for chat.
            max_tokens = body["max_completion_tokens"]
        try:
            limit = math.inf if max_tokens is None else max(0, int(max_tokens))
        except (TypeError, ValueError):
            self._send_error_json(400, "max_tokens must be an integer",
                                  "invalid_request_error")
            return

        scripted = self.owner._take_reply()
        echo = _ECHO_RE.search(prompt)
        interrupt_after: int | None = None
        if scripted is not None and scripted.text is not None:
            natural = _tokens_of(scripted.text)
            tokens = natural[: int(min(len(natural), limit))]
            finish_reason: str | None = "length" if limit < len(natural) else scripted.finish_reason
            if scripted.finish_reason is None:
                interrupt_after = len(tokens)
        elif echo is not None:
            natural = [w + " " for w in _words(echo.group(1))]
            tokens = natural[: int(min(len(natural), limit))]
            # "length" when the max_tokens cap is what ended the reply, as with a
            # real model that is cut off; otherwise the reply ended on its own.
            finish_reason = "length" if limit <= len(natural) else "stop"
        else:
            tokens = self.owner._default_tokens(limit)
            finish_reason = "length" if limit <= self.owner.tokens_per_reply else "stop"
            if scripted is not None:  # interrupt_next: the usual tokens, cut short without a reason
                interrupt_after = min(len(tokens), scripted.after_tokens or 0)
                tokens = tokens[:interrupt_after]
        if interrupt_after is not None:
            finish_reason = None
        tokens, finish_reason = _apply_stop(tokens, finish_reason, body.get("stop"))

        created = int(time.time())
        completion_id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }

        if body.get("stream"):
            opts = body.get("stream_options") or {}
            self._stream(
                chat=chat,
                model=model,
                completion_id=completion_id,
                created=created,
                tokens=tokens,
                finish_reason=finish_reason,
                usage=usage if opts.get("include_usage") else None,
            )
            return

        # Non-streaming still takes as long as generation would, so benchmarks
        # comparing the two modes see realistic latency.
        for _ in tokens:
            self.owner._pause()
        text = "".join(tokens)
        if chat:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish_reason,
                      "logprobs": None}
            obj = "text_completion"
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
            },
        )

    def _stream(
        self,
        *,
        chat: bool,
        model: str,
        completion_id: str,
        created: int,
        tokens: list[str],
        finish_reason: str | None,
        usage: dict | None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

        obj = "chat.completion.chunk" if chat else "text_completion"

        def chunk(choices: list[dict], extra: dict | None = None) -> dict:
            data = {
                "id": completion_id,
                "object": obj,
                "created": created,
                "model": model,
                "choices": choices,
            }
            if extra:
                data.update(extra)
            return data

        def token_choice(i: int, tok: str) -> dict:
            if chat:
                delta: dict[str, Any] = {"content": tok}
                if i == 0:
                    # Real servers announce the role on the first delta; some
                    # clients accumulate messages relying on it.
                    delta["role"] = "assistant"
                return {"index": 0, "delta": delta, "finish_reason": None}
            return {"index": 0, "text": tok, "finish_reason": None, "logprobs": None}

        malformed = self.owner._take_malformed()
        for i, tok in enumerate(tokens):
            if malformed and i >= self.owner.malformed_after:
                self._write_raw(b'data: {"id": "broken", "choices": [{"text": \n\n')
                return
            stall = self.owner.stall_after_tokens
            if stall is not None and i >= stall:
                self._hang()
            self.owner._pause()
            # A write to a socket the client already closed usually still
            # "succeeds" (the kernel buffers it; the RST comes back later), so
            # without this check a cancelled stream would log one or two
            # phantom tokens in sent_tokens.
            if self._peer_closed(0):
                raise _ClientGone
            self.owner._record_sent(tok)
            self._write_event(chunk([token_choice(i, tok)]))

        # A stall at/after the last token still has to hang before the trailer,
        # otherwise a reply shorter than stall_after_tokens would finish.
        stall = self.owner.stall_after_tokens
        if stall is not None and len(tokens) >= stall:
            self._hang()

        if finish_reason is None:
            # Interrupted (llama.cpp's interrupt_requests): [DONE] with no finish reason and no usage.
            self._write_raw(b"data: [DONE]\n\n")
            return
        if chat:
            final = {"index": 0, "delta": {}, "finish_reason": finish_reason}
        else:
            final = {"index": 0, "text": "", "finish_reason": finish_reason,
                     "logprobs": None}
        self._write_event(chunk([final]))
        if usage is not None:
            self._write_event(chunk([], {"usage": usage}))
        self._write_raw(b"data: [DONE]\n\n")

    def _write_event(self, payload: dict) -> None:
        self._write_raw(b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n")

    def _write_raw(self, data: bytes) -> None:
        # Flush after every event: the whole point of streaming tests is to
        # observe tokens as they are produced, not when a buffer fills.
        self.wfile.write(data)
        self.wfile.flush()

    def _peer_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the client to hang up; True if it did.

        Peeks instead of reading so nothing is consumed, and never writes, so
        it is safe to call on a stream that must stay silent.
        """
        conn: socket.socket = self.connection
        try:
            readable, _, _ = select.select([conn], [], [], timeout)
            if not readable:
                return False
            # Readable with no data means an orderly shutdown by the client.
            return conn.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True  # reset or already closed

    def _hang(self) -> None:
        """Block until the client disconnects or the server stops.

        A stalled stream must not send anything (that would reset the client's
        read timeout), yet it must notice the client giving up so handler
        threads don't pile up across a long test run.
        """
        while not self.owner._stopping.is_set():
            if self._peer_closed(0.05):
                raise _ClientGone
            # If the socket is readable because the client sent stray bytes
            # (not a disconnect), select returns at once; this wait keeps that
            # case from spinning.
            if self.owner._stopping.wait(0.01):
                break
        raise _ClientGone

    # -- embeddings

    def _embeddings(self, body: dict) -> None:
        raw_input = body.get("input", "")
        inputs: list[Any] = raw_input if isinstance(raw_input, list) else [raw_input]
        # Token-id inputs (lists of ints) are hashed via their repr; only
        # determinism matters here.
        texts = [x if isinstance(x, str) else json.dumps(x) for x in inputs]
        encoding = body.get("encoding_format") or "base64"
        dims = body.get("dimensions")
        dim = EMBEDDING_DIM
        if isinstance(dims, int) and 0 < dims < EMBEDDING_DIM:
            dim = dims
        data = []
        for i, text in enumerate(texts):
            vec = _embedding(text, dim)
            if encoding == "base64":
                packed = struct.pack(f"<{len(vec)}f", *vec)
                emb: Any = base64.b64encode(packed).decode("ascii")
            else:
                emb = vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        prompt_tokens = sum(len(_words(t)) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or MODEL_ID,
                "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
            },
        )


def _apply_stop(tokens: list[str], finish_reason: str | None, stop: Any) -> tuple[list[str], str | None]:
    """Cut the reply before the first occurrence of a stop sequence, as llama.cpp does: the stop text
    is not sent and the reply finishes with "stop"."""
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str) and s]
    text = "".join(tokens)
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if cut < 0:
        return tokens, finish_reason
    kept: list[str] = []
    length = 0
    for token in tokens:
        if length + len(token) > cut:
            if cut > length:
                kept.append(token[: cut - length])
            break
        kept.append(token)
        length += len(token)
    return kept, "stop"


def token_numbers(text: str) -> list[int]:
    """Global token numbers found in ``text`` (lets tests see what arrived)."""
    return [int(m) for m in re.findall(r"w(\d+)", text)]
