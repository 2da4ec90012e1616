"""Chat messages as every stage holds them: the client sends them, trajectories store them, the Harbor importer
builds them and the chat dataset reads them.

The serialised shape is OpenAI's wire shape (``tool_calls[].function.{name, arguments}``, ``tool_call_id``),
compact: keys without a value are left out, so a stored conversation reads like the request that was sent.
``reasoning_content`` is kept in the record (it is what the model thought, and trainers render it) but never
sent back to a server: servers that return reasoning apart expect it stripped from later turns.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One tool call as the model sent it; ``arguments`` is the raw string, which may not even be JSON.

    Read from and written as the wire shape ``{"id", "type": "function", "function": {"name", "arguments"}}``.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("function"), dict):
            function = value["function"]
            arguments = function.get("arguments")
            return {
                "id": value.get("id") or "",
                "name": function.get("name") or "",
                # Some producers (ATIF, hand-written data) give the arguments as an object.
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
            }
        return value

    @model_serializer
    def _to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def is_json_object(self) -> bool:
        try:
            self.parsed_arguments()
        except ValueError:
            return False
        return True

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a JSON object; ``ValueError`` with a message meant for the model otherwise."""
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"the arguments of {self.name} are not valid JSON ({exc.msg} at {exc.pos})") from None
        if not isinstance(value, dict):
            raise ValueError(f"the arguments of {self.name} must be a JSON object, not {type(value).__name__}")
        return value


class ChatMessage(BaseModel):
    """One message of a conversation. Keys other producers add (``refusal``, ``audio``...) are dropped."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Role
    content: str | None = None
    reasoning_content: str | None = Field(None, description="The model's reasoning, when the server gave it apart.")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = Field(None, description="On a tool result: the call it answers.")
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _joined_parts(cls, value: Any) -> Any:
        # Content parts ([{"type": "text", "text": ...}]) as one text: our conversations carry no images.
        if isinstance(value, list):
            return "\n".join(str(part.get("text") or "") for part in value if isinstance(part, dict))
        return value

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _no_calls(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if key in ("role", "content") or value not in (None, [])}

    @property
    def text(self) -> str:
        return self.content or ""

    def to_wire(self) -> dict[str, Any]:
        """The message as a request carries it: no reasoning."""
        wire = self.model_dump()
        wire.pop("reasoning_content", None)
        return wire

    def with_safe_arguments(self) -> ChatMessage:
        """This message with tool-call arguments that are not a JSON object replaced by ``{}``.

        vLLM parses the arguments of earlier turns, and versions before it learnt to coerce them fail every
        later request of the conversation on a malformed one.
        """
        if all(call.is_json_object() for call in self.tool_calls):
            return self
        calls = [
            call if call.is_json_object() else call.model_copy(update={"arguments": "{}"}) for call in self.tool_calls
        ]
        return self.model_copy(update={"tool_calls": calls})


def system_message(content: str) -> ChatMessage:
    return ChatMessage(role="system", content=content)


def user_message(content: str) -> ChatMessage:
    return ChatMessage(role="user", content=content)


def tool_message(call_id: str, content: str) -> ChatMessage:
    """The answer to one tool call."""
    return ChatMessage(role="tool", tool_call_id=call_id, content=content)
