"""One episode: a model repairs one task in its own container, step by step, then the task's verifier judges
the container it left.

Two action formats: ``tool`` (the model calls ``bash`` and ``submit``; vLLM serves this with its tool-call
parsers) and ``text`` (one fenced command per reply and ``DONE`` to finish, for models served without tool
parsing). Each command runs through the sandbox with a timeout; what the model sees of its output is cut to
a budget, head and tail. The episode ends on submit, on a step, token or time limit, when the same command
failed several times in a row, or when the model endpoint gives up; the verifier then runs all the same
(except when the container itself is gone), so every episode has a reward.
"""

from __future__ import annotations

import string
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cligym.agent import ActionResult, AgentLoop, Limits
from cligym.configs import CONFIG_DIR
from cligym.errors import SandboxUnavailableError
from cligym.generation.export.task_files import HARNESS_MANIFEST
from cligym.llm import (
    BASH_TOOL,
    ChatClient,
    ChatMessage,
    ChatReply,
    ModelUnavailableError,
    ToolSpec,
    system_message,
    user_message,
)
from cligym.llm.observation import command_observation
from cligym.rollout.changes import FileChanges, episode_changes
from cligym.rollout.task_dir import RolloutTask
from cligym.rollout.trajectory import (
    SamplingConfig,
    Step,
    TerminationReason,
    Totals,
    Trajectory,
    VerifierResult,
    episode_id,
)
from cligym.rollout.verifier import verify_episode
from cligym.sandbox import Sandbox
from cligym.settings import RolloutSettings, SandboxSettings

PROMPTS_DIR = CONFIG_DIR / "prompts"
TOOLS = [
    BASH_TOOL,
    ToolSpec(name="submit", description="Finish: the environment is repaired and the tests pass."),
]
NO_TOOL_CALL = "No tool was called. Run a command with the bash tool, or call submit when the repair is done."
NO_COMMAND = "No command found. Reply with exactly one ```bash fenced block, or DONE when the repair is done."
SUBMITTED = "Submitted. The task will now be verified."


def system_prompt(action_format: str, prompts_dir: Path = PROMPTS_DIR) -> str:
    rules = (prompts_dir / f"rollout_action_{action_format}.md").read_text().strip()
    return string.Template((prompts_dir / "rollout_system.md").read_text()).substitute(action_rules=rules).strip()


@dataclass
class _Failures:
    """The run of identical failing commands that may end the episode."""

    last: str | None = None
    repeated: int = 0


