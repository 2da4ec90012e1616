"""The model client every stage shares (any OpenAI-compatible endpoint), the messages it exchanges, and a
scripted server to test it."""

from cligym.llm.client import (
    BASH_TOOL,
    ChatClient,
    ChatReply,
    ModelRequestRejected,
    ModelUnavailableError,
    TokenUsage,
    ToolSpec,
)
from cligym.llm.messages import ChatMessage, ToolCall, system_message, tool_message, user_message

__all__ = [
    "BASH_TOOL",
    "ChatClient",
    "ChatMessage",
    "ChatReply",
    "ModelRequestRejected",
    "ModelUnavailableError",
    "TokenUsage",
    "ToolCall",
    "ToolSpec",
    "system_message",
    "tool_message",
    "user_message",
]
