"""Terminal-Bench 1.0 task directories: ``task.yaml``, ``Dockerfile``, ``docker-compose.yaml``,
``run-tests.sh``, ``tests/`` and ``solution.sh`` (and, when the Dockerfile rebuilds gold, the gold source
and ``constraints.txt``).

Terminal-Bench drives the container through tmux and decides by parsing what ``run-tests.sh`` prints with its
pytest parser: every test named in pytest's ``-rA`` short summary must read PASSED. ``run-tests.sh`` has the
container's first process run ``tests/verify.sh``, which puts the repository's tracked files back (as
Harbor's verifier does), runs exactly the fail-to-pass and pass-to-pass tests, and ends the summary with one
more line, cligym's own verdict, so that a required test that was skipped or never ran cannot count as
resolved. Terminal-Bench copies ``tests/`` into the container only after the agent finished, so the pristine
files stay out of the agent's reach.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cligym.generation.export.container_environment import container_environment_script, image_environment
from cligym.generation.export.repository_restore import restore_repository_script
from cligym.generation.export.shell_startup import (
    APPLY_STARTUP_LIMITS,
    StartupFiles,
    startup_files,
    startup_script,
)
from cligym.generation.export.suite_command import verifier_run
from cligym.generation.export.task_files import (
    FRESH_PYCACHE,
    REQUIRED_TESTS_FILE,
    SELECT_PLUGIN_MODULE,
    TASK_PATH,
    UNSET_PYTEST_VARIABLES,
    VERIFIER_PATH_LINES,
    as_one_function,
    fresh_partial_directory,
    harness_after_run_script,
    harness_check_script,
    harness_recheck_script,
    inputs_check,
    library_resolution_check,
    replace_directory,
    solve_script,
    verifier_python,
    write_build_context,
    write_verifier_files,
)
from cligym.generation.gold.harness import VERIFIER_TESTS_DIR
from cligym.generation.gold.record import GoldRecord
from cligym.generation.task_record import TaskRecord, exported_task_name

TESTS_DIR = VERIFIER_TESTS_DIR  # Terminal-Bench's fixed CONTAINER_TEST_DIR
VERIFIER_LOGS = "/logs/cligym-verifier"
VERDICT_TEST_ID = "cligym_verdict.py::all_required_tests_passed"
# Terminal-Bench types keys into a tmux session in the task container, so tmux must be there. It goes in
# before the break steps: afterwards the package tools may be what is broken.
TMUX_STEP = "RUN apt-get update && apt-get install -y --no-install-recommends tmux && rm -rf /var/lib/apt/lists/*"

# The verdict must not depend on the process that asks for it. Terminal-Bench runs run-tests.sh in a tmux
# server it started before the agent acted, from a `bash -c` that read the image's BASH_ENV: a break there
# (a file-size or open-files limit, an exported library path) stays in that server's processes after the
# file is repaired, and a hard limit cannot even be raised back without CAP_SYS_RESOURCE. So the container's
# first process, which Docker started clean, runs the verifier on request through two FIFOs made at build
# time: the verifier then starts as a fresh `docker exec` does, which is how validation judged the task. Its
# output comes back through a FIFO, not a file, so a file-size limit the break sets cannot cut it short.
RUNNER_DIR = "/var/lib/cligym-verifier"
RUNNER_STEP = f"RUN mkdir -p {RUNNER_DIR} && mkfifo {RUNNER_DIR}/request {RUNNER_DIR}/output"
# Shell builtins only (dash), so that a break of coreutils cannot stop the container's first process.
RUNNER_COMMAND = (
    f"if [ ! -p {RUNNER_DIR}/request ]; then exec sleep infinity; fi; "
    f"while read -r _ < {RUNNER_DIR}/request; do "
    f"BASH_ENV= ENV= /bin/bash {TESTS_DIR}/verify.sh > {RUNNER_DIR}/output 2>&1; done"
)

COMPOSE = """\
services:
  client:
    build:
      context: .
      dockerfile: Dockerfile
    image: ${T_BENCH_TASK_DOCKER_CLIENT_IMAGE_NAME}
    container_name: ${T_BENCH_TASK_DOCKER_CLIENT_CONTAINER_NAME}
    command: ["sh", "-c", "{runner}"]
    environment:
      - TEST_DIR=${T_BENCH_TEST_DIR}
    volumes:
      - ${T_BENCH_TASK_LOGS_PATH}:${T_BENCH_CONTAINER_LOGS_PATH}
      - ${T_BENCH_TASK_AGENT_LOGS_PATH}:${T_BENCH_CONTAINER_AGENT_LOGS_PATH}
