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

import re
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cligym.configs import CONFIG_DIR
from cligym.errors import SandboxUnavailableError
from cligym.generation.export.task_files import HARNESS_MANIFEST
from cligym.llm import (
    BASH_TOOL,
    ChatClient,
    ChatReply,
    Message,
    ModelRequestRejected,
    ModelUnavailableError,
    ToolCall,
    ToolSpec,
)
from cligym.llm.client import tool_message
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
from cligym.rollout.verifier import run_verifier, with_outside_view
from cligym.sandbox import Sandbox
from cligym.settings import RolloutSettings, SandboxSettings

PROMPTS_DIR = CONFIG_DIR / "prompts"
TOOLS = [
    BASH_TOOL,
    ToolSpec(name="submit", description="Finish: the environment is repaired and the tests pass."),
]
NO_TOOL_CALL = "No tool was called. Run a command with the bash tool, or call submit when the repair is done."
NO_COMMAND = "No command found. Reply with exactly one ```bash fenced block, or DONE when the repair is done."
_FENCED = re.compile(r"```(?:bash|sh|shell|console)?[ \t]*\n(.*?)```", re.S)
_DONE = re.compile(r"^\s*DONE\s*$", re.M)
_THINKING = re.compile(r"<think>.*?</think>", re.S)


def system_prompt(action_format: str, prompts_dir: Path = PROMPTS_DIR) -> str:
    rules = (prompts_dir / f"rollout_action_{action_format}.md").read_text().strip()
    return string.Template((prompts_dir / "rollout_system.md").read_text()).substitute(action_rules=rules).strip()


