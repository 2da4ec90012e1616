"""The agent inverter's tools: a shell in the gold container, the gold test suite, and the submission.

Tool results are text for the model: exit code and output cut to a budget (head and tail), how many gold
tests now fail and why, or what is wrong with a submission so that it can try again. Refusing a submission
that edits the repository is fast feedback only; validation's ``repo_untouched`` check is the guarantee.
"""

from __future__ import annotations

import os.path
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from docker.errors import DockerException
from pydantic import BaseModel, Field

from cligym.errors import SandboxUnavailableError
from cligym.generation.gold.dockerfile import JUNIT_PATH, PYTEST_REPORT_PATH
from cligym.generation.gold.record import GoldRecord
from cligym.generation.gold.suite_run import install_report_plugin, read_outcomes, run_suite
from cligym.generation.gold.tracked_files import repo_file_hashes
from cligym.generation.gold.verdict import changed_files, failing_tests, failure_messages
from cligym.llm import BASH_TOOL, ToolSpec
from cligym.llm.observation import clip
from cligym.sandbox import Sandbox

MAX_SUBMITTED_COMMANDS = 20
MAX_FAILING_SHOWN = 5
MAX_ERROR_LINES = 12
_STRING_LIST = {"type": "array", "items": {"type": "string"}}

TOOLS = [
    BASH_TOOL,
    ToolSpec(
        name="run_tests",
        description="Run the repository's test suite in the container; reports which previously passing tests "
        "now fail and the first error.",
    ),
    ToolSpec(
        name="submit",
        description="Finish: the commands that reproduce the break on a fresh copy of the environment, and the "
        "commands that repair it.",
        parameters={
            "type": "object",
            "properties": {
                "break_commands": {
                    **_STRING_LIST,
                    "description": "Shell commands (run by /bin/sh as Dockerfile RUN lines, in order) that "
                    "reproduce the break on the unbroken environment.",
                },
                "env": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Environment variables to set in the image (Dockerfile ENV lines), if any.",
                },
                "repair_commands": {
                    **_STRING_LIST,
                    "description": "Shell commands that repair the environment from inside the broken container.",
                },
                "description": {"type": "string", "description": "One line: what the break does."},
            },
            "required": ["break_commands", "repair_commands", "description"],
        },
    ),
]
TOOL_NAMES = tuple(tool.name for tool in TOOLS)

_DOCKERFILE_INSTRUCTION = re.compile(
    r"^(FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|"
    r"SHELL)\s"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Commands that change the files named in their arguments; sed and perl only with -i.
_WRITING_COMMANDS = {
    "rm", "rmdir", "mv", "cp", "install", "rsync", "ln", "touch", "truncate", "tee", "chmod", "chown", "chgrp",
    "chattr", "setfacl", "unlink", "shred", "patch", "dd", "sed", "perl", "git", "mkdir",
}  # fmt: skip
_DESTINATION_LAST = {"cp", "install", "rsync", "ln"}


class SubmissionRefused(ValueError):
    """The submission cannot become a task as it is; the message tells the model what to change."""


class Submission(BaseModel):
    """A validated ``submit`` call."""

    break_commands: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    repair_commands: list[str]
    description: str


def parse_submission(arguments: dict[str, Any], repo_path: str) -> Submission:
    """Check a submission; ``SubmissionRefused`` names every problem found."""
    problems: list[str] = []
    given_breaks = _command_list(arguments, "break_commands", problems)
    given_repairs = _command_list(arguments, "repair_commands", problems)
    breaks, repairs = given_breaks or [], given_repairs or []
    env = arguments.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(v, str | int | float) for v in env.values()):
        problems.append("env must be an object mapping variable names to string values")
        env = {}
    env = {str(name): str(value) for name, value in env.items()}
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            problems.append(f"env: {name!r} is not a valid variable name")
        if "\n" in value:
            problems.append(f"env: the value of {name} spans several lines")
    if given_breaks == [] and not env:
        problems.append("break_commands is empty: give the commands that reproduce the break")
    if given_repairs == []:
        problems.append("repair_commands is empty: give the commands that repair the break")
    for role, commands in (("break", breaks), ("repair", repairs)):
        for command in commands:
            if role == "break" and "\n" in command:
                problems.append(f"break command {command[:60]!r} spans several lines: join them with &&")
            if _DOCKERFILE_INSTRUCTION.match(command):
                problems.append(
                    f"{role} command {command[:60]!r} is a Dockerfile instruction: give plain shell commands "
                    "(there is no build context to COPY or ADD from; each break command becomes a RUN line)"
                )
            elif edits_repository(command, repo_path):
                problems.append(
                    f"{role} command {command[:60]!r} changes files under {repo_path}: the repository must stay "
                    "as it is; break its environment instead"
                )
    description = str(arguments.get("description") or "").strip().splitlines()
    if not description:
        problems.append("description is empty: say in one line what the break does")
    if problems:
        raise SubmissionRefused("submission refused: " + "; ".join(problems))
    return Submission(break_commands=breaks, env=env, repair_commands=repairs, description=description[0][:200])


def _command_list(arguments: dict[str, Any], key: str, problems: list[str]) -> list[str] | None:
    """The non-blank commands under ``key`` ([] when absent); None, with the problem noted, when malformed."""
    value = arguments.get(key)
    if value is None:
        return []
    if isinstance(value, str):  # one command given as a string: accept it rather than spend a step
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{key} must be a list of strings")
        return None
    commands = [item.strip() for item in value if item.strip()]
    if len(commands) > MAX_SUBMITTED_COMMANDS:
        problems.append(f"{key} has {len(commands)} commands; at most {MAX_SUBMITTED_COMMANDS}")
    return commands


