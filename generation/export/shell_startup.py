"""The shell start-up file a task's image names in ``BASH_ENV``, applied by the verifier without running it.

Every non-interactive bash sources ``$BASH_ENV`` before its first line. Several breaks live there (a limit,
an exported library path), and the agent has root over that file: sourced by the verifier's own shell, an
EXIT trap or a function named ``python`` written into it would run inside the verifier and could rewrite
its reward. So the verifier is started with ``BASH_ENV`` and ``ENV`` empty (``task.toml``'s verifier
environment, and our own rollout's exec), and ``test.sh`` reads the file itself: only the kinds of line a
break writes take effect, ``ulimit`` with a number and ``export`` of a variable the break exported, with a
plain value; anything else is reported as a harness change, which gives reward 0. A repaired (emptied or
deleted) file applies nothing, and an unrepaired one still breaks the tests, as when bash sourced it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from cligym.generation.operators.base import BreakStep

# What the verifier's exec must start with, whatever the image sets: no start-up file sourced.
EMPTY_STARTUP = {"BASH_ENV": "", "ENV": ""}
_EXPORTED = re.compile(r"\bexport\s+([A-Za-z_][A-Za-z0-9_]*)=")


@dataclass(frozen=True)
class StartupFiles:
    paths: tuple[str, ...]  # the files the task's image names in BASH_ENV
    exported: tuple[str, ...]  # the variables the break's own steps export (the only ones honoured)


def startup_files(break_steps: Sequence[BreakStep]) -> StartupFiles:
    paths = [step.argument.split("=", 1)[1].strip() for step in break_steps if _is_bash_env(step)]
    exported = {name for step in break_steps if step.instruction == "RUN" for name in _EXPORTED.findall(step.argument)}
    return StartupFiles(tuple(dict.fromkeys(p.strip("'\"") for p in paths)), tuple(sorted(exported)))


def _is_bash_env(step: BreakStep) -> bool:
    return step.instruction == "ENV" and step.argument.split("=", 1)[0].strip() in ("BASH_ENV", "ENV")


def startup_script(files: StartupFiles) -> str:
    """Bash built-ins that apply the start-up files' lines the verifier honours, and set HARNESS_MODIFIED=1
    (the reason in ``$cligym_startup_problems``) for any other line. Run before anything else in the verifier,
    as bash would have sourced the file."""
    if not files.paths:
        return ""
    names = "|".join(files.exported) or "CLIGYM_NO_VARIABLE"
    limit = r"^[[:space:]]*ulimit[[:space:]]+(-[HS][[:space:]]+)?-([a-zA-Z])[[:space:]]+([0-9]+|unlimited)[[:space:]]*$"
    export = rf"^[[:space:]]*export[[:space:]]+({names})=([A-Za-z0-9_./:,+=@%-]*)[[:space:]]*$"
    return f"""cligym_startup_problems=""
cligym_limit_line={shlex.quote(limit)}
cligym_export_line={shlex.quote(export)}
for cligym_startup in {" ".join(shlex.quote(path) for path in files.paths)}; do
  [ -f "$cligym_startup" ] || continue
  while IFS= read -r cligym_line || [ -n "$cligym_line" ]; do
    if [[ "$cligym_line" =~ ^[[:space:]]*(#.*)?$ ]]; then
      continue
    elif [[ "$cligym_line" =~ $cligym_limit_line ]]; then
      ulimit ${{BASH_REMATCH[1]}} "-${{BASH_REMATCH[2]}}" "${{BASH_REMATCH[3]}}" 2>/dev/null
    elif [[ "$cligym_line" =~ $cligym_export_line ]]; then
      export "${{BASH_REMATCH[1]}}=${{BASH_REMATCH[2]}}"
    else
      HARNESS_MODIFIED=1
      cligym_startup_problems+="harness_modified: $cligym_startup (a line bash would run: ${{cligym_line:0:80}})"$'\\n'
    fi
  done < "$cligym_startup"
done
"""
