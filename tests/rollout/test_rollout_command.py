"""`cligym rollout` as users run it: parallel episodes in their own containers, one record each, nothing
left behind, and a run killed mid-way that a re-run completes without repeating what was recorded."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cligym.docker_connection import docker_client
from cligym.labels import RUN_ID
from cligym.llm.scripted_server import HttpError, Reply, ScriptedModelServer, tool_reply
from cligym.rollout.runner import EPISODE_STAGE, RUN_ID_FILE
from cligym.rollout.trajectory import TRAJECTORIES_FILE, read_trajectories
from cligym.run_state import RunState
from tests.interrupts import interruptible

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def look_then_submit(body: dict[str, Any]) -> Reply | HttpError:
    """Each conversation runs one command, then submits: any number of episodes can share the server."""
    if any(message["role"] == "tool" for message in body["messages"]):
        return tool_reply("submit", prompt_tokens=300, completion_tokens=5)
    return tool_reply("bash", {"command": "sleep 1; ls /repo"}, prompt_tokens=200, completion_tokens=10)


def rollout_argv(task_dir: Path, out: Path, base_url: str, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cligym",
        "rollout",
        str(task_dir),
        "--out",
        str(out),
        "--base-url",
        base_url,
        "--model",
        "scripted",
        *options,
    ]


def run_containers(out: Path) -> list[Any]:
    run_id = (out / RUN_ID_FILE).read_text().strip()
    return docker_client().containers.list(all=True, filters={"label": f"{RUN_ID}={run_id}"})


def test_concurrency_4_over_8_episodes_records_each_once_and_leaves_no_container(
    exported_task_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rollout"
    with ScriptedModelServer([], then=look_then_submit, model="scripted") as server:
        argv = rollout_argv(exported_task_dir, out, server.base_url, "--samples", "8", "--concurrency", "4")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    trajectories = read_trajectories(out)
    assert sorted(t.sample for t in trajectories) == list(range(8))
    assert all(t.termination_reason == "submitted" and t.reward == 0.0 for t in trajectories)
    assert all(t.totals.tokens == 515 for t in trajectories)
    # Episodes overlapped: some started before others finished.
    spans = sorted((t.started_at, t.finished_at) for t in trajectories)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    state = RunState(out)
    assert [unit.status for unit in state.units(EPISODE_STAGE)] == ["done"] * 8
    state.close()
    assert run_containers(out) == []
    assert "8 episodes run (0 resolved)" in result.stdout
    assert "pass@1" in result.stdout  # the rollout report closes the run
    report = subprocess.run(
        [sys.executable, "-m", "cligym", "rollout-report", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    totals = json.loads(report.stdout)["totals"]
    assert (totals["episodes"], totals["tasks"], totals["resolved"]) == (8, 1, 0)

    again = subprocess.run(
        rollout_argv(exported_task_dir, out, "http://127.0.0.1:9/v1", "--samples", "8"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Nothing is left to run, but the endpoint is still checked before anything starts.
    assert again.returncode != 0 and "127.0.0.1:9" in again.stdout + again.stderr


def test_a_killed_run_is_completed_by_a_rerun_without_repeating_recorded_episodes(
    exported_task_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rollout"
    with ScriptedModelServer([], then=look_then_submit, model="scripted") as server:
        argv = rollout_argv(exported_task_dir, out, server.base_url, "--samples", "4", "--concurrency", "1")
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = out / TRAJECTORIES_FILE
        deadline = time.monotonic() + 600
        while not (records.exists() and records.read_text().count("\n") >= 1):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.5)  # into the next episode: its container is running when the process dies
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        first = {t.episode_id: t.started_at for t in read_trajectories(out)}
        assert 1 <= len(first) < 4
        assert run_containers(out), "a SIGKILLed run cannot clean up: the re-run must"

        rerun = subprocess.run(argv, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "containers left by an interrupted earlier run" in rerun.stdout
    final = read_trajectories(out)
    assert sorted(t.sample for t in final) == [0, 1, 2, 3]
    assert records.read_text().count("\n") == 4  # no episode recorded twice
    for trajectory in final:
        if trajectory.episode_id in first:
            assert trajectory.started_at == first[trajectory.episode_id]
    assert f"{4 - len(first)} episodes run" in rerun.stdout and f"{len(first)} recorded earlier" in rerun.stdout
    assert run_containers(out) == []


def test_ctrl_c_mid_run_exits_130_and_leaves_no_container(exported_task_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rollout"
    slow = tool_reply("bash", {"command": "sleep 30"})
    with ScriptedModelServer([], then=slow, model="scripted") as server:
        argv = rollout_argv(exported_task_dir, out, server.base_url, "--samples", "2", "--concurrency", "2")
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible
        )
        deadline = time.monotonic() + 300
        while len(server.requests) < 2:  # both episodes are in their containers, running `sleep 30`
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1)
        assert run_containers(out)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert run_containers(out) == []
    assert read_trajectories(out) == []  # nothing half-done is recorded


STAND_IN_VLLM = """#!{python}
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
assert args[0] == "serve", args
model = args[1]
host, port = args[args.index("--host") + 1], int(args[args.index("--port") + 1])
with open(os.environ["STAND_IN_LOG"], "a") as log:
    log.write(json.dumps({{"pid": os.getpid(), "argv": args}}) + "\\n")


