"""A chat client for any OpenAI-compatible endpoint (vLLM, SGLang, OpenAI, OpenRouter), on the ``openai`` SDK.

Retries are ours, not the SDK's: bounded, exponential with jitter (episodes sharing a server must not retry
in lockstep), on 429, 5xx, timeouts and connection errors, waiting at least what ``retry-after-ms`` or
``retry-after`` asks, so a run behaves the same against every server and a test can count them. Everything
else the server refuses is either a ``ModelUnavailableError`` (bad URL, key or model, or a server that takes
no tool calls: the user must fix the configuration) or a ``ModelRequestRejected`` (this one request was
refused, e.g. its context is too long: the caller may go on). Every token the server reports is added to
``ChatClient.usage``, so a caller can account for all it spent.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import openai
from pydantic import BaseModel, ConfigDict, Field

from cligym.errors import CligymError
from cligym.llm.messages import ChatMessage, ToolCall

if TYPE_CHECKING:
    from cligym.settings import ModelSettings

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
# vLLM and SGLang accept any key but the SDK insists on one.
PLACEHOLDER_API_KEY = "EMPTY"
MAX_BACKOFF_SECONDS = 60.0
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# vLLM's answer to tools sent to a server started without a tool-call parser (every such request fails).
_TOOL_CHOICE_REFUSED = re.compile(r"enable-auto-tool-choice|tool[ _-]call[ _-]parser|tool_choice.*not supported", re.I)


class ModelUnavailableError(CligymError):
    """The endpoint cannot serve us at all: bad URL, refused key, unknown model, or down after every retry."""


class ModelRequestRejected(CligymError):
    """The server refused this request (HTTP 400/413/422: context too long, bad tool schema...)."""

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class TokenUsage(BaseModel):
    """Tokens as the server counted them."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens - other.prompt_tokens,
            completion_tokens=self.completion_tokens - other.completion_tokens,
        )


