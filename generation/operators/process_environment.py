"""Process limits and shell start-up: every test process inherits a limit set where nobody looks."""

from __future__ import annotations

import random

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, Target, env, register, run

BASH_ENV_FILES = ["/etc/profile.d/00-limits.sh", "/etc/bash.env", "/usr/local/etc/shell-defaults.sh"]


@register
class BashEnvFileLimit(FaultOperator):
    name = "bash-env-file-limit"
    category = Category.PROCESS_ENVIRONMENT
    description = "BASH_ENV makes every non-interactive bash lower the open-files limit"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [Target(kind="env_var", name="BASH_ENV")]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        path = rng.choice(BASH_ENV_FILES)
        limit = rng.choice([16, 20, 24])
        return [
            run(f"mkdir -p $(dirname {path}) && echo 'ulimit -n {limit}' > {path}"),
            env("BASH_ENV", path),
        ]

    def repair_commands(self, target: Target) -> list[str]:
        return [f"for f in {' '.join(BASH_ENV_FILES)}; do [ -f $f ] && : > $f; done; true"]