class Handler(BaseHTTPRequestHandler):
    def _json(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._json({{"object": "list", "data": [{{"id": model, "object": "model"}}]}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        flags = {{arg.split("=", 1)[0] for arg in args}}
        if body.get("tools") and not {{"--enable-auto-tool-choice", "--tool-call-parser"}} <= flags:
            message = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            payload = json.dumps({{"error": {{"message": message, "type": "BadRequestError", "code": 400}}}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        call = {{"id": "call_1", "type": "function", "function": {{"name": "submit", "arguments": "{{}}"}}}}
        message = {{"role": "assistant", "content": None, "tool_calls": [call]}}
        self._json({{
            "id": "c", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{{"index": 0, "message": message, "finish_reason": "tool_calls"}}],
            "usage": {{"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55}},
        }})

    def log_message(self, *a):
        pass


ThreadingHTTPServer((host, port), Handler).serve_forever()
"""


def test_serve_vllm_starts_the_server_for_the_run_and_stops_it(exported_task_dir: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vllm = bin_dir / "vllm"
    vllm.write_text(STAND_IN_VLLM.format(python=sys.executable))
    vllm.chmod(0o755)
    log = tmp_path / "stand-in.jsonl"
    out = tmp_path / "rollout"
    argv = [
        sys.executable, "-m", "cligym", "rollout", str(exported_task_dir), "--out", str(out),
        "--serve", "vllm", "--model", "/models/Qwen3-8B", "--tensor-parallel-size", "2",
        "--vllm-arg=--max-model-len=32768",
    ]  # fmt: skip
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STAND_IN_LOG": str(log)}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    (started,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert started["argv"][:2] == ["serve", "/models/Qwen3-8B"]
    assert "--tensor-parallel-size" in started["argv"] and "2" in started["argv"]
    # Tool calls need the family's parser (the stand-in refuses tools without it, as vLLM does).
    assert started["argv"][-6:] == [
        "--max-model-len=32768", "--tool-call-parser", "hermes", "--enable-auto-tool-choice",
        "--reasoning-parser", "qwen3",
    ]  # fmt: skip
    with pytest.raises(ProcessLookupError):
        os.kill(started["pid"], 0)  # stopped with the run
    (trajectory,) = read_trajectories(out)
    assert trajectory.sampling.model == "/models/Qwen3-8B" and trajectory.termination_reason == "submitted"
    assert trajectory.totals.tokens == 55