def edits_repository(command: str, repo_path: str) -> bool:
    """Whether ``command`` visibly writes under ``repo_path`` (redirections, file-changing commands given a
    path in it, or such commands after ``cd`` into it). A heuristic: shell indirection can hide an edit."""
    repo = re.escape(repo_path.rstrip("/"))
    in_repo = re.compile(rf"(?<![\w./-]){repo}(?=$|[/\s'\";&|)])")
    if re.search(rf">>?\s*['\"]?{repo}(?=$|[/\s'\"])", command):
        return True
    inside = False
    for segment in re.split(r"&&|\|\||[;|\n]", command):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        while words and (words[0] in ("sudo", "env", "command", "exec", "xargs") or "=" in words[0]):
            words = words[1:]
        if not words:
            continue
        verb = os.path.basename(words[0])
        arguments = words[1:]
        if verb in ("cd", "pushd"):
            inside = bool(arguments) and bool(in_repo.match(arguments[0]))
            continue
        if verb not in _WRITING_COMMANDS:
            continue
        if verb in ("sed", "perl") and not any(a.startswith(("-i", "--in-place")) for a in arguments):
            continue
        paths = [a for a in arguments if not a.startswith("-")]
        if verb in _DESTINATION_LAST and paths:
            paths = paths[-1:]
        if verb == "dd":
            paths = [a.removeprefix("of=") for a in arguments if a.startswith("of=")]
        if any(in_repo.match(path) for path in paths):
            return True
        if inside and any(not path.startswith("/") for path in paths):
            return True
    return False


@dataclass
class GoldTestRun:
    """The gold tests in the agent's container: which fail now, and the first error."""

    total: int
    failing: list[str] = field(default_factory=list)
    first_error: str = ""
    reported: bool = True
    summary: str = ""
    changed_files: list[str] = field(default_factory=list)


def run_gold_tests(
    box: Sandbox, gold: GoldRecord, timeout: float, environment: dict[str, str] | None = None
) -> GoldTestRun:
    """Run the gold suite as validation does (``environment`` stands for the break's ENV lines); without a
    report every gold test counts as failing."""
    # A report left by an earlier run must not stand in for this one: empty files fail to parse.
    for path in (PYTEST_REPORT_PATH, JUNIT_PATH):
        box.write_file(path, b"")
    if environment:
        install_report_plugin(box)
        result = box.exec(gold.test_command, timeout=timeout, workdir=gold.repo_path, environment=environment)
    else:
        result = run_suite(box, gold.test_command, gold.repo_path, timeout)
    read = read_outcomes(box, gold.runner)
    gold_tests = set(gold.gold_tests)
    ending = f"killed after {timeout:g} s" if result.timed_out else f"exit code {result.exit_code}"
    run = GoldTestRun(
        total=len(gold_tests),
        summary=f"{ending}, {result.duration_s:.1f} s",
        changed_files=changed_tracked_files(box, gold),
    )
    if read is None:
        run.failing = sorted(gold_tests)
        run.reported = False
        run.first_error = "\n".join((result.stdout + result.stderr).strip().splitlines()[-MAX_ERROR_LINES:])
        return run
    run.failing = sorted(failing_tests(read[0], gold_tests))
    messages = failure_messages(read[0], run.failing)
    first = next((messages[test] for test in run.failing if test in messages), "")
    run.first_error = "\n".join(first.strip().splitlines()[-MAX_ERROR_LINES:])
    return run


def changed_tracked_files(box: Sandbox, gold: GoldRecord) -> list[str]:
    """Tracked files whose content is not gold's any more (all of them when the repository is unreadable)."""
    try:
        current = repo_file_hashes(box, gold.repo_path, set(gold.tracked_files))
    except (DockerException, OSError, SandboxUnavailableError):
        return sorted(gold.tracked_files)
    return changed_files(gold.tracked_files, current)


def suite_observation(run: GoldTestRun, budget: int) -> str:
    """What the model sees of a test run: counts, failing tests by file, a few ids, the first error."""
    if not run.failing:
        lines = [f"All {run.total} gold tests still pass ({run.summary})."]
    else:
        lines = [f"{len(run.failing)} of {run.total} gold tests now fail ({run.summary})."]
        if not run.reported:
            lines.append("The suite wrote no report (it did not get as far as running the tests).")
        by_file = Counter(test.split("::", 1)[0] for test in run.failing)
        lines.append("Failing per file: " + ", ".join(f"{name} ({count})" for name, count in sorted(by_file.items())))
        # One example per file first: the files tell more about the break than neighbouring tests do.
        examples = [next(t for t in run.failing if t.startswith(f"{name}::") or t == name) for name in sorted(by_file)]
        examples += [t for t in run.failing if t not in examples]
        lines.append("For example: " + ", ".join(examples[:MAX_FAILING_SHOWN]))
        if run.first_error:
            lines.append("First error:\n" + run.first_error)
    if run.changed_files:
        lines.append(
            "Warning: tracked files of the repository changed: "
            + ", ".join(run.changed_files[:MAX_FAILING_SHOWN])
            + ". A break that changes them is rejected; do not change the repository."
        )
    return clip("\n".join(lines), budget)
