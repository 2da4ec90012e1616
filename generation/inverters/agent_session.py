"""One proposal of the agent inverter: a model drives a shell in a gold container until it submits a break.

The loop ends on a valid submission or when a budget (steps, tokens, seconds) runs out. Every model reply is
a step, including replies with malformed or unknown tool calls, which are answered with an error so that the
model can correct itself. A submission is checked before it is accepted: statically (shell commands, not
Dockerfile instructions; nothing that edits the repository), then replayed as the Dockerfile would run it
(``/bin/sh``, in a fresh container from the gold image) and, when asked, the gold tests run there to see
that it reproduces a failure. A refusal goes back to the model as the tool's result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cligym.agent import ActionResult, AgentLoop, Limits, LoopEnd
from cligym.errors import SandboxUnavailableError
from cligym.generation.gold.record import GoldRecord
from cligym.generation.inverters.agent_tools import (
    TOOL_NAMES,
    TOOLS,
    Submission,
    SubmissionRefused,
    parse_submission,
    run_gold_tests,
    suite_observation,
)
from cligym.llm import ChatClient, ChatMessage, TokenUsage
from cligym.llm.observation import command_observation
from cligym.sandbox import Sandbox
from cligym.settings import AgentInverterSettings, SandboxSettings

SANDBOX_PREFIX = "cligym-invert"
NO_TOOL_CALL = "Call one of the tools ({tools}); to finish, call submit."


@dataclass
class SessionOutcome:
    """How a proposal ended, and what it cost."""

    submission: Submission | None
    stop_reason: str
    steps: int
    usage: TokenUsage
    seconds: float
    commands: list[str] = field(default_factory=list)


class InversionSession:
    """The tool loop of one proposal; ``run`` starts the container and always removes it."""

    def __init__(
        self,
        client: ChatClient,
        gold: GoldRecord,
        settings: AgentInverterSettings,
        sandbox_settings: SandboxSettings,
        messages: list[ChatMessage],
        run_id: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.gold = gold
        self.settings = settings
        self.sandbox_settings = sandbox_settings
        self.messages = messages
        self.run_id = run_id
        self.seed = seed
        self.commands: list[str] = []
        self.submission: Submission | None = None
        self.test_timeout = settings.test_timeout or float(gold.spec.timeout)
        self._box: Sandbox | None = None

    def run(self) -> SessionOutcome:
        started = time.monotonic()
        limits = self.settings
        loop = AgentLoop(
            client=self.client,
            messages=self.messages,
            tools=TOOLS,
            handlers={"bash": self._bash, "run_tests": self._run_tests, "submit": self._submit},
            limits=Limits(limits.max_steps, limits.max_total_tokens, limits.max_seconds),
            no_action_nudge=NO_TOOL_CALL.format(tools=", ".join(TOOL_NAMES)),
            seed=self.seed,
        )
        try:
            end = loop.run()
        finally:
            self._discard_box()
        return SessionOutcome(
            submission=self.submission,
            stop_reason=_stop_reason(end),
            steps=end.steps,
            usage=end.usage,
            seconds=round(time.monotonic() - started, 2),
            commands=self.commands,
        )

    def _bash(self, arguments: dict[str, Any]) -> ActionResult:
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            return ActionResult('error: bash needs {"command": "<a shell command>"}')
        self.commands.append(command)
        budget = self.settings.observation_bytes
        try:
            result = self.box.exec(command, timeout=self.settings.command_timeout, output_cap_bytes=budget)
        except SandboxUnavailableError as exc:
            return ActionResult(self._replace_box(exc.message))
        return ActionResult(command_observation(result, budget), command=command)

    def _run_tests(self, arguments: dict[str, Any]) -> ActionResult:
        try:
            run = run_gold_tests(self.box, self.gold, self.test_timeout)
        except SandboxUnavailableError as exc:
            return ActionResult(self._replace_box(exc.message))
        except OSError as exc:  # our report files could not be written: the container's /tmp is broken
            return ActionResult(f"error: the tests could not be run here: {exc}")
        return ActionResult(suite_observation(run, self.settings.observation_bytes))

    def _submit(self, arguments: dict[str, Any]) -> ActionResult:
        try:
            submission = parse_submission(arguments, self.gold.repo_path)
            self._replay(submission)
        except SubmissionRefused as refusal:
            return ActionResult(str(refusal))
        except (SandboxUnavailableError, OSError) as exc:
            message = exc.message if isinstance(exc, SandboxUnavailableError) else str(exc)
            return ActionResult(
                f"submission refused: replaying the break on a fresh copy wrecked the container ({message})"
            )
        self.submission = submission
        return ActionResult("Submission accepted.", finished=True)

    def _replay(self, submission: Submission) -> None:
        """Run the break as the task Dockerfile will, on a fresh gold container; refuse what does not hold."""
        budget = self.settings.observation_bytes // 2
        with Sandbox(
            self.gold.image.tag, run_id=self.run_id, settings=self.sandbox_settings, name_prefix=SANDBOX_PREFIX
        ) as fresh:
            for number, command in enumerate(submission.break_commands, 1):
                result = fresh.exec(command, timeout=self.settings.command_timeout, shell="/bin/sh")
                if not result.ok:
                    raise SubmissionRefused(
                        f"submission refused: break command {number} fails on a fresh copy of the environment "
                        f"when /bin/sh runs it as a Dockerfile RUN line would:\n{command_observation(result, budget)}"
                    )
            if not self.settings.check_submission_breaks:
                return
            # ENV lines come after the commands in the Dockerfile, so the tests see them and the commands do not.
            tests = run_gold_tests(fresh, self.gold, self.test_timeout, environment=submission.env)
        if tests.changed_files:
            raise SubmissionRefused(
                "submission refused: the break commands change tracked files of the repository "
                f"({', '.join(tests.changed_files[:5])}); break the environment, not the repository"
            )
        if not tests.failing:
            raise SubmissionRefused(
                "submission refused: on a fresh copy of the environment, with the break commands and env applied, "
                f"all {tests.total} gold tests still pass; the submission must reproduce the break"
            )

    @property
    def box(self) -> Sandbox:
        if self._box is None:
            self._box = Sandbox(
                self.gold.image.tag, run_id=self.run_id, settings=self.sandbox_settings, name_prefix=SANDBOX_PREFIX
            ).start()
        return self._box

    def _replace_box(self, problem: str) -> str:
        self._discard_box()
        return (
            f"error: the container stopped working ({problem}); the next command runs in a fresh copy of the "
            "unbroken environment"
        )

    def _discard_box(self) -> None:
        box, self._box = self._box, None
        if box is not None:
            box.remove()


def _stop_reason(end: LoopEnd) -> str:
    budget = {"step_limit": "step", "token_limit": "token", "time_limit": "time"}.get(end.reason)
    if budget is not None:
        return f"the {budget} budget ({end.detail}) ran out"
    return end.detail or end.reason
