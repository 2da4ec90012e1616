"""The model client every stage shares (any OpenAI-compatible endpoint), and a scripted server to test it."""

from cligym.llm.client import (
    BASH_TOOL,
    AssistantMessage,
    ChatClient,
    ChatReply,
    Message,
    ModelRequestRejected,
    ModelUnavailableError,
    TokenUsage,
    ToolCall,
    ToolSpec,
    tool_message,
)

__all__ = [
    "BASH_TOOL",
    "AssistantMessage",
    "ChatClient",
    "ChatReply",
    "Message",
    "ModelRequestRejected",
    "ModelUnavailableError",
    "TokenUsage",
    "ToolCall",
    "ToolSpec",
    "tool_message",
]
