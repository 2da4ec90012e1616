"""Commands that need no Docker and mostly wait or use one core (a type check, pip building venvs): started
when collection ends, at the lowest CPU priority, so they run on what the Docker-heavy tests leave idle, and
awaited by the test that asserts on their output. Only the commands of collected tests start (a test run alone
starts its own); whatever is still running when the session ends is stopped and its directory removed.

A test calls ``finished(NAME)`` and gets the command's exit code and output, as ``subprocess.run`` would give."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Background:
    """A command for the test whose node id ends with ``test``; ``argv`` gets a scratch directory of its own."""

    test: str
    argv: Callable[[Path], list[str]]


def _wheel_install(work: Path) -> list[str]:
    # Built and installed here; the test then imports from the venv (tests/test_packaging.py).
    python = work / "venv" / "bin" / "python"
    script = (
        f"{sys.executable} -m pip wheel --no-deps -q -w {work / 'wheels'} {REPO}"
        f" && {sys.executable} -m venv {work / 'venv'}"
        f" && {python} -m pip install -q {work / 'wheels'}/cligym-*.whl"
    )
    return ["bash", "-c", script]


COMMANDS = {
    "mypy": Background(
        "tests/test_packaging.py::test_code_type_checks_with_mypy",
        lambda _work: [sys.executable, str(REPO / "scripts" / "typecheck.py")],
    ),
    "floors": Background(
        "tests/test_dependency_floors.py::test_the_declared_floors_install_together_and_run_our_code",
        lambda work: [sys.executable, str(REPO / "scripts" / "check_floors.py"), "--venv", str(work / "floors")],
    ),
    "wheel": Background(
        "tests/test_packaging.py::test_wheel_install_in_a_fresh_venv_imports_every_subpackage", _wheel_install
    ),
}


@dataclass
class _Started:
    process: subprocess.Popen[bytes]
    work: Path


_started: dict[str, _Started] = {}


def start(name: str) -> None:
    if name in _started:
        return
    work = Path(tempfile.mkdtemp(prefix=f"cligym-background-{name}-"))
    with (work / "stdout").open("wb") as out, (work / "stderr").open("wb") as err:
        process = subprocess.Popen(
            ["nice", "-n", "19", *COMMANDS[name].argv(work)],
            cwd=REPO,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # stopped as a group at the end of the session
        )
    _started[name] = _Started(process, work)


def start_for(node_ids: Iterable[str]) -> None:
    """Starts the command of every collected test that has one."""
    ids = list(node_ids)
    for name, command in COMMANDS.items():
        if any(node_id.endswith(command.test) for node_id in ids):
            start(name)


def finished(name: str, timeout: float = 1800) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The command's result once it has exited (started now if it was not), and its scratch directory."""
    start(name)
    run = _started[name]
    run.process.wait(timeout=timeout)
    result = subprocess.CompletedProcess(
        run.process.args,
        run.process.returncode,
        (run.work / "stdout").read_text(errors="replace"),
        (run.work / "stderr").read_text(errors="replace"),
    )
    return result, run.work


def stop_all() -> None:
    for run in _started.values():
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
        shutil.rmtree(run.work, ignore_errors=True)
    _started.clear()
