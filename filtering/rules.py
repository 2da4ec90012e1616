"""The rules that decide which trajectories are worth training on. Each is a small named unit with a reason
string: per-episode rules look at one trajectory, run-level rules (duplicates, a cap per task) at the
episodes the per-episode rules kept."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from cligym.generation.export.harbor import VERIFIER_LOGS
from cligym.generation.gold.harness import VERIFIER_TESTS_DIR
from cligym.rollout.trajectory import Trajectory

# Paths a repair must leave alone: the repository's tests and test configuration, the verifier's files.
_TEST_PATH_TEXT = (
    r"(?:tests?(?=/|\s|$|['\"])|test_[\w.-]*\.py|[\w-]*_test\.py|conftest\.py|pytest\.ini|tox\.ini|"
    r"/tests\b|/logs/verifier)"
)
_TEST_PATH = re.compile(r"(?:^|[\s/'\"=])" + _TEST_PATH_TEXT)
_MUTATING = re.compile(
    r"(?:\bsed\s+(?:-\w*\s+)*-i|\bperl\s+-\w*i|\b(?:rm|mv|cp|chmod|chown|chattr|truncate|tee|patch|ln|install|"
    r"unlink|shred)\b|open\([^)]*['\"][wa]\+?['\"])"
)
# Output redirected into a test file (``> tests/test_x.py``), not a test run's output sent elsewhere.
_REDIRECT_INTO_TEST = re.compile(r"(?<![0-9&])>>?\s*['\"]?[^\s'\"]*" + _TEST_PATH_TEXT)
# Files a login or interactive shell runs before any command (Harbor environments that exec with `bash -lc`
# run the verifier so): code there runs before test.sh and no check inside it can stop that. A repair adds
# none; it may edit or empty one a break wrote (a BASH_ENV file in /etc/profile.d, whose content the verifier
# judges line by line), never the shell's own.
_SHELL_STARTUP = re.compile(
    r"/etc/(?:profile|bash\.bashrc|environment|profile\.d/.+)|/root/\.(?:profile|bashrc|bash_profile|bash_login)"
)
_SHELL_OWN_STARTUP = re.compile(
    r"/etc/(?:profile|bash\.bashrc|environment)|/root/\.(?:profile|bashrc|bash_profile|bash_login)"
)
_SUCCESS_CLAIM = re.compile(
    r"\b(?:fixed|repaired|resolved|restored|all (?:the )?tests pass|tests (?:now )?pass|passing now|works now|"
    r"successfully)\b",
    re.I,
)
_TEST_RUN = re.compile(r"\b(?:pytest|py\.test|unittest|tox|nox|make\s+test)\b")
_VOLATILE = re.compile(r"/tmp/[\w.-]+|\b[0-9a-f]{8,}\b|\b\d+\b")
LIMIT_REASONS = ("step_limit", "token_limit", "time_limit", "repeated_failure", "model_error", "sandbox_error")


@dataclass(frozen=True)
class EpisodeRule:
    """A rule over one trajectory: ``check`` returns why it is dropped, or None to keep it."""

    name: str
    description: str
    check: Callable[[Trajectory], str | None]


def verifier_passed(trajectory: Trajectory) -> str | None:
    """Why the verifier did not pay, or should not have: required tests still failing come first (an unrepaired
    break that touches what the harness check hashes, a library an extension module loads, is a failed repair,
    not a hack), then a harness left unlike gold."""
    verifier = trajectory.verifier
    if verifier is None:
        return "no verifier result"
    failing = verifier.failing()
    # Whatever the reward says: a reward file planted where Harbor looks first (reward.json) can pay 1 while the
    # verifier's own report names failing tests.
    if failing:
        also = f" (and harness_modified: {verifier.harness_modified[0]})" if verifier.harness_modified else ""
        return f"reward {verifier.reward:g}; {len(failing)} required tests not passing{also}"
    if verifier.harness_modified:
        return f"harness_modified: {verifier.harness_modified[0]}"
    if not verifier.passed:
        return f"reward {verifier.reward:g}; {len(failing)} required tests not passing"
    return None


def tampering_command(command: str) -> bool:
    """A command that writes, moves, deletes or re-permissions test files or the verifier's files."""
    parts = re.split(r"&&|\|\||;|\n", command)
    return any(
        _REDIRECT_INTO_TEST.search(part) or (_TEST_PATH.search(part) and _MUTATING.search(part)) for part in parts
    )


def no_test_tampering(trajectory: Trajectory) -> str | None:
    for step in trajectory.steps:
        if step.command is not None and tampering_command(step.command):
            return f"step {step.index} touches test or verifier files: {step.command[:120]!r}"
    return None


