"""The shell start-up file a task's image names in ``BASH_ENV``, applied by the verifier without running it.

Every non-interactive bash sources ``$BASH_ENV`` before its first line. Several breaks live there (a limit,
an exported library path), and the agent has root over that file: sourced by the verifier's own shell, an
EXIT trap or a function named ``python`` written into it would run inside the verifier and could rewrite
its reward. So the verifier is started with ``BASH_ENV`` and ``ENV`` empty (``task.toml``'s verifier
environment, and our own rollout's exec), and ``test.sh`` reads the file itself: only the kinds of line a
break or a repair writes take effect, ``ulimit`` with a number, ``export`` of a variable the break exported
with a plain value (bare or quoted, empty included) and ``unset`` of one, comments; anything else is reported
as a harness change, which gives reward 0. A repaired (emptied, deleted, or unsetting) file applies nothing
harmful, and an unrepaired one still breaks the tests, as when bash sourced it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from cligym.generation.operators.base import BreakStep

# Run first in the shell that runs the tests: the start-up file's limits, as bash would have applied them.
APPLY_STARTUP_LIMITS = 'for cligym_limit in "${cligym_limits[@]}"; do ulimit $cligym_limit 2>/dev/null; done; '
# What the verifier's exec must start with, whatever the image sets: no start-up file sourced.
EMPTY_STARTUP = {"BASH_ENV": "", "ENV": ""}
_EXPORTED = re.compile(r"\bexport\s+([A-Za-z_][A-Za-z0-9_]*)=")


@dataclass(frozen=True)
class StartupFiles:
    paths: tuple[str, ...]  # the files the task's image names in BASH_ENV
    exported: tuple[str, ...]  # the variables the break's own steps export (the only ones honoured)


def startup_files(break_steps: Sequence[BreakStep]) -> StartupFiles:
    variables = [variable for step in break_steps if (variable := step.variable()) is not None]
    paths = [value.strip() for name, value in variables if name in ("BASH_ENV", "ENV")]
    exported = {name for step in break_steps if step.instruction == "RUN" for name in _EXPORTED.findall(step.argument)}
    return StartupFiles(tuple(dict.fromkeys(p.strip("'\"") for p in paths)), tuple(sorted(exported)))


def startup_script(files: StartupFiles) -> str:
    """Bash built-ins that apply the start-up files' lines the verifier honours, and set HARNESS_MODIFIED=1
    (the reason in ``$cligym_startup_problems``) for any other line. Run before anything else in the verifier,
    as bash would have sourced the file."""
    if not files.paths:
        return ""
    names = "|".join(files.exported) or "CLIGYM_NO_VARIABLE"
    # What bash splits words on: space and tab only. A vertical tab or form feed ([[:space:]] to a regex) is
    # part of a word to bash, so "export X=\v#;export X=decoy" would be a comment here and two commands there.
    blank = "[ \t]"
    # A trailing comment is allowed on every line (an admin notes why a value changed).
    end = rf"({blank}+#.*|{blank}*)$"
    limit = rf"^{blank}*ulimit{blank}+(-[HS]{blank}+)?-([a-zA-Z]){blank}+([0-9]+|unlimited){end}"
    # A plain value, bare or in quotes that expand nothing ("", '...'): what a break writes and what a repair
    # that empties the variable writes.
    plain = "[A-Za-z0-9_./:,+=@%-]*"
    export = rf"^{blank}*export{blank}+({names})=(\"({plain})\"|'({plain})'|({plain})){end}"
    # A repair may also unset what the break exported (and only that: the verifier's own variables stay).
    unset = rf"^{blank}*unset{blank}+(-v{blank}+)?(({names})({blank}+({names}))*){end}"
    # Read byte by byte (C locale): any byte outside printable ASCII and tab is refused, whatever bash would
    # make of it. Exports and unsets apply once the whole file is read; limits apply to the tests' shell only
    # (as bash would have applied them there), never to the verifier's own commands.
    return f"""cligym_startup_problems=""
cligym_limits=()
cligym_settings=()
cligym_locale="${{LC_ALL-}}" cligym_locale_was_set="${{LC_ALL+set}}"
LC_ALL=C
cligym_comment_line={shlex.quote(f"^{blank}*(#.*)?$")}
cligym_unprintable={shlex.quote("[^" + chr(9) + " -~]")}
cligym_limit_line={shlex.quote(limit)}
cligym_export_line={shlex.quote(export)}
cligym_unset_line={shlex.quote(unset)}
for cligym_startup in {" ".join(shlex.quote(path) for path in files.paths)}; do
  if [ ! -f "$cligym_startup" ]; then
    # Gone is a repair; anything else but a regular file (a FIFO a process keeps feeding the break's lines,
    # a device) is read by bash differently from here, or blocks it.
    if [ -e "$cligym_startup" ] || [ -L "$cligym_startup" ]; then
      if ! [[ "$cligym_startup" -ef /dev/null ]]; then
        HARNESS_MODIFIED=1
        cligym_startup_problems+="harness_modified: $cligym_startup (not a regular file)"$'\n'
      fi
    fi
    continue
  fi
  while IFS= read -r cligym_line || [ -n "$cligym_line" ]; do
    if [[ "$cligym_line" =~ $cligym_unprintable ]]; then
      HARNESS_MODIFIED=1
      cligym_startup_problems+="harness_modified: $cligym_startup (a line with bytes bash reads otherwise)"$'\n'
    elif [[ "$cligym_line" =~ $cligym_comment_line ]]; then
      continue
    elif [[ "$cligym_line" =~ $cligym_limit_line ]]; then
      cligym_limits+=("${{BASH_REMATCH[1]}}-${{BASH_REMATCH[2]}} ${{BASH_REMATCH[3]}}")
    elif [[ "$cligym_line" =~ $cligym_export_line ]]; then
      cligym_settings+=("export" "${{BASH_REMATCH[1]}}=${{BASH_REMATCH[3]}}${{BASH_REMATCH[4]}}${{BASH_REMATCH[5]}}")
    elif [[ "$cligym_line" =~ $cligym_unset_line ]]; then
      for cligym_name in ${{BASH_REMATCH[2]}}; do cligym_settings+=("unset" "$cligym_name"); done
    else
      HARNESS_MODIFIED=1
      cligym_startup_problems+="harness_modified: $cligym_startup (a line bash would run: ${{cligym_line:0:80}})"$'\n'
    fi
  done < "$cligym_startup"
done
if [ -n "$cligym_locale_was_set" ]; then LC_ALL="$cligym_locale"; else unset LC_ALL; fi
for ((cligym_i = 0; cligym_i < ${{#cligym_settings[@]}}; cligym_i += 2)); do
  if [ "${{cligym_settings[cligym_i]}}" = export ]; then
    export "${{cligym_settings[cligym_i + 1]}}"
  else
    unset "${{cligym_settings[cligym_i + 1]}}"
  fi
done
"""
