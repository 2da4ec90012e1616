"""A stand-in for the Hugging Face Hub on 127.0.0.1: just enough of its HTTP API for ``datasets``'
``push_to_hub`` and huggingface_hub's card upload and file download (repo create and info, YAML check,
preupload, the basic LFS transfer, commits with their parent check, resolve), keeping each repository's files
per commit and recording what it was sent. Point ``HF_ENDPOINT`` at it in a fresh process (the Hub client reads
the endpoint when imported) with ``HF_HUB_DISABLE_XET=1`` (the stand-in speaks LFS only)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# Files the real Hub stores in git rather than LFS: small text such as the dataset card.
REGULAR_FILES = ("README.md", ".gitattributes")


@dataclass
class HubRecord:
    """What the stand-in was sent and what its repositories hold."""

    endpoint: str = ""
    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # repo -> the create request
    commits: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)  # repo -> each commit's lines
    uploads: dict[str, bytes] = field(default_factory=dict)  # LFS oid -> bytes
    tokens: set[str] = field(default_factory=set)  # Authorization headers seen
    validated: list[str] = field(default_factory=list)  # cards sent to the YAML check
    heads: dict[str, str] = field(default_factory=dict)  # repo -> the sha of its last commit
    snapshots: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> path -> bytes

    def files(self, repo: str) -> dict[str, bytes]:
        return self.snapshots[self.heads[repo]]


class StandInHub(BaseHTTPRequestHandler):
    record: HubRecord

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        pass

    def _reply(self, status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if not isinstance(body, bytes):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _not_found(self, code: str = "EntryNotFound") -> None:
        self._reply(404, {"error": "not found"}, {"X-Error-Code": code})

    def _handle(self) -> None:
        record = self.record
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization"):
            record.tokens.add(self.headers["Authorization"])
        path = self.path.split("?")[0]
        base = record.endpoint
        parts = path.strip("/").split("/")
        repo = "/".join(parts[2:4]) if path.startswith("/api/datasets/") else ""
        if path == "/api/repos/create":
            request = json.loads(body)
            name = f"{request['organization']}/{request['name']}"
            record.created[name] = request
            if name not in record.heads:
                record.heads[name] = self._snapshot({})
            return self._reply(200, {"url": f"{base}/datasets/{name}", "name": name})
        if path == "/api/validate-yaml":
            record.validated.append(json.loads(body)["content"])
            return self._reply(200, {"errors": [], "warnings": []})
        if repo and repo not in record.heads:
            return self._not_found("RepoNotFound")
        if repo and len(parts) in (4, 6) and (len(parts) == 4 or parts[4] == "revision"):
            head = record.heads[repo]
            siblings = [{"rfilename": name} for name in record.snapshots[head]]
            return self._reply(200, {"id": repo, "sha": head, "private": True, "siblings": siblings, "tags": []})
        if repo and len(parts) > 4 and parts[4] == "preupload":
            files = json.loads(body)["files"]
            modes = [
                {
                    "path": f["path"],
                    "uploadMode": "regular" if f["path"] in REGULAR_FILES else "lfs",
                    "shouldIgnore": False,
                }
                for f in files
            ]
            return self._reply(200, {"files": modes})
        if path.endswith(".git/info/lfs/objects/batch"):
            objects = [
                {
                    "oid": item["oid"],
                    "size": item["size"],
                    "actions": {"upload": {"href": f"{base}/lfs-upload/{item['oid']}"}},
                }
                for item in json.loads(body)["objects"]
            ]
            return self._reply(200, {"transfer": "basic", "objects": objects})
        if path.startswith("/lfs-upload/"):
            record.uploads[parts[-1]] = body
            return self._reply(200, {})
        if repo and len(parts) > 4 and parts[4] == "commit":
            return self._commit(repo, [json.loads(line) for line in body.decode().splitlines() if line.strip()], base)
        if path.startswith("/datasets/") and len(parts) > 5 and parts[3] == "resolve":
            return self._resolve("/".join(parts[1:3]), parts[4], "/".join(parts[5:]))
        return self._not_found()

    def _snapshot(self, files: dict[str, bytes]) -> str:
        sha = hashlib.sha1(f"{len(self.record.snapshots)}".encode()).hexdigest()
        self.record.snapshots[sha] = files
        return sha

    def _commit(self, repo: str, lines: list[dict[str, Any]], base: str) -> None:
        record = self.record
        header = next(line["value"] for line in lines if line["key"] == "header")
        parent = header.get("parentCommit")
        if parent and parent != record.heads[repo]:
            return self._reply(412, {"error": "parent commit is not the head"})
        files = dict(record.files(repo))
        for line in lines:
            value = line["value"]
            if line["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                files[value["path"]] = record.uploads[value["oid"]]
            elif line["key"] == "deletedFile":
                files.pop(value["path"], None)
        record.commits.setdefault(repo, []).append(lines)
        record.heads[repo] = sha = self._snapshot(files)
        return self._reply(200, {"commitUrl": f"{base}/datasets/{repo}/commit/{sha}", "commitOid": sha})

    def _resolve(self, repo: str, revision: str, name: str) -> None:
        sha = self.record.heads.get(repo) if revision == "main" else revision
        content = self.record.snapshots.get(sha or "", {}).get(name)
        if sha is None or content is None:
            return self._not_found()
        etag = f'"{hashlib.sha1(content).hexdigest()}"'
        return self._reply(200, content, {"X-Repo-Commit": sha, "ETag": etag})

    do_GET = do_HEAD = do_POST = do_PUT = _handle


@pytest.fixture
def hub() -> Iterator[tuple[str, HubRecord]]:
    """The stand-in's endpoint and its record."""
    record = HubRecord()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Hub", (StandInHub,), {"record": record}))
    record.endpoint = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record.endpoint, record
    server.shutdown()
    server.server_close()
