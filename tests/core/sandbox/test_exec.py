"""Commands in a real container: exit codes, output, hard timeouts, output caps."""

from __future__ import annotations

import pytest

from cligym.base_images import BaseImage
from cligym.sandbox import Sandbox
from cligym.settings import SandboxSettings

pytestmark = pytest.mark.docker

LIST_PROCESSES = 'for p in /proc/[0-9]*; do printf "%s\\n" "$(tr "\\0" " " < $p/cmdline)"; done'


@pytest.fixture
def box(base_image: BaseImage, run_id: str):
    with Sandbox(base_image.reference, run_id=run_id) as sandbox:
        yield sandbox


def test_exec_reports_exit_code_stdout_and_stderr_separately(box: Sandbox) -> None:
    result = box.exec("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok and not result.timed_out


def test_exec_timeout_kills_sleep_1000_and_says_so(box: Sandbox) -> None:
    result = box.exec("sleep 1000", timeout=2)
    assert result.timed_out
    assert result.exit_code != 0
    assert result.duration_s < 30
    assert "sleep 1000" not in box.exec(LIST_PROCESSES).stdout


def test_exec_timeout_kills_background_children_too(box: Sandbox) -> None:
    result = box.exec("sleep 1001 & sh -c 'sleep 1002 & sleep 1003' & sleep 1004", timeout=2)
    assert result.timed_out
    remaining = box.exec(LIST_PROCESSES).stdout
    for seconds in (1001, 1002, 1003, 1004):
        assert f"sleep {seconds}" not in remaining


def test_exec_returns_when_command_exits_even_if_a_daemon_keeps_its_pipe(box: Sandbox) -> None:
    result = box.exec("sleep 300 & echo started", timeout=60)
    assert result.ok and result.stdout == "started\n"
    assert result.duration_s < 15


def test_output_cap_keeps_head_and_tail_of_a_50_mb_print(box: Sandbox) -> None:
    script = "import sys; sys.stdout.write('BEGIN' + 'x' * (50 * 1024 * 1024) + 'END')"
    result = box.exec(f'python3 -c "{script}"', output_cap_bytes=64 * 1024, timeout=120)
    assert result.ok
    assert result.stdout.startswith("BEGIN") and result.stdout.endswith("END")
    assert result.stdout_cut_bytes == 50 * 1024 * 1024 + 8 - 64 * 1024
    assert f"[... {result.stdout_cut_bytes} bytes of output cut ...]" in result.stdout
    assert len(result.stdout) < 70 * 1024


def test_exec_passes_environment_workdir_and_user(box: Sandbox) -> None:
    result = box.exec('echo "$GREETING $(pwd) $(id -u)"', environment={"GREETING": "hi"}, workdir="/tmp", user="nobody")
    assert result.stdout.split() == ["hi", "/tmp", "65534"]


def test_login_shell_reads_profile_scripts(box: Sandbox) -> None:
    box.write_file("/etc/profile.d/cligym-test.sh", "export FROM_PROFILE=yes\n")
    assert box.exec('echo "[$FROM_PROFILE]"').stdout == "[]\n"
    assert box.exec('echo "[$FROM_PROFILE]"', login=True).stdout == "[yes]\n"


def test_memory_limit_kills_an_allocation_bomb(base_image: BaseImage, run_id: str) -> None:
    settings = SandboxSettings(memory="128m")
    with Sandbox(base_image.reference, run_id=run_id, settings=settings) as sandbox:
        result = sandbox.exec("python3 -c 'x = bytearray(1 << 30); print(\"allocated\")'", timeout=120)
        assert result.exit_code == 137, result  # SIGKILL from the OOM killer
        assert "allocated" not in result.stdout
        assert sandbox.exec("echo still-alive").stdout == "still-alive\n"


def test_pids_limit_stops_forking(base_image: BaseImage, run_id: str) -> None:
    forker = (
        "import os, time\n"
        "n = 0\n"
        "while True:\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError as exc:\n"
        "        print('stopped after', n, exc.strerror, flush=True)\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
    )
    with Sandbox(base_image.reference, run_id=run_id, settings=SandboxSettings(pids=64)) as sandbox:
        sandbox.write_file("/tmp/forker.py", forker)
        result = sandbox.exec("python3 /tmp/forker.py", timeout=60)
        words = result.stdout.split()
        assert words[:2] == ["stopped", "after"], result
        assert int(words[2]) < 64
        assert "Resource temporarily unavailable" in result.stdout


def test_pids_limit_contains_a_shell_fork_bomb(base_image: BaseImage, run_id: str) -> None:
    with Sandbox(base_image.reference, run_id=run_id, settings=SandboxSettings(pids=64)) as sandbox:
        result = sandbox.exec("bomb() { bomb | bomb & }; bomb; sleep 5", timeout=15)
        stats = sandbox.container.stats(stream=False)
        assert stats["pids_stats"]["current"] <= 64
        assert result.duration_s < 60
        container_name = sandbox.name
    from tests.conftest import containers_named

    assert containers_named(container_name) == []
