"""The text action format: one fenced shell block per reply runs as the ``bash`` tool, a line ``DONE``
calls ``submit``. For models served without tool-call parsing; reasoning in ``<think>`` tags is ignored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_FENCED = re.compile(r"```(?:bash|sh|shell|console)?[ \t]*\n(.*?)```", re.S)
_DONE = re.compile(r"^\s*DONE\s*$", re.M)
_THINKING = re.compile(r"<think>.*?</think>", re.S)


@dataclass(frozen=True)
class TextAction:
    """The tool a text reply calls, with its arguments; ``extra_blocks`` counts the blocks left unrun."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    extra_blocks: int = 0


def parse_text_reply(content: str) -> TextAction | None:
    """The reply's action: its first fenced block as a command, else ``submit`` on DONE, else None."""
    visible = _THINKING.sub("", content)
    blocks = _FENCED.findall(visible)
    if blocks:
        return TextAction("bash", {"command": blocks[0].strip()}, extra_blocks=len(blocks) - 1)
    if _DONE.search(visible):
        return TextAction("submit")
    return None
