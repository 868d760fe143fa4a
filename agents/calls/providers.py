"""Model providers: small classes behind one interface, looked up by name.

Every text generation goes through the official `openai` SDK against an OpenAI-compatible URL.
Errors are translated into `ProviderError(permanent=…)` so callers retry only what can succeed.
"""
from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
from django.conf import settings


class ProviderError(Exception):
    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass
class ResolvedModel:
    base_url: str
    model: str
    mode: str
    api_key: str
    parameters: dict[str, Any] = field(default_factory=dict)


def resolve(model_version: Any) -> ResolvedModel:
    """Connection details of a ModelVersion; the key always comes from the environment."""
    if model_version.use_settings:
        return ResolvedModel(
            base_url=settings.AIOS_LLM_BASE_URL,
            model=settings.AIOS_LLM_MODEL,
            mode=settings.AIOS_LLM_MODE,
            api_key=settings.AIOS_LLM_API_KEY,
            parameters=dict(model_version.parameters or {}),
        )
    return ResolvedModel(
        base_url=model_version.base_url,
        model=model_version.model,
        mode=model_version.mode,
        api_key=os.environ.get(model_version.api_key_env, "") or "not-needed",
        parameters=dict(model_version.parameters or {}),
    )


@dataclass
class Usage:
    """What one streamed call used, and why it ended (filled in while the stream is read)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    # "stop" (the model ended, or hit a stop sequence), "length" (max_tokens cut it off), or another
    # reason the server names. None until the stream has said it.
    finish_reason: str | None = None


# Sampling settings one call may override (a retry of an unusable section varies them). max_tokens
# and stop have their own arguments.
SAMPLING_OVERRIDES = frozenset({"temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"})

INTERRUPTED = "The model stream ended without a finish reason (interrupted)."


def _translate(exc: Exception) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("The model server timed out.", permanent=False)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"Could not reach the model server: {exc}", permanent=False)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = None
        header = exc.response.headers.get("retry-after") if exc.response is not None else None
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        detail = f"The model server answered {status}: {exc.message}"
        transient = status in (408, 409, 429) or status >= 500
        return ProviderError(detail, permanent=not transient, retry_after=retry_after)
    return ProviderError(f"Unexpected model error: {exc}", permanent=True)


def _deltas(stream: Any, text_of: Any, usage: Usage) -> Iterator[str]:
    """Text deltas of a streamed response; usage from its final chunk, else counted per delta; the
    finish reason from the chunk that carries it. A stream that ends without one was cut off (e.g.
    llama.cpp's server ends a running stream with [DONE] when another request arrives): transient."""
    reported = False
    for chunk in stream:
        if chunk.usage:
            usage.prompt_tokens, usage.completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            reported = True
        for choice in chunk.choices:
            text = text_of(choice)
            if text:
                if not reported:
                    usage.completion_tokens += 1
                yield text
            if choice.finish_reason:
                usage.finish_reason = choice.finish_reason
    if usage.finish_reason is None:
        raise ProviderError(INTERRUPTED, permanent=False)


def _stops(configured: Any, extra: list[str] | None) -> list[str]:
    """The version's stop sequences (a string or a list) followed by this call's, each once."""
    listed = [configured] if isinstance(configured, str) else list(configured or [])
    return list(dict.fromkeys([*listed, *(extra or [])]))


@functools.lru_cache(maxsize=32)
def _client_in_process(pid: int, base_url: str, api_key: str, timeout: float, max_retries: int) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)


def openai_client(*, base_url: str, api_key: str, timeout: float, max_retries: int = 0) -> openai.OpenAI:
    """The process's client for one endpoint. Building a client loads the CA bundle (about 30 ms of
    CPU, once per model call before this), and a kept client also keeps its connections alive
    between calls. Keyed by process id, so a forked Celery pool process never shares its parent's
    sockets. The SDK's client is safe to share between threads."""
    return _client_in_process(os.getpid(), base_url, api_key, float(timeout), max_retries)


class OpenAICompatibleProvider:
    def __init__(self, resolved: ResolvedModel, *, timeout: float | None = None) -> None:
        self.resolved = resolved
        self.client = openai_client(
            base_url=resolved.base_url,
            api_key=resolved.api_key,
            timeout=timeout or settings.AIOS_LLM_TIMEOUT,
            max_retries=0,  # retries are ours: with backoff, and recorded on the run
        )

    def stream(
        self, *, system: str, prompt: str, max_tokens: int, usage: Usage, stop: list[str] | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """Yield text deltas; fill `usage` (tokens from the server's final chunk, or estimated, and
        the finish reason). `stop` adds stop sequences to the version's; `overrides` changes
        sampling settings (SAMPLING_OVERRIDES) for this call only."""
        unknown = set(overrides or {}) - SAMPLING_OVERRIDES
        if unknown:
            raise ValueError(f"Not a sampling override: {', '.join(sorted(unknown))}")
        params = {"temperature": 0.7, **self.resolved.parameters, **(overrides or {})}
        params.pop("max_tokens", None)
        stops = _stops(params.pop("stop", None), stop)
        if stops:
            params["stop"] = stops
        common = {"model": self.resolved.model, "max_tokens": max_tokens, "stream": True,
                  "stream_options": {"include_usage": True}, **params}
        try:
            if self.resolved.mode == "chat":
                messages = ([{"role": "system", "content": system}] if system else []) + [
                    {"role": "user", "content": prompt}
                ]
                stream = self.client.chat.completions.create(messages=messages, **common)
                yield from _deltas(stream, lambda choice: choice.delta.content if choice.delta else None, usage)
            else:
                text_prompt = f"{system}\n\n{prompt}" if system else prompt
                stream = self.client.completions.create(prompt=text_prompt, **common)
                yield from _deltas(stream, lambda choice: choice.text, usage)
        except openai.OpenAIError as exc:
            raise _translate(exc) from exc
        except httpx.TimeoutException as exc:  # a stream that stalls mid-way is read outside the SDK's wrapping
            raise ProviderError("The model server stopped sending mid-stream (timed out).", permanent=False) from exc
        except httpx.TransportError as exc:
            raise ProviderError(f"The model stream broke off: {exc}", permanent=False) from exc
        except ValueError as exc:  # a malformed SSE chunk (invalid JSON); another try usually succeeds
            raise ProviderError(f"The model server sent a malformed stream chunk: {exc}", permanent=False) from exc
        if not usage.prompt_tokens:  # a server that sends no usage: estimate rather than claim zero
            usage.prompt_tokens = len((system + " " + prompt).split())

    def ping(self, timeout: float = 2.0) -> tuple[bool, str]:
        started = time.monotonic()
        try:
            self.client.with_options(timeout=timeout).models.list()
        except openai.OpenAIError as exc:
            return False, str(_translate(exc))
        return True, f"{(time.monotonic() - started) * 1000:.0f} ms"


PROVIDERS: dict[str, type[OpenAICompatibleProvider]] = {"openai": OpenAICompatibleProvider}


def provider_for(model_version: Any) -> OpenAICompatibleProvider:
    try:
        cls = PROVIDERS[model_version.provider]
    except KeyError as exc:
        raise ProviderError(f"Unknown provider {model_version.provider!r}", permanent=True) from exc
    return cls(resolve(model_version))
