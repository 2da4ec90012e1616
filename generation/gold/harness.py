"""The gold record's fingerprint of the test harness (see ``harness_integrity.py``, which runs in the
container): recorded once per gold image, checked after every repair we judge and by the exported verifiers."""

from __future__ import annotations

import json
import posixpath
import shlex
from importlib import resources
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from cligym.generation.gold.dockerfile import PYTEST_PLUGIN_MODULE
from cligym.generation.gold.script_inlining import inlined_script
from cligym.generation.gold.suite_run import SELECT_PLUGIN_MODULE
from cligym.sandbox import Sandbox

if TYPE_CHECKING:  # the record holds a manifest: importing it here would be circular
    from cligym.generation.gold.record import GoldRecord

HARNESS_SCRIPT = "harness_integrity.py"
# Its rules on bytecode and planted modules, and on the interpreter the tests start, in the order the script
# imports them: inlined into the one file it ships as (harness_script).
INLINED_MODULES = ("harness_imports", "harness_interpreter", "harness_libraries", "harness_runner")
# Imported by name (-p) from /tests: a module of that name first on sys.path would stand in for one.
VERIFIER_PLUGIN_MODULES = (PYTEST_PLUGIN_MODULE, SELECT_PLUGIN_MODULE)
IMPORT_NAMES_SCRIPT = "import_names.py"
IMPORT_NAMES_IN_CONTAINER = "/tmp/cligym-import-names.py"
HARNESS_SCRIPT_IN_CONTAINER = "/tmp/cligym-harness-integrity.py"
HARNESS_MANIFEST_IN_CONTAINER = "/tmp/cligym-harness.json"
ABSENT_PATHS_IN_CONTAINER = "/tmp/cligym-harness-absent.txt"
RUNNER_REPORT_IN_CONTAINER = "/tmp/cligym-runner-report.py"
# How the check names each difference on its output (and in the verifier's harness.txt).
HARNESS_PREFIX = "harness_modified: "
# Where every exported verifier (Harbor, Terminal-Bench, our rollouts) puts its files and plugins.
VERIFIER_TESTS_DIR = "/tests"
# Where the verifier's programs are found by absolute path (harness_libraries.py's _SYSTEM_DIRS).
SYSTEM_PROGRAM_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin")
# Read by every process the tests start, to find libraries and users: part of what the tests load.
# (Not ld.so.cache: installing any package with a library rewrites it; a directory added to the linker's path
# shows as a new file under /etc/ld.so.conf.d, which the check lists.)
SYSTEM_CONFIGURATION = ("/etc/ld.so.conf", "/etc/nsswitch.conf")
# The programs the verifier's shell runs around the check: each must be gold's (a wrapper could lie).
VERIFIER_PROGRAMS = (
    "bash",
    "sh",
    "cp",
    "find",
    "grep",
    "sed",
    "rm",
    "mkdir",
    "cat",
    "mv",
    "tee",
    "sha256sum",
    "mktemp",
    "sort",
)


