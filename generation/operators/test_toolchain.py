"""The test toolchain the tests rely on: pytest plugins that provide fixtures, the helpers of pytest the tests
call (``pytest.raises``, ``monkeypatch.setattr``), and pytest's scratch space."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    BreakStep,
    Category,
    DistributionTarget,
    FaultOperator,
    FixtureTarget,
    ModuleTarget,
    register,
    run,
)
from cligym.generation.operators.footprint_targets import (
    TMP_FIXTURES,
    fixture_plugins,
    tests_requesting_fixtures_of,
    tmp_fixture_users,
    toolchain_functions,
)
from cligym.generation.operators.function_stubs import FUNCTION_TARGETS, SourcePatchStub
from cligym.generation.operators.repairs import pip_reinstall

# pytest keeps tmp_path directories under $TMPDIR/pytest-of-<user>, and falls back to pytest-of-unknown.
BASETEMP = "/tmp/pytest-of-root"
FALLBACK_BASETEMP = "/tmp/pytest-of-unknown"
DIST_INFO = "$(python -c 'import importlib.metadata as m, sys; print(m.distribution(sys.argv[1])._path)' {})"


class _PluginFault(FaultOperator[DistributionTarget]):
    """Breaks a plugin distribution: the tests requesting its fixtures are the ones that fail."""

    def targets(self, gold: GoldRecord) -> list[DistributionTarget]:
        return fixture_plugins(gold)

    def expected_failures(self, gold: GoldRecord, target: DistributionTarget) -> frozenset[str] | None:
        return tests_requesting_fixtures_of(gold, target.installed_by())

    def repair_commands(self, target: DistributionTarget) -> list[str]:
        return pip_reinstall(target)


@register
class PytestPluginUninstalled(_PluginFault):
    name = "pytest-plugin-uninstalled"
    category = Category.TEST_TOOLCHAIN
    description = "Uninstall the pytest plugin that provides fixtures the tests request"

    def break_steps(self, target: DistributionTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"python -m pip uninstall -y {shlex.quote(target.installed_by())}")]


@register
class PytestPluginEntryPointRemoved(_PluginFault):
    name = "pytest-plugin-entry-point-removed"
    category = Category.TEST_TOOLCHAIN
    description = "Remove the entry points of an installed pytest plugin, so pytest no longer loads it"

    def break_steps(self, target: DistributionTarget, rng: random.Random) -> list[BreakStep]:
        info = DIST_INFO.format(shlex.quote(target.installed_by()))
        return [run(f"rm {info}/entry_points.txt")]


@register
class PytestHelperEdited(SourcePatchStub):
    name = "pytest-helper-edited"
    category = Category.TEST_TOOLCHAIN
    description = "Leave a local patch in pytest or a plugin that stubs out a helper the tests call"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return toolchain_functions(gold, FUNCTION_TARGETS)

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return pip_reinstall(target)


class _BasetempFault(FaultOperator[FixtureTarget]):
    def targets(self, gold: GoldRecord) -> list[FixtureTarget]:
        users = tmp_fixture_users(gold)
        return [FixtureTarget(name=TMP_FIXTURES[0])] if users is None or users else []

    def expected_failures(self, gold: GoldRecord, target: FixtureTarget) -> frozenset[str] | None:
        return tmp_fixture_users(gold)

    def repair_commands(self, target: FixtureTarget) -> list[str]:
        return [f"rm -rf {BASETEMP} {FALLBACK_BASETEMP}"]


@register
class PytestBasetempIsAFile(_BasetempFault):
    name = "pytest-basetemp-is-a-file"
    category = Category.TEST_TOOLCHAIN
    description = "A stray file where pytest keeps the temporary directories of tmp_path"

    def break_steps(self, target: FixtureTarget, rng: random.Random) -> list[BreakStep]:
        content = rng.choice(["", "lock", "moved"])
        return [run(f"echo '{content}' > {BASETEMP} && echo '{content}' > {FALLBACK_BASETEMP}")]


@register
class PytestBasetempForeignOwner(_BasetempFault):
    name = "pytest-basetemp-foreign-owner"
    category = Category.TEST_TOOLCHAIN
    description = "pytest's temporary directory left behind by another user, which pytest refuses to use"

    def break_steps(self, target: FixtureTarget, rng: random.Random) -> list[BreakStep]:
        uid = rng.choice([1000, 1001, 65534])
        return [run(f"mkdir -m 700 {BASETEMP} && chown {uid}:{uid} {BASETEMP}")]