""".replace("{runner}", RUNNER_COMMAND.replace("$", "$$"))  # compose reads $NAME as its own variable


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (the instruction) as literal blocks, as hand-written task.yaml files do."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_str)


def task_yaml(task: TaskRecord, gold: GoldRecord, hinted: bool) -> str:
    suite_seconds = max((run.duration_s for run in gold.runs), default=60.0)
    config = {
        "instruction": (task.statement_with_hint if hinted else task.statement).rstrip() + "\n",
        "author_name": "cligym",
        "author_email": "unknown",
        "difficulty": "medium" if hinted else "hard",
        "category": "system-administration",
        "tags": [
            "cligym",
            "repair",
            *(str(c) for c in task.candidate.categories),
            gold.name,
            *(["shallow"] if task.validation.shallow else []),
        ],
        "parser_name": "pytest",
        "max_agent_timeout_sec": 1800.0,
        # Terminal-Bench's limit for the whole of run-tests.sh, restoring and the test run included.
        "max_test_timeout_sec": max(600.0, round(4 * suite_seconds, 1)),
        # A fresh root shell judges the container the agent repaired, not the agent's shell state.
        "run_tests_in_same_shell": False,
        # Recording needs asciinema in the image; installing it would add Python packages to the very
        # interpreter the tests use.
        "disable_asciinema": True,
    }
    return yaml.dump(config, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=4096)


def verify_script(gold: GoldRecord, tests: Path, startup: StartupFiles, environment: dict[str, str]) -> str:
    """tests/verify.sh: restore the repository, run exactly the required tests, print pytest's -rA summary and
    cligym's verdict as one more line of it. ``startup``: the task's BASH_ENV files, applied without being
    run (see shell_startup)."""
    run = verifier_run(gold, TESTS_DIR, VERIFIER_LOGS, verifier_python(gold))
    # pytest runs exactly the required tests, with its short summary; another runner runs its whole suite.
    command = f"{run.command} -p {SELECT_PLUGIN_MODULE} -rA" if run.selects_tests else run.command
    select = f"export CLIGYM_SELECT_TESTS={TESTS_DIR}/{REQUIRED_TESTS_FILE}\n" if run.selects_tests else ""
    checks = harness_check_script(gold, VERIFIER_LOGS, TESTS_DIR)
    checks += restore_repository_script(gold, VERIFIER_LOGS, TESTS_DIR)
    checks += harness_recheck_script(gold, VERIFIER_LOGS, TESTS_DIR)
    header = """#!/bin/bash
# cligym verifier for Terminal-Bench: restore the repository's tracked files, run exactly the fail-to-pass and
# pass-to-pass tests with pytest -rA (Terminal-Bench's pytest parser reads the short summary), then add
# cligym's verdict as one more summary line: resolved only if every required test passed.
"""
    inputs_before = inputs_check(tests, VERIFIER_LOGS, TESTS_DIR)
    inputs_after = inputs_check(tests, VERIFIER_LOGS, TESTS_DIR, when="after the tests ran")
    verdict = f"{verifier_python(gold)} {TESTS_DIR}/verdict.py {TESTS_DIR}/expected.json {run.report}"
    # No process is stopped here: Terminal-Bench's own tmux server, its clients waiting on the test run and
    # the panes' shells share the container with whatever the agent left, and cannot be told apart from it.
    body = f"""{container_environment_script(environment)}HARNESS_MODIFIED=0
{startup_script(startup)}{library_resolution_check(gold)}mkdir -p {VERIFIER_LOGS}
# A report left from before (or planted by the agent) must not stand in for a run that wrote none.
rm -f {VERIFIER_LOGS}/pytest-report.json {VERIFIER_LOGS}/junit.xml
{VERIFIER_PATH_LINES}{UNSET_PYTEST_VARIABLES}
# pytest, its plugins, the start-up hooks and the interpreter must be as in gold.
{inputs_before}{checks}{select}
# Printed, not written to a file: a file-size limit the break sets must not cut the summary short.
summary=0
while IFS= read -r line || [ -n "$line" ]; do
  printf '%s\\n' "$line"
  [[ "${{line,,}}" == *"short test summary info"* ]] && summary=1