class HarnessManifest(BaseModel):
    """sha256 of each harness file, the directories whose start-up hooks count, where each harness module
    is found and the bytecode cache files gold had."""

    files: dict[str, str] = Field(default_factory=dict)
    hook_dirs: list[str] = Field(default_factory=list)
    interpreter: str | None = Field(None, description="The gold interpreter binary the verifier runs its checks with.")
    search_path: list[str] = Field(default_factory=list, description="Where harness modules are looked for, in order.")
    modules: dict[str, str] = Field(default_factory=dict, description="Harness module -> where gold finds it.")
    bytecode: dict[str, str] = Field(default_factory=dict, description="Cache file -> sha256, as gold had them.")
    own_files: dict[str, str] = Field(
        default_factory=dict,
        description="What the check itself runs on (interpreter, its modules, the verifier's programs) -> sha256: "
        "verified with coreutils before the check runs.",
    )
    absent: list[str] = Field(
        default_factory=list, description="Paths gold lacks whose presence changes every interpreter's start-up."
    )
    repo: str = ""
    commands: dict[str, str] = Field(default_factory=dict, description="Program the tests ran -> where PATH finds it.")
    listings: dict[str, list[str]] = Field(default_factory=dict, description="Directory -> the names gold had in it.")
    interpreter_libraries: list[str] = Field(
        default_factory=list, description="Where the dynamic loader finds the interpreter's libraries, in order."
    )
    library_links: dict[str, str] = Field(
        default_factory=dict,
        description="Library name the loader resolves for the interpreter and the verifier's programs -> the file "
        "it leads to.",
    )
    import_dirs: list[str] = Field(
        default_factory=list, description="Directories of the repository that may be on sys.path when tests run."
    )
    importables: dict[str, str] | None = Field(
        None,
        description="What gold had importable in import_dirs -> sha256 of an untracked file ('' for a tracked "
        "file or a directory); None in manifests recorded before it was.",
    )
    interpreter_paths: dict[str, str] | None = Field(
        None,
        description="Path the tests start an interpreter by (python/python3 on PATH, a console script's #! line) -> "
        "the binary it leads to; None in manifests recorded before it was.",
    )
    pth_files: list[str] = Field(default_factory=list, description="._pth files beside those paths in gold.")
    script_bodies: dict[str, str] = Field(
        default_factory=dict, description="Harness script starting with #! -> sha256 of all but its first line."
    )
    verifier_modules: list[str] = Field(
        default_factory=lambda: list(VERIFIER_PLUGIN_MODULES),
        description="The verifier's own plugins: never importable from the repository's or a script's directory.",
    )
    import_names: list[str] | None = Field(
        None,
        description="Top-level module names something could import (import_names.py): a new module in import_dirs "
        "under another name runs nowhere; None in manifests recorded before it was (every new module counts).",
    )
    runner_absent: list[str] = Field(
        default_factory=list,
        description="Paths a test runner other than pytest looked for and did not find in gold (a module in a "
        "nearer node_modules, CTestCustom.cmake, a GNUmakefile beside a Makefile): one there now is read or run.",
    )
    path_config: str = Field(
        "", description="prefix:exec_prefix:sys.path of the isolated interpreter the checks run on, as in gold."
    )

    def shared_objects(self) -> list[str]:
        """The extension modules and libraries among the harness files, whose libraries the loader must still
        resolve to gold's files (one put first on a library path would run in the tests' process)."""
        return sorted(p for p in self.files if p.endswith(".so") or ".so." in posixpath.basename(p))

    def programs(self) -> list[str]:
        """The interpreter and the programs the verifier's shell runs, as gold had them."""
        found = [path for path in self.own_files if posixpath.dirname(path) in SYSTEM_PROGRAM_DIRS]
        return sorted({*([self.interpreter] if self.interpreter else []), *found})


def harness_script() -> str:
    """The harness check as containers run it: ``harness_integrity.py`` with the text of each module it imports
    from this package (``INLINED_MODULES``) in place of the import that names it. Run isolated (``-I -S``), the
    check finds no module beside it; and one file is what the verifier's digests cover (a module it imported
    from ``/tests`` would be code outside gold's ``own_files``)."""
    return inlined_script(HARNESS_SCRIPT, INLINED_MODULES)


def harness_modules(gold: GoldRecord) -> list[str]:
    """Every module the gold session imported from outside the repository (pytest's and the tests' alike,
    ours left out): code in any of them runs in the verifier's pytest process and could rewrite its report,
    so each must be found where gold found it and hold gold's bytes."""
    names = {m.name for m in gold.probe.modules if m.origin in ("stdlib", "site-packages")}
    footprint = gold.footprint
    if footprint is not None:
        names |= footprint.harness()
    return sorted(name for name in names if not name.startswith("cligym_"))


def import_dirs(gold: GoldRecord, limit: int = 300) -> list[str]:
    """Directories of the repository that may come first on ``sys.path``: those holding tracked Python files
    and every directory above them (pytest inserts a test package's base directory, an editable install's
    ``.pth`` adds ``src/``). A module planted there could stand in for one the harness imports."""
    dirs: set[str] = set()
    for path in gold.tracked_files:
        if not path.endswith(".py"):
            continue
        directory = posixpath.dirname(f"{gold.repo_path}/{path}")
        while directory.startswith(gold.repo_path) and directory not in dirs:
            dirs.add(directory)
            directory = posixpath.dirname(directory)
    return sorted(dirs, key=lambda d: (d.count("/"), d))[:limit]


def script_dirs(gold: GoldRecord) -> list[str]:
    """Directories of the installed Python scripts the gold tests ran (a console script in /usr/local/bin):
    first on ``sys.path`` of the process each starts, so a module planted beside one runs there."""
    return sorted({posixpath.dirname(f.path) for f in gold.probe.executables if f.distribution and f.path})


