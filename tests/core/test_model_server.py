"""The model-server launcher with a stand-in for ``vllm serve`` (no GPU here): it passes vLLM's arguments,
waits for /health (which needs no key, where /v1/models answers 401 without the server's --api-key), reports a
server that dies or never answers, and stops the whole process group."""

from __future__ import annotations

import os
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cligym.errors import CligymError
from cligym.model_server import ModelServer

# Speaks the part of vLLM's interface the launcher relies on: `serve MODEL --host H --port P ...`, then /health
# and an OpenAI-compatible /v1/models behind --api-key; it also starts a worker child, as tensor-parallel vLLM
# does.
STAND_IN = textwrap.dedent(
    """
    import argparse, json, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    parser = argparse.ArgumentParser()
    parser.add_argument("serve")
    parser.add_argument("model")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--tensor-parallel-size", type=int)
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--api-key")
    args, unknown = parser.parse_known_args()
    print("args", json.dumps(vars(args)), unknown, flush=True)
    if args.mode == "crash":
        sys.exit("CUDA out of memory")
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("worker", worker.pid, flush=True)
    time.sleep(1.5)

    class Models(BaseHTTPRequestHandler):
        def do_GET(self):
            status = 200 if args.mode == "ok" else 503
            body = json.dumps({"object": "list", "data": [{"id": args.model, "object": "model"}]}).encode()
            if self.path == "/health":
                body = b""
            elif args.api_key and self.headers.get("Authorization") != f"Bearer {args.api_key}":
                status, body = 401, b'{"error": "Unauthorized"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    HTTPServer((args.host, args.port), Models).serve_forever()
    """
)


@pytest.fixture
def stand_in(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_vllm.py"
    script.write_text(STAND_IN)
    return [sys.executable, str(script), "serve"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_ready_server_is_used_then_stopped_with_its_workers(stand_in: list[str], tmp_path: Path) -> None:
    log = tmp_path / "vllm.log"
    with ModelServer("Qwen/Qwen3-8B", tensor_parallel_size=2, extra_args=["--max-model-len", "32768"],
                     command=stand_in, log_path=log, startup_timeout=60) as server:  # fmt: skip
        assert server.served_models == ["Qwen/Qwen3-8B"]
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=5) as response:
            assert response.status == 200
        pid = server.pid
        assert pid is not None
        worker = int(next(line.split()[1] for line in log.read_text().splitlines() if line.startswith("worker")))
        assert alive(pid) and alive(worker)
    assert '"tensor_parallel_size": 2' in log.read_text() and "--max-model-len" in log.read_text()
    # Killed on exit; the kernel may take a moment to reap a worker on a loaded machine.
    deadline = time.monotonic() + 10
    while (alive(pid) or alive(worker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid) and not alive(worker)


def test_a_server_that_dies_while_loading_is_reported_with_its_log(stand_in: list[str], tmp_path: Path) -> None:
    with pytest.raises(CligymError, match="exited with code 1") as error:
        ModelServer("m", extra_args=["--mode", "crash"], command=stand_in, log_path=tmp_path / "l.log").start()
    assert "CUDA out of memory" in error.value.message


def test_a_server_that_never_answers_times_out_and_is_stopped(stand_in: list[str], tmp_path: Path) -> None:
    server = ModelServer("m", extra_args=["--mode", "busy"], command=stand_in, log_path=tmp_path / "l.log",
                         startup_timeout=6)  # fmt: skip
    with pytest.raises(CligymError, match="did not answer"):
        server.start()
    assert server.pid is None


def test_missing_vllm_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CligymError, match="not installed") as error:
        ModelServer("m", command=["no-such-vllm-binary", "serve"], log_path=tmp_path / "l.log").start()
    assert "cligym[vllm]" in (error.value.hint or "")


def test_a_server_behind_an_api_key_is_ready_on_health_and_lists_its_models_with_the_key(
    stand_in: list[str], tmp_path: Path
) -> None:
    server = ModelServer("Qwen/Qwen3-8B", extra_args=["--api-key", "sk-local"], command=stand_in,
                         log_path=tmp_path / "l.log", startup_timeout=60)  # fmt: skip
    with server:
        assert server.served_models == ["Qwen/Qwen3-8B"]
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"{server.base_url}/models", timeout=5)
