"""Start-up hooks that leave the standard library in a state the tests do not expect: a decimal context
with less precision, sockets that never block, a tiny CSV field limit. The module is intact; what
changed is set before the tests import anything, in a file nobody thinks of."""

from __future__ import annotations

import random

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    BreakStep,
    Category,
    ExecutableTarget,
    FaultOperator,
    FixtureTarget,
    ModuleTarget,
    register,
    run,
)
from cligym.generation.operators.footprint_targets import modules_used, tests_launching
from cligym.generation.operators.process_environment import ENV_HOOK as USER_HOOK
from cligym.generation.operators.python_packages import pth_hook, remove_pth_files

STATE_HOOK_NAMES = ["00-compat-defaults.pth", "zz_site_policy.pth", "_runtime_tuning.pth"]
# The sitecustomize the interpreter imports (Debian's is a conffile under /etc/python3.X).
# Found without importing it (a broken one must still be found to be repaired).
SITECUSTOMIZE = (
    "$(python -c 'import importlib.util as u, os; print(os.path.realpath(u.find_spec(\"sitecustomize\").origin))')"
)
MISSING_AGENTS = ["site_monitoring", "corp_telemetry", "apm_agent"]


def _hook(line: str, rng: random.Random) -> BreakStep:
    # Half the time a .pth line, half the time usercustomize: both run in every interpreter at start-up.
    if rng.random() < 0.5:
        return pth_hook(line, rng.choice(STATE_HOOK_NAMES))
    return run(f'mkdir -p $(dirname {USER_HOOK}) && echo "{line}" > {USER_HOOK}')


def _remove_hooks() -> list[str]:
    return [f"{remove_pth_files(STATE_HOOK_NAMES)} {USER_HOOK}"]


@register
class DecimalContextAtStartup(FaultOperator[ModuleTarget]):
    name = "decimal-context-at-startup"
    category = Category.RUNTIME_CONFIG
    description = "A start-up hook lowers the default precision or changes the rounding of decimal arithmetic"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return modules_used(gold, "decimal")

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        change = rng.choice(["prec = 6", "prec = 9", "rounding = decimal.ROUND_DOWN"])
        return [_hook(f"import decimal; decimal.DefaultContext.{change}", rng)]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return _remove_hooks()


@register
class LoggingDisabledAtStartup(FaultOperator[FixtureTarget]):
    name = "logging-disabled-at-startup"
    category = Category.RUNTIME_CONFIG
    description = "A start-up hook disables logging below a level, so nothing the tests log is recorded"

    def targets(self, gold: GoldRecord) -> list[FixtureTarget]:
        users = _caplog_users(gold)
        return [FixtureTarget(name="caplog")] if users is None or users else []

    def expected_failures(self, gold: GoldRecord, target: FixtureTarget) -> frozenset[str] | None:
        return _caplog_users(gold)

    def break_steps(self, target: FixtureTarget, rng: random.Random) -> list[BreakStep]:
        level = rng.choice(["logging.WARNING", "logging.ERROR", "logging.CRITICAL"])
        return [_hook(f"import logging; logging.disable({level})", rng)]

    def repair_commands(self, target: FixtureTarget) -> list[str]:
        return _remove_hooks()


def _caplog_users(gold: GoldRecord) -> frozenset[str] | None:
    if gold.runner is not None:
        return frozenset()  # pytest's fixture: a suite another runner runs has none
    footprint = gold.footprint
    return None if footprint is None else footprint.tests_using("fixtures", "caplog")


@register
class CsvFieldLimitAtStartup(FaultOperator[ModuleTarget]):
    name = "csv-field-limit-at-startup"
    category = Category.RUNTIME_CONFIG
    description = "A start-up hook lowers the CSV reader's field size limit to a few bytes"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return modules_used(gold, "csv")

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        return [_hook(f"import csv; csv.field_size_limit({rng.choice([4, 8, 12])})", rng)]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return _remove_hooks()


@register
class SitecustomizeErrors(FaultOperator[ExecutableTarget]):
    name = "sitecustomize-errors"
    category = Category.RUNTIME_CONFIG
    description = "A sitecustomize that fails, so every Python process prints a traceback before it starts"

    # Python reports the error and goes on: only a test that starts a Python program and reads its error
    # output notices (the interpreter running pytest prints it before any test).
    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        pythons = [ExecutableTarget(path=e.path) for e in gold.probe.executables if "python" in e.path][:1]
        launching = tests_launching(gold, "python")
        return pythons if launching is None or launching else []

    def expected_failures(self, gold: GoldRecord, target: ExecutableTarget) -> frozenset[str] | None:
        return tests_launching(gold, "python")

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f'echo "import {rng.choice(MISSING_AGENTS)}" >> {SITECUSTOMIZE}')]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        pattern = "\\|".join(MISSING_AGENTS)
        return [f"sed -i '/^import \\({pattern}\\)$/d' {SITECUSTOMIZE}"]