def absent_modules(gold: GoldRecord) -> list[str]:
    """Modules the gold session tried to import and did not find (an optional dependency, a hook that
    ``sitecustomize`` tries): one appearing later would run in the verifier's pytest process."""
    per_test = gold.probe.per_test
    if per_test is None:
        return []
    tried = {name for names in per_test.import_edges.values() for name in names}
    for context in per_test.contexts.values():
        tried.update(context.imports)
        tried.update(call.partition(">")[2] for call in context.calls)
    for guarded in per_test.import_guards.values():
        tried.update(guarded)
    found = {m.name for m in gold.probe.modules}
    return sorted(name for name in tried if name and name not in found and not name.startswith("cligym_"))


def loaded_files(gold: GoldRecord) -> list[str]:
    """Files outside the repository that the gold tests loaded or ran and a package installed: shared
    libraries, console scripts and programs, packaged data and configuration they opened."""
    probe = gold.probe
    found = [f.path for f in probe.shared_libraries + probe.executables]
    found += [f.path for f in probe.files if f.package or f.distribution]
    return sorted({path for path in found if path.startswith("/") and not path.startswith(("/proc/", "/dev/"))})


# Files npm itself rewrites whenever it installs (a reinstall of the same packages included): not harness.
_NPM_BOOKKEEPING = ("/node_modules/.package-lock.json", "/node_modules/.bin/")


def runner_files(gold: GoldRecord) -> list[str]:
    """For a suite another runner than pytest runs: the repository's untracked files its tests ran, loaded or
    read (the test runner in node_modules, the generated Makefile and test driver, the programs the build
    made). Code in any of them decides what the run reports; the tracked ones are put back from pristine."""
    per_test = gold.probe.per_test
    if gold.runner is None or per_test is None:
        return []
    prefix = gold.repo_path.rstrip("/") + "/"
    found: set[str] = set()
    for context in per_test.contexts.values():
        for path in [*context.executables, *context.libraries, *context.files]:
            normal = posixpath.normpath(path)
            relative = normal.removeprefix(prefix)
            bookkeeping = any(part in normal for part in _NPM_BOOKKEEPING)
            if normal.startswith(prefix) and relative not in gold.tracked_files and not bookkeeping:
                found.add(normal)
    return sorted(found)


# What make reads in a directory before its Makefile (GNU make's order): one appearing there replaces it. make
# answers from its own listing of the directory, so no lookup of them shows in the probe's trace.
_MAKEFILES_BEFORE = ("GNUmakefile", "makefile")


def runner_absent(gold: GoldRecord) -> list[str]:
    """Paths the suite's processes looked for and did not find, and the makefiles make would prefer to each
    ``Makefile`` it read: any of them appearing would be read or loaded in the verifier's run."""
    per_test = gold.probe.per_test
    if gold.runner is None or per_test is None:
        return []
    found = set(per_test.missing)
    for path in runner_files(gold):
        if posixpath.basename(path) == "Makefile":
            found.update(posixpath.join(posixpath.dirname(path), name) for name in _MAKEFILES_BEFORE)
    return sorted(found)


def programs_run(gold: GoldRecord) -> list[str]:
    """Every path the gold tests started a program by (a link among them must keep leading to gold's file)."""
    found = {f.path for f in gold.probe.executables if f.path}
    if gold.probe.per_test is not None:
        found.update(path for context in gold.probe.per_test.contexts.values() for path in context.executables)
    return sorted(path for path in found if path.startswith("/") and not path.startswith(("/proc/", "/dev/")))


def commands_run(gold: GoldRecord) -> list[str]:
    """Names of the programs the gold tests ran (found on PATH by name: a wrapper put first would run)."""
    return sorted({posixpath.basename(f.path) for f in gold.probe.executables if f.path})


def module_files(gold: GoldRecord) -> list[str]:
    """Files of the modules the gold session imported from outside the repository (sources and extensions)."""
    return sorted(
        m.file
        for m in gold.probe.modules
        if m.origin in ("stdlib", "site-packages") and m.file and m.file.endswith((".py", ".so"))
    )


