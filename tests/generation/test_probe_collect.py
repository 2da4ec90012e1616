"""Pieces of the probe's in-container collector, as pure functions."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

from cligym.generation.gold import probe_collect
from cligym.generation.gold.probe import without_undecodable_names
from cligym.generation.gold.probe_collect import (
    context_at,
    is_interesting_file,
    is_scratch_file,
    is_shared_library,
    module_origin,
    parse_strace_events,
    usrmerge_variants,
)
from cligym.generation.gold.probe_guards import guarded_lines, import_guards
from cligym.generation.gold.record import Probe
from cligym.generation.gold.script_inlining import inlined_script

STRACE_LOG = """\
100   execve("/bin/sh", ["/bin/sh", "-c", "python -m pytest"], 0x7ffd /* 9 vars */) = 0
101   execve("/usr/bin/python", ["python", "-m", "pytest"], 0x7ffd /* 9 vars */) = 0
101   openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
101   openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libz.so.1", O_RDONLY|O_CLOEXEC) = 3
101   openat(AT_FDCWD, "/usr/local/lib/libmissing.so", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
102   execve("/usr/local/sbin/git", ["git", "status"], 0x55 /* 9 vars */) = -1 ENOENT (No such file or directory)
102   execve("/usr/bin/git", ["git", "status"], 0x55 /* 9 vars */ <unfinished ...>
103   openat(AT_FDCWD, "/etc/gitconfig", O_RDONLY <unfinished ...>
102   <... execve resumed>) = 0
103   <... openat resumed>) = -1 ENOENT (No such file or directory)
104   open("/etc/hosts", O_RDONLY) = 5
"""


def test_strace_log_yields_successful_execs_and_opens_only_without_the_probes_own_shell() -> None:
    events = parse_strace_events(STRACE_LOG)
    executed = {path for call, path, _ in events if call == "execve"}
    opened = {path for call, path, _ in events if call != "execve"}
    assert executed == {"/usr/bin/python", "/usr/bin/git"}
    assert opened == {"/etc/ld.so.cache", "/lib/x86_64-linux-gnu/libz.so.1", "/etc/hosts"}


def test_shared_library_names() -> None:
    assert is_shared_library("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13")
    assert is_shared_library("/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so")
    assert not is_shared_library("/etc/ld.so.cache")
    assert not is_shared_library("/etc/ld.so.conf")


def test_module_origins() -> None:
    stdlib = {"/usr/lib/python3.11"}
    assert module_origin("/repo/pkg/mod.py", "/repo", stdlib) == "repo"
    assert module_origin("/usr/local/lib/python3.11/dist-packages/x/__init__.py", "/repo", stdlib) == "site-packages"
    assert module_origin("/usr/lib/python3.11/json/__init__.py", "/repo", stdlib) == "stdlib"
    assert module_origin(None, "/repo", stdlib) == "builtin"
    assert module_origin("/repository/x.py", "/repo", stdlib) == "other"


def test_interesting_files_exclude_repo_scratch_code_and_libraries() -> None:
    keep = ["/etc/os-release", "/usr/share/zoneinfo/UTC", "/etc/ssl/openssl.cnf"]
    drop = [
        "/repo/setup.cfg",
        "/tmp/pytest-of-root/x",
        "/proc/self/maps",
        "/usr/lib/python3.11/os.py",
        "/usr/local/lib/python3.11/dist-packages/x-1.0.dist-info/METADATA",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "relative/path",
    ]
    assert all(is_interesting_file(p, "/repo", "/tmp/cligym-probe") for p in keep)
    assert not any(is_interesting_file(p, "/repo", "/tmp/cligym-probe") for p in drop)


def test_usrmerge_variants_cover_both_spellings() -> None:
    assert usrmerge_variants("/usr/lib/x86_64-linux-gnu/libz.so.1") == [
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libz.so.1",
    ]
    assert usrmerge_variants("/bin/sh") == ["/bin/sh", "/usr/bin/sh"]


def test_scratch_files_are_paths_the_tests_name_not_ones_tempfile_or_pytest_chose() -> None:
    assert is_scratch_file("/tmp/inventory-export.json")
    assert not is_scratch_file("/tmp/tmpab12cd_9/x") and not is_scratch_file("/tmp/pytest-of-root/p0/x")
    assert not is_scratch_file("/var/tmp/x")


def test_a_traced_call_belongs_to_the_innermost_window_holding_it() -> None:
    windows = [["", 0.0, 100.0, 1], ["tests/test_a.py", 1.0, 2.0, 1], ["tests/test_a.py::test_x", 5.0, 6.0, 1]]
    assert context_at(windows, 1.5) == "tests/test_a.py"
    assert context_at(windows, 5.5) == "tests/test_a.py::test_x"
    assert context_at(windows, 50.0) == "" and context_at(windows, 500.0) == ""


GUARDED_SOURCE = b"""\
import os
try:
    import _speedups
except ImportError:
    _speedups = None
try:
    import ssl, json
except (ValueError, builtins.Exception):
    ssl = None
from contextlib import suppress
with suppress(ModuleNotFoundError):
    import yaml
def later():
    try:
        import toml
    finally:
        pass
"""


def test_guarded_lines_name_what_each_handler_catches() -> None:
    guards = guarded_lines(GUARDED_SOURCE)
    assert 1 not in guards and 15 not in guards  # unguarded, and guarded by finally only
    assert guards[3] == {"ImportError"}
    assert guards[7] == {"ValueError", "Exception"}
    assert guards[12] == {"ModuleNotFoundError"}


def test_an_import_counts_as_guarded_only_when_every_site_is(tmp_path: Path) -> None:
    source = tmp_path / "speedy.py"
    source.write_bytes(GUARDED_SOURCE)
    sites = {"speedy": {"_speedups": [3], "os": [1], "ssl": [3, 7], "toml": [15]}, "elsewhere": {"os": [1]}}
    guards = import_guards(sites, {"speedy": str(source), "elsewhere": None})
    assert guards == {"speedy": {"_speedups": [["ImportError"]], "ssl": [["ImportError"], ["Exception", "ValueError"]]}}


def test_a_variable_a_test_sets_and_a_program_only_the_stdlib_starts_are_not_what_it_uses(tmp_path: Path) -> None:
    test = "tests/test_a.py::test_one"
    stdlib = sysconfig.get_paths()["stdlib"]
    record = {
        "pid": 1,
        "argv": ["pytest"],
        "context": "",
        "modules": {"platform": f"{stdlib}/platform.py", "test_a": str(tmp_path / "repo/tests/test_a.py")},
        "maps": [],
        "contexts": {
            test: {
                "env": ["FROM_IMAGE", "SET_BY_TEST"],
                "env_set": ["SET_BY_TEST"],
                "executed": ["/bin/uname", "/bin/date"],
                "launched": ["platform>/bin/uname", "test_a>/bin/date"],
            }
        },
        "edges": {},
        "name_edges": {},
        "sites": {},
    }
    (tmp_path / "py-1.json").write_text(json.dumps(record))
    (tmp_path / "tests-1.json").write_text(json.dumps({"windows": [[test, 0.0, 1.0, 1]], "fixtures": {}}))
    # As in a probe container: the collector as a script, in an interpreter without our site-packages.
    script = _shipped_collector(tmp_path)
    out = tmp_path / "report.json"
    subprocess.run([sys.executable, "-S", str(script), str(tmp_path), str(tmp_path / "repo"), str(out)], check=True)
    context = json.loads(out.read_text())["per_test"]["contexts"][test]
    assert context["env"] == ["FROM_IMAGE"]
    assert context["executables"] == ["/bin/date"]


def test_the_hook_records_variables_read_by_name_not_an_environment_copied_whole(tmp_path: Path) -> None:
    hook_dir = Path(probe_collect.__file__).parent
    program = (
        f"import sys; sys.path.insert(0, {str(hook_dir)!r}); import probe_hook\n"
        "import os\n"
        "os.environ.get('APP_SETTING'); os.getenv('APP_OTHER'); os.environ['APP_THIRD']\n"
        "copied = dict(os.environ); spread = {**os.environ}\n"
    )
    environment = {f"FILLER_{i}": "x" for i in range(12)}
    environment |= {"CLIGYM_PROBE_DIR": str(tmp_path), "APP_SETTING": "1", "APP_OTHER": "2", "APP_THIRD": "3"}
    subprocess.run([sys.executable, "-S", "-c", program], env=environment, check=True)
    (record,) = [json.loads(path.read_text()) for path in tmp_path.glob("py-*.json")]
    assert record["contexts"][""]["env"] == ["APP_OTHER", "APP_SETTING", "APP_THIRD"]


def _shipped_collector(tmp_path: Path) -> Path:
    """The collector as probe.py writes it into a container: one file, its guard rules inlined."""
    script = tmp_path / "cligym-probe-collect.py"
    script.write_text(inlined_script("probe_collect.py", ("probe_guards",)))
    return script


def _collect(tmp_path: Path, probe_dir: Path, session: dict[str, object], pythonpath: str = "") -> dict:
    """Runs the collector as in a probe container: a script, in an interpreter without our site-packages."""
    (probe_dir / "tests-1.json").write_text(json.dumps({"windows": [], "fixtures": {}, **session}))
    out = tmp_path / "report.json"
    script = _shipped_collector(tmp_path)
    environment = {"PYTHONPATH": pythonpath} if pythonpath else {}
    subprocess.run(
        [sys.executable, "-S", str(script), str(probe_dir), str(tmp_path / "repo"), str(out)],
        check=True,
        env=environment,
    )
    return json.loads(out.read_text())["per_test"]["contexts"][""]


def _run_hooked(probe_dir: Path, program: str, pythonpath: Path, **environment: str) -> None:
    hook_dir = Path(probe_collect.__file__).parent
    preamble = f"import sys; sys.path.insert(0, {str(hook_dir)!r}); import probe_hook\n"
    env = {"CLIGYM_PROBE_DIR": str(probe_dir), "PYTHONPATH": str(pythonpath), **environment}
    subprocess.run([sys.executable, "-S", "-c", preamble + program], env=env, check=True)


def test_a_file_opened_inside_a_fallback_is_guarded_and_one_opened_plainly_is_not(tmp_path: Path) -> None:
    library, probe_dir = tmp_path / "lib", tmp_path / "probe"
    library.mkdir()
    probe_dir.mkdir()
    # The opener itself catches nothing: the guard is its caller's, a search over candidate files.
    (library / "lookup.py").write_text(
        "def load(path):\n"
        "    with open(path) as handle:\n"
        "        return handle.read()\n"
        "\n"
        "def first(paths):\n"
        "    for path in paths:\n"
        "        try:\n"
        "            return load(path)\n"
        "        except (IOError, ValueError):\n"
        "            continue\n"
    )
    _run_hooked(probe_dir, "import lookup; lookup.first(['/etc/passwd']); lookup.load('/etc/hosts')\n", library)
    context = _collect(tmp_path, probe_dir, {})
    assert {"/etc/passwd", "/etc/hosts"} <= set(context["files"])
    assert context["file_guards"] == {"/etc/passwd": [["IOError", "ValueError"]]}


def test_a_variable_only_a_test_plugins_code_reads_is_not_the_projects(tmp_path: Path) -> None:
    site, probe_dir = tmp_path / "site", tmp_path / "probe"
    (site / "ciplugin-1.0.dist-info").mkdir(parents=True)
    probe_dir.mkdir()
    (site / "ciplugin.py").write_text("import os\nIN_CI = 'CI_FLAVOUR' in os.environ\n")
    (site / "appconfig.py").write_text("import os\nMODE = os.environ.get('APP_MODE')\n")
    (site / "ciplugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ciplugin\nVersion: 1.0\n")
    (site / "ciplugin-1.0.dist-info" / "RECORD").write_text("ciplugin.py,,\nciplugin-1.0.dist-info/METADATA,,\n")
    _run_hooked(probe_dir, "import ciplugin, appconfig\n", site, CI_FLAVOUR="1", APP_MODE="x")
    # pytest loaded the plugin before any conftest: its distribution is the test harness's.
    context = _collect(tmp_path, probe_dir, {"harness": ["ciplugin"], "plugins": ["ciplugin"]}, str(site))
    assert context["env"] == ["APP_MODE"]
    without = _collect(tmp_path, probe_dir, {"harness": [], "plugins": []}, str(site))
    assert without["env"] == ["APP_MODE", "CI_FLAVOUR"]


def test_paths_that_are_not_utf8_are_dropped_before_the_record_holds_them() -> None:
    # What json.loads gives for a file a test named with raw bytes (click's tests do): a lone surrogate.
    raw = json.loads(
        json.dumps(
            {
                "files": [{"path": "/tmp/caf\udcff", "package": None}, {"path": "/etc/os-release", "package": None}],
                "env_vars": ["PATH", "X\udcff"],
                "per_test": {"contexts": {"t::a": {"files": ["/tmp/\udcff", "/etc/hosts"]}, "\udcff": {}}},
            }
        )
    )
    cleaned = without_undecodable_names(raw)
    assert cleaned == {
        "files": [{"path": "/etc/os-release", "package": None}],
        "env_vars": ["PATH"],
        "per_test": {"contexts": {"t::a": {"files": ["/etc/hosts"]}}},
    }
    Probe.model_validate(cleaned).model_dump_json()
