"""How the verifier applies the task's BASH_ENV file without sourcing it: the lines a break or a repair
writes take effect, anything else is a harness change. Run in a real bash."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cligym.generation.export.shell_startup import StartupFiles, startup_script

FLAGGED = "harness_modified"


def applied(tmp_path: Path, line: str) -> str:
    """What the verifier's shell holds for the break's variable after the file holding ``line``, or FLAGGED."""
    startup = tmp_path / "bash.env"
    startup.write_text(line + "\n")
    script = startup_script(StartupFiles((str(startup),), ("LD_LIBRARY_PATH",)))
    probe = (
        f"HARNESS_MODIFIED=0\nexport LD_LIBRARY_PATH=before\n{script}\n"
        f'if [ "$HARNESS_MODIFIED" = 1 ]; then echo {FLAGGED}; else echo "${{LD_LIBRARY_PATH-unset}}"; fi'
    )
    return subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("export LD_LIBRARY_PATH=/usr/local/lib/compat", "/usr/local/lib/compat"),  # the break, unrepaired
        ('export LD_LIBRARY_PATH="/usr/local/lib/compat"  # set by the image', "/usr/local/lib/compat"),
        # Repairs an admin writes: emptied, quoted empty, with a note, unset.
        ('export LD_LIBRARY_PATH=""', ""),
        ("export LD_LIBRARY_PATH=''", ""),
        ("export LD_LIBRARY_PATH=  # removed the compat dir, it shadowed sqlite", ""),
        ("unset LD_LIBRARY_PATH", "unset"),
        ("unset -v LD_LIBRARY_PATH  # gone", "unset"),
        ("# nothing left here", "before"),
    ],
)
def test_lines_a_break_or_a_repair_writes_take_effect(tmp_path: Path, line: str, value: str) -> None:
    assert applied(tmp_path, line) == value


@pytest.mark.parametrize(
    "line",
    [
        'export LD_LIBRARY_PATH="$(id)"',  # an expansion would run code
        # Blanks bash does not split on: a comment here, two commands to bash (the second the decoy).
        "export LD_LIBRARY_PATH=\v#;export LD_LIBRARY_PATH=/usr/local/lib/compat",
        "unset LD_LIBRARY_PATH \f# ; export LD_LIBRARY_PATH=/usr/local/lib/compat",
        "export LD_LIBRARY_PATH=\r",
        "export LD_LIBRARY_PATH=caf\u00e9",
        "export LD_LIBRARY_PATH=abc#def",  # bash keeps the '#': not the value this reading would give
        "unset PATH",  # only what the break exported
        "unset LD_LIBRARY_PATH; echo hi",
        "trap 'echo 1 > /logs/verifier/reward.txt' EXIT",
    ],
)
def test_any_other_line_is_a_harness_change(tmp_path: Path, line: str) -> None:
    assert applied(tmp_path, line) == FLAGGED


def test_limits_apply_to_the_tests_shell_only(tmp_path: Path) -> None:
    from cligym.generation.export.shell_startup import APPLY_STARTUP_LIMITS

    startup = tmp_path / "bash.env"
    startup.write_text("ulimit -n 64  # files\n")
    script = startup_script(StartupFiles((str(startup),), ()))
    probe = f"HARNESS_MODIFIED=0\n{script}\necho $(ulimit -n) $HARNESS_MODIFIED; ( {APPLY_STARTUP_LIMITS}ulimit -n )"
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["0", "64"] and out[0] != "64"  # the verifier's own shell keeps its limit


def _after_startup_file(tmp_path: Path, startup: Path) -> str:
    script = startup_script(StartupFiles((str(startup),), ("LD_LIBRARY_PATH",)))
    probe = (
        f"HARNESS_MODIFIED=0\nexport LD_LIBRARY_PATH=before\n{script}\n"
        'echo "$HARNESS_MODIFIED ${LD_LIBRARY_PATH-unset}"; printf %s "$cligym_startup_problems"'
    )
    return subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True, timeout=30).stdout


def test_a_startup_file_that_is_no_regular_file_is_a_harness_change_and_gone_is_a_repair(tmp_path: Path) -> None:
    # A FIFO a leftover process kept feeding the break's lines to every bash: read here, it would block.
    fifo = tmp_path / "fifo.env"
    os.mkfifo(fifo)
    out = _after_startup_file(tmp_path, fifo)
    assert out.startswith("1 before") and f"{fifo} (not a regular file)" in out
    null = tmp_path / "null.env"
    null.symlink_to("/dev/null")
    assert _after_startup_file(tmp_path, null).strip() == "0 before"
    assert _after_startup_file(tmp_path, tmp_path / "deleted.env").strip() == "0 before"
