"""The shell lines every exported verifier runs before judging: the repository's tracked files put back from
the pristine copy, and what an agent could have left for pytest to load removed (untracked test modules and
configuration, a stand-in pytest, pytest's cached rewrites)."""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable

from cligym.generation.gold.dockerfile import PYTEST_PLUGIN_MODULE
from cligym.generation.gold.harness import VERIFIER_TESTS_DIR
from cligym.generation.gold.probe_units import unit_keys
from cligym.generation.gold.record import GoldRecord
from cligym.generation.gold.suite_run import SELECT_PLUGIN_MODULE

# Configuration files pytest reads: an untracked one (a conftest.py that forces passes, an ini adding
# options) would let an agent pass by changing how tests run rather than repairing the environment.
_TEST_CONFIG_NAMES = ("conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
# Nor may an untracked module in the repository (first on sys.path under ``python -m``) stand in for pytest.
# Nor our own plugins: the repository comes before the verifier's directory on ``sys.path``.
_HARNESS_SHADOW_NAMES = (
    "pytest.py",
    "py.py",
    "pluggy.py",
    "_pytest",
    "pytest",
    "pluggy",
    f"{PYTEST_PLUGIN_MODULE}*",
    f"{SELECT_PLUGIN_MODULE}*",
)


# What a runner that finds its test files by a pattern (tape over test/*.js, node --test over a directory,
# prove over t/) would run if an untracked one were there.
_TEST_SOURCE_PATTERNS = ("*.js", "*.cjs", "*.mjs", "*.ts", "*.t")


# Directory names test suites keep their files under, by convention (Node, Perl's prove, Jest).
_TEST_DIRECTORY_NAMES = ("test", "tests", "t", "spec", "__tests__")


def _test_directories(tracked: Iterable[str]) -> set[str]:
    """The outermost directories named like a test directory that hold tracked files (a runner given a
    directory, ``node --test test/``, names no file in its test ids)."""
    found = set()
    for path in tracked:
        parts = path.split("/")[:-1]
        for depth, part in enumerate(parts):
            if part in _TEST_DIRECTORY_NAMES:
                found.add("/".join(parts[: depth + 1]))
                break
    return found


def runner_restore_script(gold: GoldRecord, logs: str, tests_dir: str = VERIFIER_TESTS_DIR) -> str:
    """For a suite another runner than pytest runs: every file of the repository (its dependencies in
    ``node_modules`` aside) is dated back to the epoch, so a build tool takes nothing for newer than what was
    built from it and remakes nothing in the verifier's run (restored sources made make check re-run
    configure and the compiler; a config.status the agent dated into the future had make run it); untracked
    test sources in the directories of the gold tests' files are removed, directories so named too (a glob
    would run them)."""
    if gold.runner is None:
        return ""
    units = {unit for unit in unit_keys(gold.gold_tests).values() if unit in gold.tracked_files}
    directories = sorted({posixpath.dirname(unit) or "." for unit in units} | _test_directories(gold.tracked_files))
    names = " -o ".join(f"-name {shlex.quote(pattern)}" for pattern in _TEST_SOURCE_PATTERNS)
    tracked = f"{tests_dir}/tracked-files.txt"
    # A date that cannot be reset (an immutable file) would leave the agent deciding what make remakes.
    lines = [
        "if ! find . \\( -path ./.git -o -name node_modules \\) -prune -o -print0 \\",
        f"    | xargs -0 -r touch -c -h -d @1 -- 2> {logs}/dates.txt; then",
        f'  echo "harness_modified: {gold.repo_path} (a date could not be reset: $(head -c 300 {logs}/dates.txt))" \\',
        f"    | tee -a {logs}/harness.txt",
        "  HARNESS_MODIFIED=1",
        "fi",
    ]
    if directories:
        quoted = " ".join(shlex.quote(d) for d in directories)
        lines += [
            f"find {quoted} \\( {names} \\) -not -path '*/.git/*' -print0 2> /dev/null \\",
            "  | while IFS= read -r -d '' path; do",
            '  path="${path#./}"',
            '  if [ -d "$path" ] && [ ! -L "$path" ]; then',
            f'    grep -qF -- "$path/" {tracked} || rm -rf -- "$path"',
            "  else",
            '    cligym_untracked "$path" && rm -f -- "$path"',
            "  fi",
            "done",
        ]
    return "\n".join(lines) + "\n"


def restore_repository_script(gold: GoldRecord, logs: str, tests_dir: str = VERIFIER_TESTS_DIR) -> str:
    """Shell lines that put back every tracked file and delete untracked test configuration, leaving the
    shell in the repository; a restore that cannot complete gives reward 0 (reason in ``logs``/harness.txt)."""
    names = " -o ".join(f"-name {name}" for name in _TEST_CONFIG_NAMES)
    shadows = " -o ".join(f"-name {shlex.quote(name)}" for name in _HARNESS_SHADOW_NAMES)
    tracked = f"{tests_dir}/tracked-files.txt"
    # Where pytest may find a cached rewrite of a plugin it loads with -p: beside the verifier's own plugins
    # and beside gold's, on the interpreter's path.
    plugin_dirs = [tests_dir, *(gold.harness.hook_dirs if gold.harness is not None else [])]
    plugin_dirs = [d for d in dict.fromkeys(plugin_dirs) if d.startswith("/") and d != gold.repo_path]
    return f"""cd {gold.repo_path}
# Paths are read NUL-separated: a name holding a newline is never tracked (it would split into other names,
# some tracked), so it is removed whatever it is.
cligym_untracked() {{
  case "$1" in *$'\n'*) return 0 ;; esac
  ! grep -qxF -- "$1" {tracked}
}}
# A directory of the repository swapped for a link (tests/ -> a directory holding a conftest.py) is removed
# before the tracked files are copied back through it, and so is a tracked file swapped for one (the copy
# puts the file back; a link the repository itself tracks stays); a link that only leads to a directory once
# the copy re-creates its target (tests/sub -> ../inventory/../../opt/x, dangling while inventory/ is gone)
# is removed after it.
cligym_remove_directory_links() {{
  find . -type l -not -path './.git/*' -print0 | while IFS= read -r -d '' path; do
    path="${{path#./}}"
    [ -d "$path" ] || continue
    if cligym_untracked "$path" || {{ [ "$1" = before ] && [ -f "{tests_dir}/pristine/$path" ]; }}; then
      rm -f -- "$path"
    fi
  done
}}
cligym_remove_directory_links before
# The copy must succeed whole (a tracked file replaced by a directory would stay a directory).
if ! cp -a {tests_dir}/pristine/. {gold.repo_path}/ 2> {logs}/restore.txt; then
  echo "harness_modified: {gold.repo_path} (the tracked files could not be restored)" | tee -a {logs}/harness.txt
  HARNESS_MODIFIED=1
fi
cligym_remove_directory_links after
# Test configuration the repository does not track (a conftest.py that forces passes...) is removed, and so
# are untracked test modules and package markers: pytest would import them, and run what they hold. Anywhere
# pytest may look: a directory named site-packages is no exception (pytest collects in it); what pytest
# never enters (.git, .venv and any dot directory) is.
find . \\( {names} -o -name 'test_*.py' -o -name '*_test.py' -o -name __init__.py \\) \
  -not -path './.git/*' -not -path './.venv/*' -print0 | while IFS= read -r -d '' path; do
  path="${{path#./}}"
  cligym_untracked "$path" && rm -f -- "$path"
done
# So is an untracked pytest, py or pluggy module or package (a fake pytest that reports every test passed).
find . -maxdepth 3 \\( {shadows} \\) -not -path '*/site-packages/*' -print0 | while IFS= read -r -d '' path; do
  path="${{path#./}}"
  cligym_tracked=0
  case "$path" in *$'\n'*) ;; *)
    # The path itself or a directory of tracked files, compared as text (the name is the agent's to choose).
    while IFS= read -r cligym_line; do
      [[ "$cligym_line" == "$path" || "$cligym_line" == "$path"/* ]] && {{ cligym_tracked=1; break; }}
    done < {tracked} ;;
  esac
  [ $cligym_tracked = 1 ] || rm -rf -- "$path"
done
{runner_restore_script(gold, logs, tests_dir)}
# pytest's rewritten test modules and plugins are loaded from its cache when their header matches the source
# (a hash of it from pytest 9, which anyone can compute): only this run may write them.
find . -name '*-pytest-*.pyc' -path '*/__pycache__/*' -delete
for cligym_dir in {" ".join(map(shlex.quote, plugin_dirs))}; do
  if [ -d "$cligym_dir" ]; then
    find "$cligym_dir" -name '*-pytest-*.pyc' -path '*/__pycache__/*' -delete 2> /dev/null || true
  fi
done
"""