class Episode:
    """Runs one sample of one task; ``run`` returns the full trajectory record."""

    def __init__(
        self,
        client: ChatClient,
        task: RolloutTask,
        image: str,
        settings: RolloutSettings,
        sandbox_settings: SandboxSettings,
        sample: int = 0,
        run_id: str | None = None,
        seed: int | None = None,
        prompts_dir: Path = PROMPTS_DIR,
    ) -> None:
        self.client = client
        self.task = task
        self.image = image
        self.settings = settings
        self.sandbox_settings = sandbox_settings
        self.sample = sample
        self.run_id = run_id
        self.seed = seed
        self.tool_mode = settings.action_format == "tool"
        self.messages: list[ChatMessage] = [
            system_message(system_prompt(settings.action_format, prompts_dir)),
            user_message(task.instruction.strip()),
        ]
        self.log: list[Step] = []
        self.failures = _Failures()
        self.loop = self._loop()
        self._box: Sandbox | None = None

    def run(self) -> Trajectory:
        started_at = datetime.now(UTC)
        started = time.monotonic()
        verifier: VerifierResult | None = None
        changes: FileChanges | None = None
        loop = self.loop
        with Sandbox(self.image, run_id=self.run_id, settings=self.sandbox_settings, name_prefix="cligym-ep") as box:
            self._box = box
            try:
                reason, detail = self._act()
                # Before the verifier copies its files in: what the agent changed, judged from outside.
                changes = episode_changes(box, self.task.tests_dir / HARNESS_MANIFEST)
                timeout = self.settings.verifier_timeout or self.task.verifier_timeout
                verifier, changes = verify_episode(box, self.task, timeout, changes, self.sandbox_settings)
            except SandboxUnavailableError as exc:
                reason, detail = "sandbox_error", exc.message
        return Trajectory(
            episode_id=episode_id(self.task.task_id, self.sample),
            task_id=self.task.task_id,
            sample=self.sample,
            task_path=str(self.task.path),
            repo=self.task.repo,
            category=self.task.category,
            action_format=self.settings.action_format,
            sampling=SamplingConfig(
                model=self.client.model,
                base_url=self.client.base_url,
                temperature=self.client.temperature,
                top_p=self.client.top_p,
                max_tokens=self.client.max_tokens,
                seed=self.seed,
            ),
            tools=[tool.to_wire() for tool in TOOLS] if self.tool_mode else [],
            messages=list(self.messages),
            steps=self.log,
            verifier=verifier,
            changes=changes,
            totals=Totals(
                steps=loop.steps,
                commands=sum(1 for step in self.log if step.command is not None),
                prompt_tokens=loop.usage.prompt_tokens,
                completion_tokens=loop.usage.completion_tokens,
                seconds=round(time.monotonic() - started, 2),
                model_seconds=round(loop.model_seconds, 2),
                command_seconds=round(sum(step.duration_s for step in self.log), 2),
            ),
            termination_reason=reason,
            termination_detail=detail,
            started_at=started_at,
            finished_at=datetime.now(UTC),
        )

    # -- what the shared loop gets from this stage ---------------------------------------------------------

    def _loop(self) -> AgentLoop:
        settings = self.settings
        return AgentLoop(
            client=self.client,
            messages=self.messages,
            tools=TOOLS,
            handlers={"bash": self._bash, "submit": self._submit},
            limits=Limits(settings.max_steps, settings.max_total_tokens, settings.max_seconds),
            no_action_nudge=NO_TOOL_CALL,
            no_command_nudge=NO_COMMAND,
            seed=self.seed,
            text_format=not self.tool_mode,
            on_action=self._record,
            end_rule=self._repeated_failure,
        )

    def _act(self) -> tuple[TerminationReason, str]:
        try:
            end = self.loop.run()
        except ModelUnavailableError as exc:
            return "model_error", exc.message
        if end.reason == "stopped":
            return "repeated_failure", end.detail
        return end.reason, end.detail

    def _bash(self, arguments: dict[str, Any]) -> ActionResult:
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            problem = 'error: bash needs a non-empty "command" string'
            return ActionResult(problem, error=problem)
        assert self._box is not None, "the loop runs inside run()"
        result = self._box.exec(
            command,
            timeout=self.settings.command_timeout,
            output_cap_bytes=max(self.settings.observation_bytes * 4, 65_536),
        )
        failures = self.failures
        if result.ok:
            failures.last, failures.repeated = None, 0
        elif command == failures.last:
            failures.repeated += 1
        else:
            failures.last, failures.repeated = command, 1
        return ActionResult(
            command_observation(result, self.settings.observation_bytes),
            command=command,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            duration_s=result.duration_s,
        )

    def _submit(self, arguments: dict[str, Any]) -> ActionResult:
        return ActionResult(SUBMITTED, finished=True, logged="submitted")

    def _repeated_failure(self) -> tuple[str, str] | None:
        failures = self.failures
        if failures.repeated >= self.settings.repeated_failure_limit:
            return "repeated_failure", f"{failures.last!r} failed {failures.repeated} times in a row"
        return None

    def _record(self, reply: ChatReply | None, call_id: str | None, result: ActionResult) -> None:
        step = Step(
            index=self.loop.steps,
            command=result.command,
            output=result.logged if result.logged is not None else result.observation,
            tool_call_id=call_id,
            error=result.error,
            model_seconds=reply.seconds if reply else 0.0,
            prompt_tokens=reply.usage.prompt_tokens if reply else 0,
            completion_tokens=reply.usage.completion_tokens if reply else 0,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            duration_s=result.duration_s,
        )
        self.log.append(step)