done < <( ( {APPLY_STARTUP_LIMITS}{TASK_PATH}{command} ) 2>&1 )
# Without a summary (the interpreter itself is broken) the parser would fail instead of reading a verdict.
[ $summary = 1 ] || echo "=== short test summary info ==="
{harness_after_run_script(gold, VERIFIER_LOGS, TESTS_DIR)}{FRESH_PYCACHE}{run.convert}{inputs_after}\
verdict="$({verdict})"
[ -n "${{cligym_library_problems:-}}" ] && printf '%s' "$cligym_library_problems"
[ -n "${{cligym_startup_problems:-}}" ] && printf '%s' "$cligym_startup_problems"
if [ "$HARNESS_MODIFIED" = 0 ] && [ "$verdict" = 1 ]; then
  echo "PASSED {VERDICT_TEST_ID}"
else
  echo "FAILED {VERDICT_TEST_ID} - a required test did not pass"
fi
"""
    return header + as_one_function(body)


RUN_TESTS = f"""#!/bin/bash
# Terminal-Bench runs this in its tmux session; the verdict comes from tests/verify.sh, started by the
# container's first process so that nothing this session inherited from before the repair can sway it.
# Outside Terminal-Bench's compose file (a plain `docker run`) verify.sh runs here directly.
mapfile -d '' init < /proc/1/cmdline
if [ -p {RUNNER_DIR}/request ] && [[ "${{init[*]}}" == *{RUNNER_DIR}/request* ]]; then
  echo run > {RUNNER_DIR}/request
  while IFS= read -r line || [ -n "$line" ]; do printf '%s\\n' "$line"; done < {RUNNER_DIR}/output
else
  BASH_ENV= ENV= bash {TESTS_DIR}/verify.sh
fi
"""


def export_terminal_bench_task(
    task: TaskRecord,
    gold: GoldRecord,
    gold_context: Path,
    out_dir: Path,
    hinted: bool,
    gold_image_reference: str | None = None,
) -> Path:
    """Write one Terminal-Bench 1.0 task directory; returns its path. ``gold_context`` is the gold build's
    context; with ``gold_image_reference`` (the gold image in a registry) the Dockerfile starts ``FROM`` it
    instead of rebuilding the gold environment, and the source tree is left out."""
    name = exported_task_name(task.task_id, hinted)
    partial = fresh_partial_directory(out_dir, name)
    (partial / "task.yaml").write_text(task_yaml(task, gold, hinted))
    write_build_context(gold, task, gold_context, partial, gold_image_reference, [TMUX_STEP, RUNNER_STEP])
    (partial / "docker-compose.yaml").write_text(COMPOSE)
    environment = image_environment(gold, task.candidate.break_steps)
    write_verifier_files(task, gold, gold_context, partial / "tests", environment)
    startup = startup_files(task.candidate.break_steps)
    (partial / "tests" / "verify.sh").write_text(verify_script(gold, partial / "tests", startup, environment))
    (partial / "run-tests.sh").write_text(RUN_TESTS)
    (partial / "solution.sh").write_text(solve_script(task))
    for script in (partial / "run-tests.sh", partial / "solution.sh"):
        script.chmod(0o755)
    return replace_directory(partial, out_dir / name)
