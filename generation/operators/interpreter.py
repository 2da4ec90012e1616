"""Interpreter selection: which Python a program runs with (PATH, console-script shebangs)."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, ExecutableTarget, FaultOperator, register, run
from cligym.generation.operators.footprint_targets import console_scripts, python3_by_name

# A Python with nothing installed in it: it starts, then cannot import the project.
BARE_ENVS = ["/opt/venvs/tools", "/opt/python-env", "/usr/local/share/py-runtime"]


# Writes a console script back from its distribution's entry point, as pip does (offline, and right for a
# project installed from its own source, which a reinstall from an index would not be).
WRITE_SCRIPT = (
    "import importlib.metadata as m, os, sys; path = sys.argv[1]; name = os.path.basename(path); "
    "ep = next(e for e in m.entry_points(group='console_scripts') if e.name == name); "
    "module, _, attr = ep.value.partition(':'); head = attr.split('.')[0].strip(); "
    "lines = ['#!' + sys.executable, 'import sys', 'from ' + module.strip() + ' import ' + head, "
    "'sys.exit(' + attr.strip() + '())', '']; "
    "open(path, 'w').write(chr(10).join(lines)); os.chmod(path, 0o755)"
)


def bare_env(rng: random.Random) -> str:
    return rng.choice(BARE_ENVS)


def rewrite_script(target: ExecutableTarget) -> list[str]:
    return [f'python -c "{WRITE_SCRIPT}" {shlex.quote(target.path)}']


@register
class ConsoleScriptWrongInterpreter(FaultOperator[ExecutableTarget]):
    name = "console-script-wrong-interpreter"
    category = Category.INTERPRETER
    description = "Point the shebang of a console script the tests run at an interpreter without the project"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return console_scripts(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        env, path = bare_env(rng), shlex.quote(target.path)
        return [
            run(
                f"head -1 {path} | grep -q '^#!.*python' && python -m venv --without-pip {env} "
                f"&& sed -i '1s|.*|#!{env}/bin/python3|' {path}"
            )
        ]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return rewrite_script(target)


@register
class ConsoleScriptRemoved(FaultOperator[ExecutableTarget]):
    name = "console-script-removed"
    category = Category.INTERPRETER
    description = "Delete a console script the tests run (its distribution stays installed)"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return console_scripts(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm {shlex.quote(target.path)}")]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return rewrite_script(target)


@register
class Python3ShadowedOnPath(FaultOperator[ExecutableTarget]):
    name = "python3-shadowed-on-path"
    category = Category.INTERPRETER
    description = "Put a python3 without the project's packages earlier on PATH than the system one"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return [t for t in python3_by_name(gold) if not t.path.startswith("/usr/local/bin/")]

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        env = bare_env(rng)
        return [
            run(
                # A wrapper, not a link: a venv's python is only a venv when started from its own bin/.
                f"test ! -e /usr/local/bin/python3 && python -m venv --without-pip {env} "
                f"&& printf '#!/bin/sh\\nexec {env}/bin/python3 \"$@\"\\n' > /usr/local/bin/python3 "
                "&& chmod 755 /usr/local/bin/python3"
            )
        ]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return ["rm -f /usr/local/bin/python3"]
