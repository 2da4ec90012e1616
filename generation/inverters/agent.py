"""The agent inverter: an LLM breaks a gold environment through a shell, guided by test results.

Each proposal aims at one category: the one with the fewest valid tasks in the run's history so far, then
the one this inverter tried least, then a seeded order (so categories take turns and a resumed run picks
the same). The model gets the job, a compact summary of the gold probe and the tasks already made, and works
in a container from the gold image with three tools (``bash``, ``run_tests``, ``submit``; see
generation/inverters/agent_session.py). An accepted submission becomes the candidate; a proposal that runs out of
budget becomes a candidate without break steps, which the run records as rejected by ``no_proposal``,
its tokens counted all the same. After ``max_proposals`` proposals for a repository in a run, ``propose``
returns None: the inverter has nothing left to try.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from cligym.errors import ConfigError
from cligym.generation.gold.record import GoldRecord
from cligym.generation.inverters.agent_prompts import PROMPTS_DIR, system_prompt, task_prompt
from cligym.generation.inverters.agent_session import InversionSession, SessionOutcome
from cligym.generation.operators.base import Category, env, run
from cligym.generation.task_record import Attempt, Candidate, Provenance
from cligym.llm import ChatClient, system_message, user_message
from cligym.settings import AgentInverterSettings, SandboxSettings, Settings

INVERTER_PREFIX = "agent:"


class AgentInverter:
    """Implements the Inverter protocol with a model behind any OpenAI-compatible endpoint."""

    name = "agent"

    def __init__(
        self,
        client: ChatClient,
        settings: AgentInverterSettings | None = None,
        sandbox_settings: SandboxSettings | None = None,
        run_id: str | None = None,
        prompts_dir: Path = PROMPTS_DIR,
    ) -> None:
        self.client = client
        self.settings = settings or AgentInverterSettings()
        self.sandbox_settings = sandbox_settings or SandboxSettings()
        self.run_id = run_id
        self.prompts_dir = prompts_dir
        self.categories = _categories(self.settings.categories)

    @property
    def inverter_name(self) -> str:
        """What candidates record as their inverter: ``agent:<model>``."""
        return f"{INVERTER_PREFIX}{self.client.model}"

    def propose(self, gold: GoldRecord, history: Sequence[Attempt]) -> Candidate | None:
        """Run one proposal session; None once ``max_proposals`` proposals were made for this repository."""
        own = [attempt for attempt in history if attempt.candidate.inverter.startswith(INVERTER_PREFIX)]
        if self.settings.max_proposals is not None and len(own) >= self.settings.max_proposals:
            return None
        category = self.next_category(gold, history)
        seed = self.settings.seed + len(own)
        messages = [
            system_message(system_prompt(gold, self.settings, self.prompts_dir)),
            user_message(task_prompt(gold, category, history, self.prompts_dir)),
        ]
        session = InversionSession(
            self.client, gold, self.settings, self.sandbox_settings, messages, run_id=self.run_id, seed=seed
        )
        return self._candidate(gold, category, seed, session.run())

    def next_category(self, gold: GoldRecord, history: Sequence[Attempt]) -> Category:
        """Fewest valid tasks first, then fewest proposals of this inverter, then a seeded order."""
        valid: Counter[Category] = Counter()
        tried: Counter[Category] = Counter()
        for attempt in history:
            if attempt.valid:
                valid.update(attempt.candidate.categories)
            if attempt.candidate.inverter.startswith(INVERTER_PREFIX):
                tried[attempt.candidate.category] += 1
        order = list(self.categories)
        random.Random(f"{gold.name}:{self.settings.seed}").shuffle(order)
        return min(order, key=lambda category: (valid[category], tried[category], order.index(category)))

    def _candidate(self, gold: GoldRecord, category: Category, seed: int, outcome: SessionOutcome) -> Candidate:
        provenance = Provenance(
            model=self.client.model,
            prompt_tokens=outcome.usage.prompt_tokens,
            completion_tokens=outcome.usage.completion_tokens,
            steps=outcome.steps,
            seconds=outcome.seconds,
            commands=outcome.commands,
        )
        common = {"repo": gold.name, "category": category, "inverter": self.inverter_name, "seed": seed}
        submission = outcome.submission
        if submission is None:
            return Candidate(
                **common,  # type: ignore[arg-type]
                description=f"no valid submission from {self.client.model}: {outcome.stop_reason}",
                break_steps=[],
                repair_commands=[],
                provenance=provenance,
            )
        return Candidate(
            **common,  # type: ignore[arg-type]
            description=submission.description,
            break_steps=[
                *(run(command) for command in submission.break_commands),
                *(env(name, _env_value(value)) for name, value in submission.env.items()),
            ],
            repair_commands=submission.repair_commands,
            provenance=provenance,
        )


def agent_inverter_from_settings(settings: Settings, run_id: str | None) -> AgentInverter:
    """The agent inverter as the settings describe it (``model:`` and ``agent_inverter:``)."""
    return AgentInverter(
        ChatClient.from_settings(settings.model), settings.agent_inverter, settings.sandbox, run_id=run_id
    )


def _categories(names: Sequence[str] | None) -> list[Category]:
    if not names:
        return list(Category)
    known = {str(category) for category in Category}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"agent_inverter.categories: unknown category {', '.join(map(repr, unknown))}",
            f"choose from {', '.join(sorted(known))}",
        )
    return [Category(name) for name in dict.fromkeys(names)]


def _env_value(value: str) -> str:
    """A value as a Dockerfile ENV line needs it: quoted when it holds spaces, quotes or backslashes."""
    if value and not any(character in value for character in " \t\"'\\$"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
