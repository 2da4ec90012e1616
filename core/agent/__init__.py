"""The agent loop every stage runs: turns, budgets, tool dispatch and termination (``AgentLoop``)."""

from cligym.agent.loop import ActionResult, AgentLoop, EndReason, Limits, LoopEnd
from cligym.agent.text_format import TextAction, parse_text_reply

__all__ = ["ActionResult", "AgentLoop", "EndReason", "Limits", "LoopEnd", "TextAction", "parse_text_reply"]
