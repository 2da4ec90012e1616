"""Problem statements: what a user would report (command, error, failing tests), never the cause or fix.

Template-based (configs/statements/*.md, ``string.Template`` placeholders); each task also gets a hinted
variant naming the area to look at, which in the reference work roughly tripled successful repairs.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

from cligym.configs import CONFIG_DIR
from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    Category,
    DistributionTarget,
    EnvVarTarget,
    ModuleTarget,
    NodePackageTarget,
    PackagedPath,
)
from cligym.generation.task_record import Candidate, Validation

TEMPLATES_DIR = CONFIG_DIR / "statements"
STYLES = ("bug_report", "terse", "ticket")
MAX_TESTS_LISTED = 8
MAX_EXCERPT_LINES = 12
HINTS = {
    Category.SHARED_LIBRARY: "a shared library that Python loads",
    Category.PYTHON_PACKAGE: "the installed Python packages",
    Category.RUNTIME_CONFIG: "how the Python interpreter is configured at start-up",
    Category.SYSTEM_PACKAGE: "the system programs the tests run",
    Category.FILE_SYSTEM: "files on the system outside the repository",
    Category.LOCALE_TIME: "locale or time-zone data",
    Category.NETWORK_SECURITY: "network or certificate configuration",
    Category.TOOLCHAIN: "the compiler toolchain",
    Category.PROCESS_ENVIRONMENT: "the environment and limits that processes start with",
    Category.COMPATIBILITY: "versions of installed components that no longer fit together",
    Category.PYTHON_STDLIB: "the Python standard library as installed",
    Category.TEST_TOOLCHAIN: "the test tooling: pytest, its plugins and where it keeps temporary files",
    Category.INTERPRETER: "which Python interpreter the programs run with",
    Category.RESOURCE_LIMIT: "the resource limits processes start with",
    Category.BYTECODE: "the compiled bytecode Python keeps beside its sources",
    Category.NODE_PACKAGE: "the installed Node.js packages (node_modules)",
}
# Words of a repair that tell the fix outright.
REPAIR_WORDS = ("ldconfig", "--reinstall", "--force-reinstall", "force-confmiss", "apt-get", "pip install")


class StatementLeak(ValueError):
    """The statement names the broken thing or the repair."""


def leak_terms(candidate: Candidate) -> list[str]:
    """Strings a statement must not contain: the target's location and package, and the repair's specifics."""
    terms: set[str] = set()
    target = candidate.target
    if isinstance(target, PackagedPath | ModuleTarget | DistributionTarget | NodePackageTarget) and target.path:
        terms.add(target.path)
    if isinstance(target, PackagedPath) and target.debian_package:
        terms.add(target.debian_package)
    if isinstance(target, EnvVarTarget):
        terms.add(target.name)
    for command in candidate.repair_commands:
        terms.update(word for word in REPAIR_WORDS if word in command)
        terms.update(match for match in re.findall(r"/[\w.+-]+(?:/[\w.+-]+)+", command) if len(match) > 8)
    terms.update(variable[0] for step in candidate.break_steps if (variable := step.variable()) is not None)
    terms.add(candidate.inverter.split(":", 1)[-1])
    return sorted(term for term in terms if term)


def find_leaks(statement: str, candidate: Candidate) -> list[str]:
    return [term for term in leak_terms(candidate) if term in statement]


def write_statement(
    gold: GoldRecord,
    candidate: Candidate,
    validation: Validation,
    style: str,
    hint: bool,
    templates_dir: Path = TEMPLATES_DIR,
) -> str:
    """Render one statement from ``templates_dir/STYLE.md``; raises StatementLeak when it would name the
    cause or the fix."""
    if style not in STYLES:
        raise ValueError(f"unknown statement style {style!r}; choose one of {', '.join(STYLES)}")
    failing = validation.fail_to_pass
    terms = leak_terms(candidate)
    template = string.Template((templates_dir / f"{style}.md").read_text())
    hint_text = f"\nIt may help to look at {HINTS[candidate.category]}.\n" if hint else ""
    text = template.substitute(
        command=gold.base_test_command,
        repo_path=gold.repo_path,
        repo=gold.name,
        count=len(failing),
        shown=min(len(failing), MAX_TESTS_LISTED),
        test_list="\n".join(f"- `{test}`" for test in failing[:MAX_TESTS_LISTED]),
        excerpt=failure_excerpt(validation, failing, terms),
        hint=hint_text,
    )
    leaks = find_leaks(text, candidate)
    if leaks:
        raise StatementLeak(f"the statement names {', '.join(leaks)}")
    return text


def pick_style(task_seed: str) -> str:
    return random.Random(task_seed).choice(STYLES)


def failure_excerpt(validation: Validation, failing: list[str], terms: list[str]) -> str:
    """The most telling lines of the first failure: error lines first, without any line naming the cause."""
    messages = [validation.failure_messages[t] for t in failing if validation.failure_messages.get(t)]
    # Prefer a failure that ends in an exception line ("E   SomeError: ...") over a bare assertion.
    message = next((m for m in messages if re.search(r"^E\s+\w+(Error|Exception)\b", m, re.M)), "")
    message = message or (messages[0] if messages else "")
    lines = [line.rstrip() for line in message.splitlines() if line.strip()]
    lines = [line for line in lines if not any(term in line for term in terms)]
    errors = [line for line in lines if line.lstrip().startswith("E ") or "Error" in line or "error" in line]
    chosen = (errors or lines)[-MAX_EXCERPT_LINES:]
    return "\n".join(chosen) or "(the tests fail without an error message)"