def runner_report_modules(box: Sandbox) -> list[str]:
    """The modules the shipped ``runner_report.py`` imports, as the verifier runs it (isolated): for a suite
    another runner than pytest runs, its verdict goes through them."""
    script = resources.files("cligym.generation.runners").joinpath("runner_report.py").read_text()
    box.write_file(RUNNER_REPORT_IN_CONTAINER, script)
    listing = (
        "import sys, runpy; before = set(sys.modules); "
        f"runpy.run_path({RUNNER_REPORT_IN_CONTAINER!r}, run_name='cligym_runner_report'); "
        "print(*sorted(n for n in set(sys.modules) - before if sys.modules[n] is not None))"
    )
    result = box.exec(f"python3 -I -S -c {shlex.quote(listing)}", timeout=120)
    if not result.ok:
        raise RuntimeError(f"listing runner_report.py's modules failed: {result.stderr[-2000:]}")
    return result.stdout.split()


def record_harness(box: Sandbox, gold: GoldRecord, plugins: list[str]) -> HarnessManifest:
    """Fingerprint ``gold``'s harness in ``box`` (a container of the gold image); the verifier's plugins
    will sit in ``/tests``, first on ``PYTHONPATH``."""
    box.write_file(HARNESS_SCRIPT_IN_CONTAINER, harness_script())
    files = [*module_files(gold), *loaded_files(gold), *runner_files(gold), *SYSTEM_CONFIGURATION]
    modules = harness_modules(gold)
    if gold.runner is not None:
        modules = sorted({*modules, *runner_report_modules(box)})
    arguments = ["--plugins", *plugins, "--files", *files, "--modules", *modules]
    arguments += ["--absent-modules", *absent_modules(gold)]
    arguments += ["--first", VERIFIER_TESTS_DIR, *import_dirs(gold), "--repo", gold.repo_path]
    arguments += ["--script-dirs", *script_dirs(gold)]
    arguments += ["--programs", *VERIFIER_PROGRAMS, "--commands", *commands_run(gold)]
    # Thousands of paths for a Node suite: more than one command line may hold.
    box.write_file(ABSENT_PATHS_IN_CONTAINER, "".join(f"{path}\n" for path in runner_absent(gold)))
    arguments += ["--links", *programs_run(gold), "--absent-paths", f"@{ABSENT_PATHS_IN_CONTAINER}"]
    command = " ".join(["python3 -I -S", HARNESS_SCRIPT_IN_CONTAINER, "record", *map(shlex.quote, arguments)])
    result = box.exec(command, timeout=300)
    if not result.ok:
        raise RuntimeError(f"recording the test harness failed: {result.stderr[-2000:]}")
    manifest = HarnessManifest.model_validate(json.loads(result.stdout))
    # A tracked file's content is the pristine copy's once the verifier restores it: only its name counts.
    tracked = {posixpath.join(gold.repo_path, path) for path in gold.tracked_files}
    found = manifest.importables or {}
    manifest.importables = {path: "" if path in tracked else digest for path, digest in found.items()}
    manifest.import_names = record_import_names(box, manifest)
    return manifest


def record_import_names(box: Sandbox, manifest: HarnessManifest) -> list[str]:
    """Every top-level name a module planted in the repository's import directories could be imported as:
    asked for by the code on the search path or in the repository, or offered by those directories."""
    script = resources.files("cligym.generation.gold").joinpath(IMPORT_NAMES_SCRIPT).read_text()
    box.write_file(IMPORT_NAMES_IN_CONTAINER, script)
    elsewhere = [d for d in manifest.search_path if d not in manifest.import_dirs]
    arguments = ["--search", *manifest.import_dirs, "--scan", *elsewhere, "--repo", manifest.repo]
    command = " ".join(["python3 -I -S", IMPORT_NAMES_IN_CONTAINER, *map(shlex.quote, arguments)])
    result = box.exec(command, timeout=300)
    if not result.ok:
        raise RuntimeError(f"listing the names the harness could import failed: {result.stderr[-2000:]}")
    return [str(name) for name in json.loads(result.stdout)]


def harness_problems(box: Sandbox, manifest: HarnessManifest) -> list[str]:
    """What differs from gold in ``box`` (an empty list: the harness is intact)."""
    box.write_file(HARNESS_SCRIPT_IN_CONTAINER, harness_script())
    box.write_file(HARNESS_MANIFEST_IN_CONTAINER, manifest.model_dump_json())
    result = box.exec(f"python3 -I -S {HARNESS_SCRIPT_IN_CONTAINER} check {HARNESS_MANIFEST_IN_CONTAINER}", timeout=300)
    found = [line.removeprefix(HARNESS_PREFIX) for line in result.stdout.splitlines() if line.strip()]
    if result.ok:
        return []
    return found or [f"the harness check could not run: {(result.stdout + result.stderr).strip()[-300:]}"]
