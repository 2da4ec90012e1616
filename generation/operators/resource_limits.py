"""Resource limits applied where a real system applies them: a shell's start-up file (BASH_ENV) or a Python
start-up hook, so every test process inherits a limit nobody set on purpose."""

from __future__ import annotations

import random

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, EveryProcessFault, Target, env, register, run
from cligym.generation.operators.process_environment import BASH_ENV_FILES
from cligym.generation.operators.python_packages import pth_hook, remove_pth_files

LIMIT_PTH_NAMES = ["00-resource-policy.pth", "zz_limits.pth", "_sandbox_limits.pth"]
EVERY_PROCESS = Target(kind="env_var", name="BASH_ENV")


def _limit_hook(rng: random.Random, limit: str, soft: int) -> BreakStep:
    name = rng.choice(LIMIT_PTH_NAMES)
    line = f"import resource; resource.setrlimit(resource.{limit}, ({soft}, {soft}))"
    return pth_hook(line, name)


def _remove_limit_hooks() -> list[str]:
    return [remove_pth_files(LIMIT_PTH_NAMES)]


@register
class OpenFilesLimitInStartupHook(EveryProcessFault):
    name = "open-files-limit-in-startup-hook"
    category = Category.RESOURCE_LIMIT
    description = "A .pth start-up hook lowers the open-files limit of every Python process"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [Target(kind="file", path="site-packages/*.pth")]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        return [_limit_hook(rng, "RLIMIT_NOFILE", rng.choice([32, 40, 48]))]

    def repair_commands(self, target: Target) -> list[str]:
        return _remove_limit_hooks()


@register
class AddressSpaceLimitInStartupHook(EveryProcessFault):
    name = "address-space-limit-in-startup-hook"
    category = Category.RESOURCE_LIMIT
    description = "A .pth start-up hook caps the address space of every Python process"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [Target(kind="file", path="site-packages/*.pth")]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        return [_limit_hook(rng, "RLIMIT_AS", rng.choice([384, 512, 640]) * 1024 * 1024)]

    def repair_commands(self, target: Target) -> list[str]:
        return _remove_limit_hooks()


@register
class AddressSpaceLimitInBashEnv(EveryProcessFault):
    name = "address-space-limit-in-bash-env"
    category = Category.RESOURCE_LIMIT
    description = "BASH_ENV makes every non-interactive bash cap the address space of what it starts"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [EVERY_PROCESS]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        path = rng.choice(BASH_ENV_FILES)
        kilobytes = rng.choice([384, 512, 640]) * 1024
        return [run(f"mkdir -p $(dirname {path}) && echo 'ulimit -v {kilobytes}' > {path}"), env("BASH_ENV", path)]

    def repair_commands(self, target: Target) -> list[str]:
        return [f"for f in {' '.join(BASH_ENV_FILES)}; do [ -f $f ] && : > $f; done; true"]
