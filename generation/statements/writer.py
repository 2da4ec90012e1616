"""Who writes a valid task's statements: the templates, or a model when one is configured.

A model writes both the symptom-only statement and the hinted one in the style the task id picks. A model
that keeps naming the cause rejects the task (``statement_leak``, as a leaking template would); a model
that sends no text or cannot be reached falls back to the templates, so a flaky endpoint never costs a
validated task. Every token spent is returned either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cligym.errors import CligymError
from cligym.generation.gold.record import GoldRecord
from cligym.generation.statements.by_model import ModelStatementLeak, StatementNotWritten, write_statement_with_model
from cligym.generation.statements.templates import StatementLeak, write_statement
from cligym.generation.task_record import Candidate, Validation
from cligym.llm import ChatClient, TokenUsage

TEMPLATE_AUTHOR = "template"


class StatementSource(StrEnum):
    """Who writes statements: a model when one is configured (auto), always the templates, always a model."""

    AUTO = "auto"
    TEMPLATE = "template"
    MODEL = "model"


@dataclass(frozen=True)
class WrittenStatements:
    """The two statements of a task, who wrote them and what the model spent (zero for templates)."""

    statement: str
    statement_with_hint: str
    author: str
    usage: TokenUsage
    note: str = ""


class StatementLeakWithUsage(StatementLeak):
    """Every statement named the cause or the fix; ``usage`` is what writing them cost."""

    def __init__(self, message: str, usage: TokenUsage) -> None:
        super().__init__(message)
        self.usage = usage


class StatementWriter:
    """Writes statements with ``client`` when given, with the templates otherwise."""

    def __init__(self, client: ChatClient | None = None) -> None:
        self.client = client

    def write(self, gold: GoldRecord, candidate: Candidate, validation: Validation, style: str) -> WrittenStatements:
        if self.client is None:
            return self._templates(gold, candidate, validation, style, TokenUsage())
        used = TokenUsage()
        texts: list[str] = []
        try:
            for hint in (False, True):
                written = write_statement_with_model(self.client, gold, candidate, validation, style, hint)
                used = used + written.usage
                texts.append(written.text)
        except ModelStatementLeak as leak:
            raise StatementLeakWithUsage(f"{self.client.model}: {leak}", used + leak.usage) from None
        except StatementNotWritten as empty:
            return self._templates(gold, candidate, validation, style, used + empty.usage, str(empty))
        except CligymError as error:
            return self._templates(gold, candidate, validation, style, used, f"{self.client.model}: {error.message}")
        return WrittenStatements(texts[0], texts[1], f"model:{self.client.model}", used)

    @staticmethod
    def _templates(
        gold: GoldRecord, candidate: Candidate, validation: Validation, style: str, used: TokenUsage, note: str = ""
    ) -> WrittenStatements:
        try:
            statement = write_statement(gold, candidate, validation, style, hint=False)
            hinted = write_statement(gold, candidate, validation, style, hint=True)
        except StatementLeak as leak:
            raise StatementLeakWithUsage(str(leak), used) from None
        note = f"model statement not used ({note}); templates written instead" if note else ""
        return WrittenStatements(statement, hinted, TEMPLATE_AUTHOR, used, note)