class ToolSpec(BaseModel):
    """A function the model may call; ``parameters`` is its arguments' JSON Schema."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


# The shell tool both agents get: the inverter breaking a gold environment and the rollout agent repairing it.
BASH_TOOL = ToolSpec(
    name="bash",
    description="Run one shell command (bash, as root) in the container and see its exit code and output.",
    parameters={
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The command line to run."}},
        "required": ["command"],
    },
)


class ChatReply(BaseModel):
    """One completion: the message, why it stopped, what it cost and how long it took (retries included)."""

    model_config = ConfigDict(frozen=True)

    message: ChatMessage = Field(description="The assistant's message, its reasoning included.")
    finish_reason: str | None
    usage: TokenUsage
    model: str
    seconds: float
    attempts: int = Field(1, description="HTTP requests made, retries included.")


class ChatClient:
    """Chat completions against one model at one OpenAI-compatible URL; thread-safe, usage accumulated."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        request_timeout: float = 300.0,
        max_retries: int = 4,
        retry_backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ModelUnavailableError(
                f"model base URL {base_url!r} is not an http(s) URL",
                "set model.base_url to e.g. http://127.0.0.1:8000/v1",
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.temperature, self.top_p, self.max_tokens, self.seed = temperature, top_p, max_tokens, seed
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self._sleep = sleep
        self._jitter = jitter
        key = api_key or os.environ.get(api_key_env) or PLACEHOLDER_API_KEY
        self._sdk = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=request_timeout, max_retries=0)
        self._lock = threading.Lock()
        self._usage = TokenUsage()
        self._requests = 0

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> ChatClient:
        """A client as ``model:`` in the settings describes it; ``ModelUnavailableError`` when incomplete."""
        if not settings.base_url or not settings.model:
            raise ModelUnavailableError(
                "no model is configured",
                "set model.base_url and model.model, e.g. -o model.base_url=http://127.0.0.1:8000/v1 "
                "-o model.model=Qwen/Qwen3-8B",
            )
        return cls(
            settings.base_url,
            settings.model,
            api_key_env=settings.api_key_env,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_tokens,
            seed=settings.seed,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            retry_backoff=settings.retry_backoff,
        )

    @property
    def usage(self) -> TokenUsage:
        """Tokens spent through this client so far, over every call."""
        with self._lock:
            return self._usage

    @property
    def requests(self) -> int:
        """HTTP requests made so far, retries included."""
        with self._lock:
            return self._requests

    def complete(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] = (),
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
    ) -> ChatReply:
        """One chat completion (not streamed). Per-call sampling values override the client's."""
        params: dict[str, Any] = {"model": self.model, "messages": [message.to_wire() for message in messages]}
        for name, value in (
            ("temperature", temperature if temperature is not None else self.temperature),
            ("top_p", top_p if top_p is not None else self.top_p),
            ("max_tokens", max_tokens if max_tokens is not None else self.max_tokens),
            ("seed", seed if seed is not None else self.seed),
        ):
            if value is not None:
                params[name] = value
        if tools:
            params["tools"] = [tool.to_wire() for tool in tools]
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self._requests += 1
            try:
                completion = self._sdk.chat.completions.create(**params)
                break
            except openai.APIStatusError as exc:
                self._raise_unless_retryable_status(exc)
                failure: str = f"HTTP {exc.status_code}: {_error_text(exc)}"
                wait = _retry_after(exc)
            except openai.APITimeoutError:
                failure, wait = f"no answer within {self.request_timeout:g} s", None
            except openai.APIConnectionError as exc:
                failure, wait = f"cannot connect ({_cause(exc)})", None
            if attempt > self.max_retries:
                raise ModelUnavailableError(
                    f"model {self.model!r} at {self.base_url} failed {attempt} times, last: {failure}",
                    "check that the server is up and not overloaded; raise model.max_retries or "
                    "model.request_timeout for slow servers",
                )
            # Half the exponential step fixed, half random: spread out, never shorter than half of it.
            backoff = min(self.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS) * (0.5 + self._jitter() / 2)
            self._sleep(max(backoff, min(wait or 0.0, MAX_BACKOFF_SECONDS)))
        reply = _reply(completion, attempt, time.monotonic() - started)
        with self._lock:
            self._usage = self._usage + reply.usage
        return reply

    def list_models(self) -> list[str]:
        """The model names the server serves (``GET /models``)."""
        try:
            return [entry.id for entry in self._sdk.models.list()]
        except openai.APIError as exc:
            raise ModelUnavailableError(f"cannot list the models of {self.base_url}: {exc}") from None

    def check_available(self) -> None:
        """Fail early, before any container starts, when the server is down or does not serve the model."""
        served = self.list_models()
        if served and self.model not in served:
            raise ModelUnavailableError(
                f"model {self.model!r} is not served at {self.base_url}",
                f"set model.model to one it serves: {', '.join(served)}",
            )

    def _raise_unless_retryable_status(self, exc: openai.APIStatusError) -> None:
        status = exc.status_code
        if status in RETRYABLE_STATUSES or status >= 500:
            return
        detail = _error_text(exc)
        if status in (401, 403):
            raise ModelUnavailableError(
                f"{self.base_url} refused the API key (HTTP {status}: {detail})",
                f"export the key in ${self.api_key_env}, or name another variable with model.api_key_env",
            ) from None
        if status == 400 and _TOOL_CHOICE_REFUSED.search(detail):
            raise ModelUnavailableError(
                f"{self.base_url} does not accept tool calls (HTTP 400: {detail})",
                "start vLLM with --enable-auto-tool-choice --tool-call-parser NAME (cligym rollout --serve vllm "
                "adds them for the model family; --tool-call-parser names another), or roll out with "
                "-o rollout.action_format=text",
            ) from None
        if status == 404:
            raise ModelUnavailableError(
                f"model {self.model!r} is not served at {self.base_url} (HTTP 404: {detail})", self._models_hint()
            ) from None
        raise ModelRequestRejected(
            f"model {self.model!r} at {self.base_url} rejected the request (HTTP {status}: {detail})",
            "a context that grew too long is the usual cause: lower the budgets or raise the server's max length",
            status=status,
        ) from None

    def _models_hint(self) -> str:
        try:
            served = self.list_models()
        except ModelUnavailableError:
            return "check model.base_url (OpenAI-compatible servers answer under /v1) and model.model"
        return f"set model.model to one it serves: {', '.join(served) or '(none)'}"


def _reply(completion: Any, attempts: int, seconds: float) -> ChatReply:
    if not completion.choices:
        raise ModelRequestRejected(f"the server answered without any choice (id {completion.id})")
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCall(id=call.id or f"call_{index}", name=call.function.name, arguments=call.function.arguments or "")
        for index, call in enumerate(message.tool_calls or [])
        if getattr(call, "type", "function") == "function"
    ]
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    usage = completion.usage
    return ChatReply(
        message=ChatMessage(
            role="assistant",
            content=message.content,
            tool_calls=calls,
            reasoning_content=reasoning if isinstance(reasoning, str) else None,
        ),
        finish_reason=choice.finish_reason,
        usage=TokenUsage(
            prompt_tokens=usage.prompt_tokens if usage else 0, completion_tokens=usage.completion_tokens if usage else 0
        ),
        model=completion.model or "",
        seconds=round(seconds, 3),
        attempts=attempts,
    )


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return (exc.response.text or exc.message)[:300]


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP date)."""
    headers = exc.response.headers
    with contextlib.suppress(KeyError, TypeError, ValueError):
        return float(headers["retry-after-ms"]) / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return max(0.0, (email.utils.parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    return None


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__
