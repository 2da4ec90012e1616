"""The harness check's rules for other test runners, on real files: the programs a script's #! line starts,
the links programs are run by, the paths gold lacked (the container-side replays are in test_other_runners)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cligym.generation.gold.harness_interpreter import script_programs
from cligym.generation.gold.harness_runner import program_links, runner_problems, still_absent


def test_a_scripts_interpreter_and_the_program_env_finds_are_harness_files(tmp_path: Path) -> None:
    env_script = tmp_path / "tape"
    env_script.write_text("#!/usr/bin/env -S sh -e\nexit 0\n")
    direct = tmp_path / "driver"
    direct.write_text("#! /bin/sh\nexit 0\n")
    plain = tmp_path / "data.js"
    plain.write_text("module.exports = 1\n")
    sh = os.path.realpath(shutil.which("sh") or "/bin/sh")
    found = script_programs([str(env_script), str(direct), str(plain), str(tmp_path / "gone")])
    assert found == sorted({os.path.realpath("/usr/bin/env"), sh, os.path.realpath("/bin/sh")})


def test_a_program_run_by_a_link_keeps_leading_to_gold_file(tmp_path: Path) -> None:
    target = tmp_path / "tape" / "bin" / "tape"
    target.parent.mkdir(parents=True)
    target.write_text("#!/bin/sh\n")
    link = tmp_path / ".bin-tape"
    link.symlink_to(target)
    assert program_links([str(link), str(target)]) == {str(link): str(target)}


def test_a_path_gold_looked_for_is_judged_only_once_it_appears(tmp_path: Path) -> None:
    present, missing = tmp_path / "Makefile", tmp_path / "GNUmakefile"
    present.write_text("all:\n")
    absent = still_absent([str(present), str(missing)])
    assert absent == [str(missing)]
    assert runner_problems({"runner_absent": absent}) == []
    missing.symlink_to(tmp_path / "nowhere")  # a dangling link is there too
    assert runner_problems({"runner_absent": absent}) == [
        f"{missing} (added: gold's test run looked for it and found nothing)"
    ]