@dataclass
class _Budget:
    """What the episode has spent, and the run of identical failures that may end it."""

    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    last_failure: str | None = None
    repeated_failures: int = 0
    log: list[Step] = field(default_factory=list)


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
        self.messages: list[Message] = [
            {"role": "system", "content": system_prompt(settings.action_format, prompts_dir)},
            {"role": "user", "content": task.instruction.strip()},
        ]
        self.budget = _Budget()

    def run(self) -> Trajectory:
        started_at = datetime.now(UTC)
        started = time.monotonic()
        verifier: VerifierResult | None = None
        changes: FileChanges | None = None
        with Sandbox(self.image, run_id=self.run_id, settings=self.sandbox_settings, name_prefix="cligym-ep") as box:
            try:
                reason, detail = self._act(box, started)
                # Before the verifier copies its files in: what the agent changed, judged from outside.
                changes = episode_changes(box, self.task.tests_dir / HARNESS_MANIFEST)
                timeout = self.settings.verifier_timeout or self.task.verifier_timeout
                verifier = with_outside_view(run_verifier(box, self.task, timeout), changes)
            except SandboxUnavailableError as exc:
                reason, detail = "sandbox_error", exc.message
        budget = self.budget
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
            messages=[dict(message) for message in self.messages],
            steps=budget.log,
            verifier=verifier,
            changes=changes,
            totals=Totals(
                steps=budget.steps,
                commands=sum(1 for step in budget.log if step.command is not None),
                prompt_tokens=budget.prompt_tokens,
                completion_tokens=budget.completion_tokens,
                seconds=round(time.monotonic() - started, 2),
                model_seconds=round(budget.model_seconds, 2),
                command_seconds=round(sum(step.duration_s for step in budget.log), 2),
            ),
            termination_reason=reason,
            termination_detail=detail,
            started_at=started_at,
            finished_at=datetime.now(UTC),
        )

    # -- the loop ----------------------------------------------------------------------------------------

    def _act(self, box: Sandbox, started: float) -> tuple[TerminationReason, str]:
        while True:
            limit = self._limit_reached(time.monotonic() - started)
            if limit is not None:
                return limit
            try:
                reply = self.client.complete(self.messages, TOOLS if self.tool_mode else (), seed=self.seed)
            except ModelRequestRejected as exc:
                return "model_error", f"the model server refused the conversation: {exc.message}"
            except ModelUnavailableError as exc:
                return "model_error", exc.message
            budget = self.budget
            budget.steps += 1
            budget.prompt_tokens += reply.usage.prompt_tokens
            budget.completion_tokens += reply.usage.completion_tokens
            budget.model_seconds += reply.seconds
            done = self._tool_turn(box, reply) if self.tool_mode else self._text_turn(box, reply)
            if done:
                return "submitted", ""
            if budget.repeated_failures >= self.settings.repeated_failure_limit:
                return "repeated_failure", f"{budget.last_failure!r} failed {budget.repeated_failures} times in a row"

    def _limit_reached(self, seconds: float) -> tuple[TerminationReason, str] | None:
        limits, budget = self.settings, self.budget
        if budget.steps >= limits.max_steps:
            return "step_limit", f"{limits.max_steps} model turns"
        if budget.prompt_tokens + budget.completion_tokens >= limits.max_total_tokens:
            return "token_limit", f"{limits.max_total_tokens} tokens"
        if seconds >= limits.max_seconds:
            return "time_limit", f"{limits.max_seconds:g} s"
        return None

    def _tool_turn(self, box: Sandbox, reply: ChatReply) -> bool:
        self.messages.append(reply.message.to_wire(safe_arguments=True))
        calls = reply.message.tool_calls
        if not calls:
            self._record(reply, None, NO_TOOL_CALL, error="no tool call")
            self.messages.append({"role": "user", "content": NO_TOOL_CALL})
            return False
        for position, call in enumerate(calls):
            turn_reply = reply if position == 0 else None  # a turn's tokens are counted once
            if call.name == "submit":
                self._record(turn_reply, None, "submitted", call_id=call.id)
                self.messages.append(tool_message(call.id, "Submitted. The task will now be verified."))
                return True
            command, problem = _bash_command(call)
            if command is None:
                self._record(turn_reply, None, problem, call_id=call.id, error=problem)
                self.messages.append(tool_message(call.id, problem))
                continue
            observation = self._run(box, command, turn_reply, call.id)
            self.messages.append(tool_message(call.id, observation))
        return False

    def _text_turn(self, box: Sandbox, reply: ChatReply) -> bool:
        content = reply.message.content or ""
        self.messages.append({"role": "assistant", "content": content})
        visible = _THINKING.sub("", content)
        blocks = _FENCED.findall(visible)
        if not blocks:
            if _DONE.search(visible):
                self._record(reply, None, "submitted")
                return True
            self._record(reply, None, NO_COMMAND, error="no command block")
            self.messages.append({"role": "user", "content": NO_COMMAND})
            return False
        observation = self._run(box, blocks[0].strip(), reply, None)
        if len(blocks) > 1:
            observation += "\n(only the first code block was run; send one command per reply)"
        self.messages.append({"role": "user", "content": observation})
        return False

    def _run(self, box: Sandbox, command: str, reply: ChatReply | None, call_id: str | None) -> str:
        result = box.exec(
            command,
            timeout=self.settings.command_timeout,
            output_cap_bytes=max(self.settings.observation_bytes * 4, 65_536),
        )
        observation = command_observation(result, self.settings.observation_bytes)
        self._record(
            reply,
            command,
            observation,
            call_id=call_id,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            duration_s=result.duration_s,
        )
        budget = self.budget
        if result.ok:
            budget.last_failure, budget.repeated_failures = None, 0
        elif command == budget.last_failure:
            budget.repeated_failures += 1
        else:
            budget.last_failure, budget.repeated_failures = command, 1
        return observation

    def _record(
        self,
        reply: ChatReply | None,
        command: str | None,
        output: str,
        call_id: str | None = None,
        error: str | None = None,
        **result: Any,
    ) -> None:
        self.budget.log.append(
            Step(
                index=self.budget.steps,
                command=command,
                output=output,
                tool_call_id=call_id,
                error=error,
                model_seconds=reply.seconds if reply else 0.0,
                prompt_tokens=reply.usage.prompt_tokens if reply else 0,
                completion_tokens=reply.usage.completion_tokens if reply else 0,
                **result,
            )
        )


def _bash_command(call: ToolCall) -> tuple[str | None, str]:
    """The command of a ``bash`` call, or None and what to tell the model instead."""
    if call.name != "bash":
        return None, f"error: there is no tool {call.name!r}; the tools are bash and submit"
    try:
        arguments = call.parsed_arguments()
    except ValueError as exc:
        return None, f"error: {exc}; send the arguments as a JSON object"
    command = arguments.get("command")
    if not isinstance(command, str) or not command.strip():
        return None, 'error: bash needs a non-empty "command" string'
    return command, ""
