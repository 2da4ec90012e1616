"""Directories sent with a unit to a node that may not share this machine's filesystem (a task directory, a
gold build context): packed here into bytes, unpacked there once per content into the node's cache."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path


def shipped_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cligym" / "shipped"


def pack_dir(path: Path) -> bytes:
    """The directory's content as a gzipped tar, its entries in sorted order (same content, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for entry in sorted(path.rglob("*")):
            info = tar.gettarinfo(str(entry), arcname=entry.relative_to(path).as_posix())
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if entry.is_file() and not entry.is_symlink():
                with entry.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def unpack_once(data: bytes, name: str) -> Path:
    """``data`` unpacked under the node's cache as ``<hash>/<name>``; a second unit with the same content
    reuses it. Concurrent units unpacking the same content each write a private copy and one rename wins."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    target = shipped_root() / digest / name
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(scratch, filter="data")
        try:
            scratch.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def unpack_into(data: bytes, target: Path) -> None:
    """Replace ``target`` with the packed directory; a crash midway leaves the old one or the new one."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(scratch, filter="data")
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
