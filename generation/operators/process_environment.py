"""Process limits and shell start-up: every test process inherits a limit set where nobody looks."""

from __future__ import annotations

import random

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    BreakStep,
    Category,
    EnvVarTarget,
    EveryProcessFault,
    FaultOperator,
    FileTarget,
    SharedLibraryTarget,
    env,
    register,
    run,
)
from cligym.generation.operators.footprint_targets import tests_launching
from cligym.generation.operators.probe_targets import (
    breakable_libraries,
    project_env_vars,
    required_soname_link,
    soname_link,
)

BASH_ENV_FILES = ["/etc/profile.d/00-limits.sh", "/etc/bash.env", "/usr/local/etc/shell-defaults.sh"]
# The repair of every BASH_ENV break: whichever start-up file it wrote is emptied (BASH_ENV itself stays set).
CLEAR_BASH_ENV_FILES = f"for f in {' '.join(BASH_ENV_FILES)}; do [ -f $f ] && : > $f; done; true"


@register
class BashEnvFileLimit(EveryProcessFault[EnvVarTarget]):
    name = "bash-env-file-limit"
    category = Category.PROCESS_ENVIRONMENT
    description = "BASH_ENV makes every non-interactive bash lower the open-files limit"

    def targets(self, gold: GoldRecord) -> list[EnvVarTarget]:
        return [EnvVarTarget(name="BASH_ENV")]

    def break_steps(self, target: EnvVarTarget, rng: random.Random) -> list[BreakStep]:
        path = rng.choice(BASH_ENV_FILES)
        limit = rng.choice([16, 20, 24])
        return [
            run(f"mkdir -p $(dirname {path}) && echo 'ulimit -n {limit}' > {path}"),
            env("BASH_ENV", path),
        ]

    def repair_commands(self, target: EnvVarTarget) -> list[str]:
        return [CLEAR_BASH_ENV_FILES]


DECOY_DIRS = ["/opt/vendor/lib", "/usr/local/lib/compat"]
# The per-user site-packages directory, which comes before the system's on sys.path.
USER_SITE = "$(python -c 'import site; print(site.getusersitepackages())')"
ENV_HOOK = f"{USER_SITE}/usercustomize.py"


@register
class LdPreloadMissingLibrary(FaultOperator[FileTarget]):
    name = "ld-preload-missing-library"
    category = Category.PROCESS_ENVIRONMENT
    description = "List a library that does not exist in /etc/ld.so.preload, so every program starts with an error"

    # The loader only warns and goes on: only a test that starts a program and reads its error output notices.
    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        launching = tests_launching(gold)
        return [FileTarget(path="/etc/ld.so.preload")] if launching is None or launching else []

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        return tests_launching(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        library = rng.choice(["/usr/lib/libmonitor.so.1", "/opt/agent/lib/libhook.so", "/usr/local/lib/libtrace.so"])
        return [run(f"echo {library} > /etc/ld.so.preload")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return ["rm -f /etc/ld.so.preload"]


@register
class BashEnvLibraryPath(FaultOperator[SharedLibraryTarget]):
    name = "bash-env-library-path"
    category = Category.PROCESS_ENVIRONMENT
    description = "BASH_ENV exports a library path where a wrong library carries the name of one the tests load"
    raises = "ImportError"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return [t for t in breakable_libraries(gold) if soname_link(t.path)]

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        directory = rng.choice(DECOY_DIRS)
        path = rng.choice(BASH_ENV_FILES)
        soname = required_soname_link(target).rsplit("/", 1)[-1]
        decoy = rng.choice(["libm.so.6", "libutil.so.1"])
        return [
            run(
                f"mkdir -p {directory} $(dirname {path}) && cp /usr/lib/x86_64-linux-gnu/{decoy} {directory}/{soname}"
                f" && echo 'export LD_LIBRARY_PATH={directory}' > {path}"
            ),
            env("BASH_ENV", path),
        ]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return [CLEAR_BASH_ENV_FILES]


@register
class BashEnvFileSizeLimit(EveryProcessFault[EnvVarTarget]):
    name = "bash-env-file-size-limit"
    category = Category.PROCESS_ENVIRONMENT
    description = "BASH_ENV makes every non-interactive bash limit the size of files processes may write"

    def targets(self, gold: GoldRecord) -> list[EnvVarTarget]:
        return [EnvVarTarget(name="BASH_ENV")]

    def break_steps(self, target: EnvVarTarget, rng: random.Random) -> list[BreakStep]:
        path = rng.choice(BASH_ENV_FILES)
        blocks = rng.choice([1, 2, 4])
        return [
            run(f"mkdir -p $(dirname {path}) && echo 'ulimit -f {blocks}' > {path}"),
            env("BASH_ENV", path),
        ]

    def repair_commands(self, target: EnvVarTarget) -> list[str]:
        return [CLEAR_BASH_ENV_FILES]


@register
class EnvironmentVariableOverridden(FaultOperator[EnvVarTarget]):
    name = "environment-variable-overridden"
    category = Category.PROCESS_ENVIRONMENT
    description = "A per-user Python start-up hook sets a variable the project reads to a value it rejects"

    def targets(self, gold: GoldRecord) -> list[EnvVarTarget]:
        return project_env_vars(gold)

    def break_steps(self, target: EnvVarTarget, rng: random.Random) -> list[BreakStep]:
        value = rng.choice(["invalid", "none", "0", "-1", "/nonexistent"])
        line = f"import os; os.environ['{target.name}'] = '{value}'"
        return [run(f'mkdir -p $(dirname {ENV_HOOK}) && echo "{line}" > {ENV_HOOK}')]

    def repair_commands(self, target: EnvVarTarget) -> list[str]:
        return [f"rm -f {ENV_HOOK}"]
