"""Resource limits applied where a real system applies them: a shell's start-up file (BASH_ENV) or a Python
start-up hook, so every test process inherits a limit nobody set on purpose."""

from __future__ import annotations

import random

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, ResourceLimitTarget, env, register, run
from cligym.generation.operators.measured_limits import (
    MeasuredLimit,
    address_space_limit,
    open_files_limit,
    recursion_limit,
)
from cligym.generation.operators.process_environment import BASH_ENV_FILES, CLEAR_BASH_ENV_FILES
from cligym.generation.operators.python_packages import pth_hook, remove_pth_files

LIMIT_PTH_NAMES = ["00-resource-policy.pth", "zz_limits.pth", "_sandbox_limits.pth"]


def _limit_hook(rng: random.Random, limit: str, soft: int) -> BreakStep:
    name = rng.choice(LIMIT_PTH_NAMES)
    line = f"import resource; resource.setrlimit(resource.{limit}, ({soft}, {soft}))"
    return pth_hook(line, name)


def _remove_limit_hooks() -> list[str]:
    return [remove_pth_files(LIMIT_PTH_NAMES)]


def _limit_target(where: str, resource: str, limit: MeasuredLimit | None) -> list[ResourceLimitTarget]:
    # The measured value travels in the target, so the candidate's identity and its steps carry it.
    return [ResourceLimitTarget(where=where, resource=resource, limit=limit.value)] if limit is not None else []


@register
class OpenFilesLimitInStartupHook(FaultOperator[ResourceLimitTarget]):
    name = "open-files-limit-in-startup-hook"
    category = Category.RESOURCE_LIMIT
    description = "A .pth start-up hook lowers the open-files limit of every Python process"

    def targets(self, gold: GoldRecord) -> list[ResourceLimitTarget]:
        return _limit_target("site-packages/*.pth", "RLIMIT_NOFILE", open_files_limit(gold))

    def expected_failures(self, gold: GoldRecord, target: ResourceLimitTarget) -> frozenset[str] | None:
        limit = open_files_limit(gold)
        return limit.failing if limit is not None else None

    def break_steps(self, target: ResourceLimitTarget, rng: random.Random) -> list[BreakStep]:
        return [_limit_hook(rng, "RLIMIT_NOFILE", target.limit)]

    def repair_commands(self, target: ResourceLimitTarget) -> list[str]:
        return _remove_limit_hooks()


@register
class AddressSpaceLimitInStartupHook(FaultOperator[ResourceLimitTarget]):
    name = "address-space-limit-in-startup-hook"
    category = Category.RESOURCE_LIMIT
    description = "A .pth start-up hook caps the address space of every Python process"

    def targets(self, gold: GoldRecord) -> list[ResourceLimitTarget]:
        return _limit_target("site-packages/*.pth", "RLIMIT_AS", address_space_limit(gold))

    def expected_failures(self, gold: GoldRecord, target: ResourceLimitTarget) -> frozenset[str] | None:
        limit = address_space_limit(gold)
        return limit.failing if limit is not None else None

    def break_steps(self, target: ResourceLimitTarget, rng: random.Random) -> list[BreakStep]:
        return [_limit_hook(rng, "RLIMIT_AS", target.limit * 1024)]

    def repair_commands(self, target: ResourceLimitTarget) -> list[str]:
        return _remove_limit_hooks()


@register
class RecursionLimitInStartupHook(FaultOperator[ResourceLimitTarget]):
    name = "recursion-limit-in-startup-hook"
    category = Category.RESOURCE_LIMIT
    description = "A .pth start-up hook lowers Python's recursion limit below what the deepest tests reach"

    def targets(self, gold: GoldRecord) -> list[ResourceLimitTarget]:
        return _limit_target("site-packages/*.pth", "recursionlimit", recursion_limit(gold))

    def expected_failures(self, gold: GoldRecord, target: ResourceLimitTarget) -> frozenset[str] | None:
        limit = recursion_limit(gold)
        return limit.failing if limit is not None else None

    def break_steps(self, target: ResourceLimitTarget, rng: random.Random) -> list[BreakStep]:
        name = rng.choice(LIMIT_PTH_NAMES)
        return [pth_hook(f"import sys; sys.setrecursionlimit({target.limit})", name)]

    def repair_commands(self, target: ResourceLimitTarget) -> list[str]:
        return _remove_limit_hooks()


@register
class AddressSpaceLimitInBashEnv(FaultOperator[ResourceLimitTarget]):
    name = "address-space-limit-in-bash-env"
    category = Category.RESOURCE_LIMIT
    description = "BASH_ENV makes every non-interactive bash cap the address space of what it starts"

    def targets(self, gold: GoldRecord) -> list[ResourceLimitTarget]:
        limit = address_space_limit(gold)
        return _limit_target("BASH_ENV", "RLIMIT_AS", limit)

    def expected_failures(self, gold: GoldRecord, target: ResourceLimitTarget) -> frozenset[str] | None:
        limit = address_space_limit(gold)
        return limit.failing if limit is not None else None

    def break_steps(self, target: ResourceLimitTarget, rng: random.Random) -> list[BreakStep]:
        path = rng.choice(BASH_ENV_FILES)
        return [
            run(f"mkdir -p $(dirname {path}) && echo 'ulimit -v {target.limit}' > {path}"),
            env("BASH_ENV", path),
        ]

    def repair_commands(self, target: ResourceLimitTarget) -> list[str]:
        return [CLEAR_BASH_ENV_FILES]
