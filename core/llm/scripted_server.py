"""A real OpenAI-compatible HTTP server that answers from a script: the model of tests and benchmarks.

It binds 127.0.0.1 on a free port, serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (not
streamed) in the wire format the ``openai`` SDK parses, and records every request body it receives. Each
chat request takes the next step of the script:

- ``Reply``: a canned assistant message (text and/or tool calls) with the usage to report;
- a callable ``(request_body) -> step``: computes the step from what the client sent (replay an oracle, or
  assert on the conversation so far);
- ``HttpError``: answer with that status once (500, 429 with Retry-After, 401...);
- ``Hang``: hold the request for some seconds, then drop the connection (or answer with ``then``).

``malformed_tool_call`` builds a reply whose tool-call arguments are not JSON. When the script is used up,
``then`` answers every further request, or, without it, an HTTP 400 naming the exhausted script.

    with ScriptedModelServer([Reply(content="hi")]) as server:
        ChatClient(server.base_url, server.model).complete([{"role": "user", "content": "hello"}])
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DEFAULT_MODEL = "scripted-model"


@dataclass(frozen=True)
class ScriptedToolCall:
    """A tool call to send; ``arguments`` as a mapping is JSON-encoded, as a string it is sent verbatim."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A canned completion. ``finish_reason`` defaults to "tool_calls" with calls and "stop" without."""

    content: str | None = None
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    prompt_tokens: int = 100
    completion_tokens: int = 20
    finish_reason: str | None = None
    reasoning_content: str | None = None


@dataclass(frozen=True)
class HttpError:
    """Answer with this HTTP status and an OpenAI-style error body."""

    status: int
    message: str = "scripted failure"
    retry_after: float | str | None = None  # seconds, or an HTTP date
    retry_after_ms: float | None = None


@dataclass(frozen=True)
class Hang:
    """Hold the request ``seconds``, then drop the connection without an answer (or answer with ``then``)."""

    seconds: float
    then: Reply | None = None


Step = Reply | HttpError | Hang | Callable[[dict[str, Any]], "Reply | HttpError | Hang"]


def tool_reply(name: str, arguments: Mapping[str, Any] | str | None = None, **usage: int) -> Reply:
    """A reply calling one tool; ``usage`` may set prompt_tokens and completion_tokens."""
    return Reply(tool_calls=(ScriptedToolCall(name, arguments if arguments is not None else {}),), **usage)  # type: ignore[arg-type]


def malformed_tool_call(name: str = "bash", **usage: int) -> Reply:
    """A reply calling ``name`` with arguments cut off mid-JSON, as small models sometimes send."""
    return tool_reply(name, '{"command": "ls -l', **usage)


class ScriptedModelServer:
    """The server; use as a context manager. ``requests`` holds every chat request body received, in order."""

    def __init__(
        self,
        script: Iterable[Step],
        *,
        model: str = DEFAULT_MODEL,
        then: Step | None = None,
        api_key: str | None = None,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._script = iter(script)
        self._then = then
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedModelServer:
        # A short poll interval: closing the server (once per test) then takes milliseconds, not half a second.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="scripted-model", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def next_step(self, body: dict[str, Any]) -> Reply | HttpError | Hang:
        """Record ``body`` and resolve the step that answers it."""
        with self._lock:
            self.requests.append(body)
            step = next(self._script, None)
            served = len(self.requests)
        if step is None:
            step = self._then
        if step is None:
            return HttpError(400, f"the scripted model has no step left ({served} requests received)")
        return step(body) if callable(step) else step

    def completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        """The ``chat.completion`` object for ``reply``, exactly as OpenAI-compatible servers send it."""
        number = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning_content is not None:
            message["reasoning_content"] = reply.reasoning_content
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id or f"call_{number}_{index}",
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
                    },
                }
                for index, call in enumerate(reply.tool_calls)
            ]
        return {
            "id": f"chatcmpl-scripted-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop"),
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }


def _handler_class(server: ScriptedModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the records instead
            pass

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path.rstrip("/") != "/v1/models":
                self._error(404, f"no route {self.path}", "NotFoundError")
                return
            model = {"id": server.model, "object": "model", "created": 0, "owned_by": "cligym"}
            self._json(200, {"object": "list", "data": [model]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self._authorized():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._error(404, f"no route {self.path}", "NotFoundError")
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._error(400, "the request body is not JSON", "BadRequestError")
                return
            if body.get("model") != server.model:
                self._error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
                return
            if body.get("stream"):
                self._error(400, "the scripted model does not stream", "BadRequestError")
                return
            step = server.next_step(body)
            if isinstance(step, Hang):
                if server._stopping.wait(step.seconds) or step.then is None:
                    self.close_connection = True
                    return
                step = step.then
            if isinstance(step, HttpError):
                headers = {}
                if step.retry_after is not None:
                    retry_after = step.retry_after
                    headers["Retry-After"] = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
                if step.retry_after_ms is not None:
                    headers["retry-after-ms"] = f"{step.retry_after_ms:g}"
                self._error(step.status, step.message, "ScriptedError", headers)
                return
            self._json(200, server.completion(body, step))

        def _authorized(self) -> bool:
            if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            self._error(401, "Incorrect API key provided.", "AuthenticationError")
            return False

        def _error(self, status: int, message: str, kind: str, headers: Mapping[str, str] | None = None) -> None:
            self._json(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

        def _json(self, status: int, payload: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): nothing to do
                self.close_connection = True

    return Handler
