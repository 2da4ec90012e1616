"""The agent inverter's prompts, rendered from templates in configs/prompts/ (``string.Template``).

The system prompt explains the job and carries a compact summary of the gold probe (what the tests import,
load, run, read); the task prompt names the category to aim at and what this run already made, so that
successive proposals differ.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from cligym.configs import CONFIG_DIR
from cligym.generation.gold.record import GoldRecord, Probe, ProbedFile
from cligym.generation.operators.base import Category
from cligym.generation.task_record import Attempt
from cligym.settings import AgentInverterSettings
from cligym.yaml_config import read_yaml_mapping

PROMPTS_DIR = CONFIG_DIR / "prompts"
MAX_LISTED = 25
MAX_MODULES_PER_DISTRIBUTION = 6
MAX_PREVIOUS = 12
# Variables every pytest run reads: naming them would only steer the agent toward the test runner.
_RUNNER_VARIABLE_PREFIXES = ("PYTEST_", "_", "PY_COLORS", "COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR")


def probe_summary(probe: Probe, repo_path: str) -> str:
    """What the tests use, a few lines per kind, long lists cut with a count of what was left out."""
    sections: list[str] = []
    distributions: dict[str, tuple[str, list[str]]] = {}
    own: list[str] = []
    for module in probe.modules:
        if module.origin == "repo":
            own.append(module.name)
        elif module.origin in ("site-packages", "other") and module.distribution:
            names = distributions.setdefault(module.distribution, (module.distribution_version or "", []))[1]
            top = module.name.split(".", 1)[0]
            if top not in names and not top.startswith("__"):
                names.append(top)
    if own:
        sections.append(f"The project's own modules (under {repo_path}): {_cut(sorted(own))}")
    if distributions:
        lines = [
            f"- {name} {version}".rstrip()
            + (f" (imports {_cut(names, MAX_MODULES_PER_DISTRIBUTION)})" if names else "")
            for name, (version, names) in sorted(distributions.items())
        ]
        sections.append("Installed Python distributions imported:\n" + _cut_lines(lines))
    for title, files in (
        ("Shared libraries loaded (Debian package)", probe.shared_libraries),
        ("Executables run (Debian package)", probe.executables),
        ("Other files opened outside the repository (Debian package)", probe.files),
    ):
        if files:
            sections.append(f"{title}:\n" + _cut_lines(_file_line(f) for f in files))
    variables = [v for v in probe.env_vars if not v.startswith(_RUNNER_VARIABLE_PREFIXES)]
    if variables:
        sections.append(f"Environment variables read: {_cut(variables)}")
    return "\n".join(sections) or "(the probe recorded nothing)"


def system_prompt(gold: GoldRecord, settings: AgentInverterSettings, prompts_dir: Path = PROMPTS_DIR) -> str:
    template = string.Template((prompts_dir / "agent_inverter_system.md").read_text())
    return template.substitute(
        repo=gold.name,
        repo_path=gold.repo_path,
        max_steps=settings.max_steps,
        probe_summary=probe_summary(gold.probe, gold.repo_path),
    )


def task_prompt(
    gold: GoldRecord, category: Category, history: Sequence[Attempt], prompts_dir: Path = PROMPTS_DIR
) -> str:
    template = string.Template((prompts_dir / "agent_inverter_task.md").read_text())
    return template.substitute(
        category=str(category),
        category_guidance=category_guidance(prompts_dir).get(str(category), ""),
        test_command=gold.base_test_command,
        repo_path=gold.repo_path,
        test_count=len(gold.gold_tests),
        previous=_previous(history),
    )


@cache
def category_guidance(prompts_dir: Path = PROMPTS_DIR) -> dict[str, str]:
    """One or two sentences per category (configs/prompts/agent_categories.yaml)."""
    data = read_yaml_mapping(prompts_dir / "agent_categories.yaml", "prompt file", "reinstall cligym")
    return {str(key): str(value) for key, value in data.items()}


def _previous(history: Sequence[Attempt]) -> str:
    made = [a.candidate.description for a in history if a.valid]
    rejected = [
        f"{a.candidate.description} (rejected by {a.rejected_by}: {a.reason})"
        for a in history
        if not a.valid and a.candidate.inverter.startswith("agent:") and a.candidate.break_steps
    ]
    parts = []
    if made:
        parts.append("Breaks already made for this repository; do something different:\n" + _bullets(made))
    else:
        parts.append("No break has been made for this repository yet.")
    if rejected:
        parts.append("Earlier proposals that validation rejected:\n" + _bullets(rejected))
    return "\n\n".join(parts)


def _bullets(items: list[str]) -> str:
    shown = [f"- {item}" for item in items[-MAX_PREVIOUS:]]
    left_out = len(items) - len(shown)
    return "\n".join(([f"- ({left_out} earlier ones not shown)"] if left_out else []) + shown)


def _file_line(probed: ProbedFile) -> str:
    return f"- {probed.path}" + (f" ({probed.package})" if probed.package else "")


def _cut(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", and {len(items) - limit} more" if len(items) > limit else "")


def _cut_lines(lines: Iterable[str], limit: int = MAX_LISTED) -> str:
    items = list(lines)
    shown = items[:limit]
    return "\n".join(shown + ([f"- ... and {len(items) - limit} more"] if len(items) > limit else []))