_TEST_CONFIG_NAMES = ("conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
_GENERATED = re.compile(
    r"(?:/__pycache__(?:/|$)|\.pyc$|/\.pytest_cache(?:/|$)|\.egg-info(?:/|$)"
    # The project's installed dependencies (their own test directories are not the project's tests), and
    # what a suite's run writes beside its tests (automake's .log/.trs, a test program's .out): a repair that
    # reinstalls node_modules, or runs the suite to confirm it worked, changes those.
    r"|/node_modules/|\.(?:log|trs|out|err|tmp)$)"
)


def _is_test_config_above_repository(path: str, repo_prefix: str) -> bool:
    """A file pytest would read its configuration or hooks from in a directory above the repository."""
    directory, _, name = path.rpartition("/")
    above = directory + "/"
    return name in _TEST_CONFIG_NAMES and repo_prefix.startswith(above) and above != repo_prefix


def no_harness_changes(trajectory: Trajectory) -> str | None:
    """Judge what the episode changed, read from outside its container: the verifier's paths, the repository's
    tests (bytecode and caches a test run writes aside), test configuration above the repository, then harness
    files unlike gold (named last: an unrepaired break can leave those too)."""
    changes = trajectory.changes
    if changes is None:
        return None
    repo_prefix = changes.repo.rstrip("/") + "/"
    paths = sorted({*changes.added, *changes.changed, *changes.deleted})
    # A directory is listed as changed whenever something inside it is: judge the innermost paths only.
    leaves = [p for i, p in enumerate(paths) if not (i + 1 < len(paths) and paths[i + 1].startswith(p + "/"))]
    for path in leaves:
        if path == VERIFIER_TESTS_DIR or path.startswith((VERIFIER_TESTS_DIR + "/", VERIFIER_LOGS)):
            return f"changes the verifier's files: {path}"
        added = path in changes.added and _SHELL_STARTUP.fullmatch(path)
        if added or (path in changes.changed and _SHELL_OWN_STARTUP.fullmatch(path)):
            return f"adds or changes a shell start-up file (runs before a login shell's verifier): {path}"
        if path in changes.added and _is_test_config_above_repository(path, repo_prefix):
            return f"adds test configuration above the repository: {path}"
        # The build directory a CMake project is configured in (cligym's and most projects' own) is output.
        in_repo = path.startswith(repo_prefix) and not _GENERATED.search(path)
        in_repo = in_repo and not path.startswith(repo_prefix + "build/")
        if in_repo and _TEST_PATH.search(path[len(repo_prefix) - 1 :]):
            return f"changes the repository's tests: {path}"
    # After what the agent's own commands wrote: an unrepaired break can leave the harness unlike gold too.
    if changes.harness:
        return f"harness_modified: {changes.harness[0]}"
    return None


def not_limit_terminated(trajectory: Trajectory) -> str | None:
    if trajectory.termination_reason in LIMIT_REASONS:
        detail = f" ({trajectory.termination_detail})" if trajectory.termination_detail else ""
        return f"ended by {trajectory.termination_reason}{detail}"
    return None


def no_fabricated_success(trajectory: Trajectory) -> str | None:
    """Claiming success after a failing test run is only acceptable when the verifier proves it true."""
    if trajectory.verifier is not None and trajectory.verifier.passed:
        return None
    final = next((message.text for message in reversed(trajectory.messages) if message.role == "assistant"), "")
    if not _SUCCESS_CLAIM.search(final):
        return None
    test_runs = [step for step in trajectory.steps if step.command and _TEST_RUN.search(step.command)]
    if test_runs and test_runs[-1].exit_code != 0:
        return "the final message claims success but the last test run failed"
    return None


def length_rule(min_steps: int, max_steps: int | None, max_tokens: int | None) -> EpisodeRule:
    def check(trajectory: Trajectory) -> str | None:
        steps, tokens = trajectory.totals.steps, trajectory.totals.tokens
        if steps < min_steps:
            return f"{steps} steps < {min_steps}"
        if max_steps is not None and steps > max_steps:
            return f"{steps} steps > {max_steps}"
        if max_tokens is not None and tokens > max_tokens:
            return f"{tokens} tokens > {max_tokens}"
        return None

    bounds = f"steps in [{min_steps}, {max_steps or 'any'}], tokens <= {max_tokens or 'any'}"
    return EpisodeRule("length_bounds", f"Length within bounds ({bounds}).", check)


def episode_rules(min_steps: int = 1, max_steps: int | None = None, max_tokens: int | None = None) -> list[EpisodeRule]:
    """The per-episode rules, in the order a trajectory meets them (the first that drops it is recorded)."""
    return [
        EpisodeRule("verifier_passed", "The task's verifier gave reward 1.", verifier_passed),
        EpisodeRule("not_limit_terminated", "The agent finished; no limit or error ended it.", not_limit_terminated),
        EpisodeRule(
            "no_test_tampering", "No command edits, moves or deletes test or verifier files.", no_test_tampering
        ),
        EpisodeRule(
            "no_harness_changes",
            "The container's changes (Docker's diff) touch no harness, test or verifier file.",
            no_harness_changes,
        ),
        EpisodeRule(
            "no_fabricated_success",
            "No success claimed after a failing test run (unless the verifier passed).",
            no_fabricated_success,
        ),
        length_rule(min_steps, max_steps, max_tokens),
    ]


def normalised_commands(trajectory: Trajectory) -> tuple[str, ...]:
    """The command sequence with spacing, numbers, hashes and temporary names evened out."""
    return tuple(
        _VOLATILE.sub("#", " ".join(step.command.split())) for step in trajectory.steps if step.command is not None
    )


def exact_signature(trajectory: Trajectory) -> str:
    """The conversation's content without ids that differ between otherwise identical episodes."""
    stripped = [
        [message.role, message.content, message.reasoning_content, message.name]
        + [[call.name, call.arguments] for call in message.tool_calls]
        for message in trajectory.messages
    ]
    return hashlib.sha256(json.dumps(stripped, sort_keys=True).encode()).hexdigest()
