"""bench/gpu_check.sh in its CPU mode, as CI runs it: the tiny Qwen3 is built, planned, trained through
training/train.py and its vLLM flags named; every step says its result and the summary names what is missing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="training needs the [train] extra (CI installs it)")

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_gpu_check_runs_on_cpu_in_dry_run_mode(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run", "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    summary = {line.split()[0]: line.split(None, 2)[1:] for line in result.stdout.split("\n\n")[-1].splitlines()}
    assert [summary[step][0] for step in ("machine", "model", "plan", "train", "serve")] == [
        "ok", "ok", "ok", "ok", "skipped",
    ]  # fmt: skip
    assert "a CUDA GPU" in summary["machine"][1]  # this machine has none, and says so
    assert re.search(r"16 train samples, 0 dropped", summary["plan"][1])
    assert re.search(r"5 steps on CPU, loss \d+\.\d+", summary["train"][1])
    assert (tmp_path / "trained" / "model.safetensors").is_file()
    assert "--tool-call-parser hermes --enable-auto-tool-choice" in summary["serve"][1]
    assert "Traceback" not in result.stdout
