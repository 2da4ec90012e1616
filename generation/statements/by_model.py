"""Problem statements written by a model: the same symptom-only facts as the templates, in a user's words.

The model sees only what a user would see (the command, the failing tests, the error lines that do not name
the cause), never the break or its repair, and is asked for a report in one of the template styles. The
reply then passes the same leak check as template statements; a reply that leaks is sent back once with the
words to avoid, and a second leak raises ``StatementLeak``. Every token spent is returned (or carried by the
exception) so the run can account for it.
"""

from __future__ import annotations

import re
import string
from functools import cache

from pydantic import BaseModel

from cligym.configs import CONFIG_DIR
from cligym.generation.gold.record import GoldRecord
from cligym.generation.statements.templates import (
    HINTS,
    MAX_TESTS_LISTED,
    STYLES,
    StatementLeak,
    failure_excerpt,
    find_leaks,
    leak_terms,
)
from cligym.generation.task_record import Candidate, Validation
from cligym.llm import ChatClient, TokenUsage, user_message
from cligym.yaml_config import read_yaml_mapping

PROMPTS_DIR = CONFIG_DIR / "prompts"
_THINKING = re.compile(r"<think>.*?</think>", re.S)
_FENCED = re.compile(r"^```(?:markdown|md)?\n(.*)\n```$", re.S)


class ModelStatement(BaseModel):
    """A statement the model wrote, and what writing it cost."""

    text: str
    usage: TokenUsage
    attempts: int


class ModelStatementLeak(StatementLeak):
    """Every reply named the cause or the fix; ``usage`` is what the attempts cost."""

    def __init__(self, message: str, usage: TokenUsage) -> None:
        super().__init__(message)
        self.usage = usage


class StatementNotWritten(ValueError):
    """The model replied with no statement at all."""

    def __init__(self, message: str, usage: TokenUsage) -> None:
        super().__init__(message)
        self.usage = usage


def write_statement_with_model(
    client: ChatClient,
    gold: GoldRecord,
    candidate: Candidate,
    validation: Validation,
    style: str,
    hint: bool,
    attempts: int = 2,
) -> ModelStatement:
    """Ask the model for a symptom-only statement in ``style`` (one of ``STYLES``), hinted or not.

    Raises ``StatementLeak`` (a ``ModelStatementLeak``) when every attempt named the cause or the fix,
    ``StatementNotWritten`` when the model sent no text; both carry the tokens spent.
    """
    if style not in STYLES:
        raise ValueError(f"unknown statement style {style!r}; choose one of {', '.join(STYLES)}")
    messages = [user_message(statement_prompt(gold, candidate, validation, style, hint))]
    used = TokenUsage()
    leaks: list[str] = []
    for attempt in range(1, attempts + 1):
        reply = client.complete(messages)
        used = used + reply.usage
        text = _clean(reply.message.content or "")
        if not text:
            raise StatementNotWritten(f"{client.model} replied without a statement", used)
        leaks = find_leaks(text, candidate)
        if not leaks:
            return ModelStatement(text=text, usage=used, attempts=attempt)
        messages += [
            reply.message,
            user_message(
                "Your statement gives away the cause or the fix: it names "
                + ", ".join(leaks)
                + ". Rewrite it without naming those, reporting only the symptoms."
            ),
        ]
    raise ModelStatementLeak(f"the statement names {', '.join(leaks)}", used)


def statement_prompt(gold: GoldRecord, candidate: Candidate, validation: Validation, style: str, hint: bool) -> str:
    """The prompt (configs/prompts/statement.md): the facts a user would have, the style, the hint rule."""
    failing = validation.fail_to_pass
    shown = failing[:MAX_TESTS_LISTED]
    listed = "\n".join(f"  - `{test}`" for test in shown)
    if len(failing) > len(shown):
        listed += f"\n  - ... and {len(failing) - len(shown)} more"
    hint_instruction = (
        f"End with one sentence saying that it may help to look at {HINTS[candidate.category]}, and name nothing "
        "more specific."
        if hint
        else "Do not suggest where to look."
    )
    template = string.Template((PROMPTS_DIR / "statement.md").read_text())
    return template.substitute(
        style_guide=style_guides()[style],
        repo=gold.name,
        repo_path=gold.repo_path,
        command=gold.base_test_command,
        count=len(failing),
        test_list=listed,
        excerpt=failure_excerpt(validation, failing, leak_terms(candidate)),
        hint_instruction=hint_instruction,
    )


@cache
def style_guides() -> dict[str, str]:
    """One line per style (configs/prompts/statement_styles.yaml)."""
    data = read_yaml_mapping(PROMPTS_DIR / "statement_styles.yaml", "prompt file", "reinstall cligym")
    return {str(key): str(value) for key, value in data.items()}


def _clean(text: str) -> str:
    """The statement without reasoning blocks or a fence around the whole reply."""
    text = _THINKING.sub("", text).strip()
    fenced = _FENCED.match(text)
    return (fenced.group(1) if fenced else text).strip()
