"""Run the gold tests once more under observation and report what they use."""

from __future__ import annotations

import json
import shlex
from importlib import resources
from typing import Any

from cligym.generation.gold.probe_units import PROCESS_CALLS, per_unit_probe
from cligym.generation.gold.record import Probe
from cligym.generation.gold.script_inlining import inlined_script
from cligym.generation.gold.suite_run import install_report_plugin
from cligym.sandbox import Sandbox
from cligym.settings import SandboxSettings

PROBE_DIR = "/tmp/cligym-probe"
_HOOK_MODULE = "cligym_probe_hook"
_TESTS_PLUGIN = "cligym_probe_tests"
_PTH_FILE = "zz_cligym_probe.pth"
_COLLECTOR = "/tmp/cligym-probe-collect.py"
_REPORT = "/tmp/cligym-probe-report.json"
_INSTALL_STRACE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace"
)


def _script(name: str) -> str:
    return resources.files("cligym.generation.gold").joinpath(name).read_text()


def run_probe(
    image: str,
    test_command: str,
    repo_path: str,
    timeout: float,
    settings: SandboxSettings,
    unit_tests: list[str] | None = None,
) -> Probe:
    """Install the hook (a .pth file in the container's site-packages) and strace when apt can fetch it,
    run the tests, and collect the report inside the container. The gold image itself is not changed.
    ``unit_tests``: the gold tests of a suite another runner runs, whose per-test record is made from the
    processes strace saw each test unit start (``probe_units``) instead of by our pytest plugin."""
    with Sandbox(image, settings=settings, name_prefix="cligym-probe") as box:
        traced = box.exec(_INSTALL_STRACE, timeout=600, shell="/bin/sh").ok
        site = box.exec("python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'").stdout.strip()
        box.write_file(f"{site}/{_HOOK_MODULE}.py", _script("probe_hook.py"))
        box.write_file(f"{site}/{_TESTS_PLUGIN}.py", _script("probe_tests_plugin.py"))
        box.write_file(f"{site}/{_PTH_FILE}", f"import {_HOOK_MODULE}\n")
        box.write_file(_COLLECTOR, inlined_script("probe_collect.py", ("probe_guards",)))
        box.exec(f"mkdir -p {PROBE_DIR}")
        command = test_command
        if traced:
            # The test command may be compound (export ...; pytest ...): trace the shell that runs it.
            calls = ",".join(["execve", "openat", "open", *(PROCESS_CALLS if unit_tests is not None else ())])
            command = (
                f"strace -f -qq -ttt -s 1024 -e trace={calls} -o {PROBE_DIR}/strace.log "
                f"/bin/sh -c {shlex.quote(test_command)}"
            )
        install_report_plugin(box)
        # PYTEST_PLUGINS loads the per-test plugin in every pytest process, whatever the command line says.
        environment = {"CLIGYM_PROBE_DIR": PROBE_DIR, "CLIGYM_PROBE_REPO": repo_path, "PYTEST_PLUGINS": _TESTS_PLUGIN}
        box.exec(command, timeout=timeout * 3, environment=environment, workdir=repo_path)
        box.exec(f"rm -f {site}/{_PTH_FILE} {site}/{_TESTS_PLUGIN}.py")
        collected = box.exec(f"python {_COLLECTOR} {PROBE_DIR} {repo_path} {_REPORT}", timeout=600)
        if not collected.ok:
            raise RuntimeError(f"probe collection failed: {collected.stderr[-2000:]}")
        report = without_undecodable_names(json.loads(box.read_file(_REPORT)))
        probe = Probe.model_validate(report)
        if traced and unit_tests is not None:
            log = box.read_file(f"{PROBE_DIR}/strace.log").decode(errors="replace")
            probe.per_test = per_unit_probe(log, unit_tests, repo_path)
    return probe


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def without_undecodable_names(value: Any) -> Any:
    """The probe's report less every path or name that is not UTF-8 (a test's file named with raw bytes comes
    back as surrogates, which a record cannot store and no operator could aim at): such a string is dropped
    from its list, and so is a row holding one; a key holding one is dropped from its mapping."""
    if isinstance(value, list):
        kept = []
        for item in value:
            if isinstance(item, str) and not _encodable(item):
                continue
            if isinstance(item, dict) and any(isinstance(v, str) and not _encodable(v) for v in item.values()):
                continue
            kept.append(without_undecodable_names(item))
        return kept
    if isinstance(value, dict):
        return {
            key: without_undecodable_names(item)
            for key, item in value.items()
            if _encodable(key) and not (isinstance(item, str) and not _encodable(item))
        }
    return value
