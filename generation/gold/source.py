"""Bring a spec's source onto the host: a local tree's tracked files, a git checkout, a PyPI sdist, or the
repository a prebuilt image holds.

The host copy is used to detect how to install and test the project, and to fingerprint the files the
repository tracks (later stages check that a break never touches them). PyPI sdists are downloaded again
inside the Docker build, pinned by checksum, so the generated Dockerfile stands on its own.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cligym.errors import ConfigError
from cligym.generation.gold.source_image import copy_repository_out
from cligym.generation.repo_spec import (
    DebianSource,
    GitSource,
    ImageSource,
    LocalSource,
    NpmSource,
    PypiSource,
    RepoSpec,
)

# Never part of a repository's tracked files even when no git metadata says so.
UNTRACKED_NAMES = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "build",
    "dist",
    ".eggs",
}
# The simple API pip reads; a private index named by PIP_INDEX_URL works the same way.
INDEX_URL = os.environ.get("CLIGYM_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


@dataclass(frozen=True)
class SourceTree:
    """The project's files on the host, and where they came from."""

    root: Path
    description: str
    digest: str
    sdist_url: str | None = None
    sdist_sha256: str | None = None
    # Debian packages building and testing this tree needs whatever the spec says (Node.js for an npm
    # package, a Debian source package's Build-Depends).
    system_packages: tuple[str, ...] = ()
    # A prebuilt image that holds the installed repository already: gold is built FROM it, nothing is copied.
    image: str | None = None

    def manifest(self) -> dict[str, str]:
        """sha256 of every file of the tree, by path relative to its root."""
        return tree_manifest(self.root)


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "cligym" / "sources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch_source(
    spec: RepoSpec, spec_dir: Path, debian_suite: str = "bookworm", debian_mirror: str = "http://deb.debian.org/debian"
) -> SourceTree:
    """Materialise the spec's source on the host; raises ConfigError with a hint when it cannot.
    ``debian_suite``: the base image's release, whose source packages a Debian source comes from."""
    source = spec.source
    if isinstance(source, NpmSource | DebianSource):
        from cligym.generation.gold.source_packages import source_tree_for  # it imports this module

        return source_tree_for(source, spec.name, debian_suite, debian_mirror)
    if isinstance(source, ImageSource):
        return _read_image(source, spec.name)
    if isinstance(source, PypiSource):
        return _fetch_sdist(source)
    if isinstance(source, GitSource):
        return _fetch_git(source, spec.name)
    assert isinstance(source, LocalSource)
    return _copy_local(source, spec_dir, spec.name)


def tree_manifest(root: Path) -> dict[str, str]:
    manifest: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            manifest[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return manifest


def _manifest_digest(root: Path) -> str:
    return hashlib.sha256(json.dumps(tree_manifest(root), sort_keys=True).encode()).hexdigest()


def _fresh_dir(name: str) -> Path:
    target = cache_dir() / name
    if target.exists():
        shutil.rmtree(target)
    return target


# -- PyPI --------------------------------------------------------------------------------------------------


def _fetch_sdist(source: PypiSource) -> SourceTree:
    url, sha256 = _sdist_url(source)
    archive = cache_dir() / f"{source.project}-{source.version}-{sha256[:12]}.tar.gz"
    if not archive.exists() or hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        data = _http_get(url, f"the sdist of {source.sdist}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ConfigError(f"the sdist of {source.sdist} does not match PyPI's sha256", "retry; check proxies")
        archive.write_bytes(data)
    root = _fresh_dir(f"{source.project}-{source.version}")
    unpack_sdist(archive, root)
    return SourceTree(root, f"PyPI sdist {source.sdist}", sha256, sdist_url=url, sdist_sha256=sha256)


def _sdist_url(source: PypiSource) -> tuple[str, str]:
    """URL and sha256 of the release's .tar.gz, from the package index's simple API (as pip reads it)."""
    project = canonical_name(source.project)
    page = f"{INDEX_URL.rstrip('/')}/{project}/"
    try:
        body = _http_get(page, f"the index page of {source.project}", accept=SIMPLE_JSON)
    except ConfigError as exc:
        if "HTTP 404" in exc.message:
            raise ConfigError(f"the package index has no project {source.project!r}", f"check {page}") from None
        raise
    for filename, url, sha256 in _index_files(body):
        if not filename.endswith(".tar.gz"):
            continue
        name, _, version = filename[: -len(".tar.gz")].rpartition("-")
        if canonical_name(name) == project and version == source.version:
            if not sha256:
                raise ConfigError(f"the index lists {filename} without a sha256", "use an index that publishes hashes")
            return url, sha256
    raise ConfigError(
        f"PyPI has no release {source.sdist} with a .tar.gz source distribution",
        f"check the version on {page} (some releases ship wheels only; then use a git source)",
    )


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: MarkupSafe, markup_safe and markup.safe are the same project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _index_files(body: bytes) -> list[tuple[str, str, str | None]]:
    """(filename, url, sha256) from a PEP 691 JSON page, or from a PEP 503 HTML page."""
    try:
        data = json.loads(body)
    except ValueError:
        files = []
        for href, filename in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>([^<]+)</a>', body.decode(errors="replace")):
            url, _, fragment = html.unescape(href).partition("#")
            digest = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
            files.append((filename.strip(), url, digest))
        return files
    return [(f["filename"], f["url"], f.get("hashes", {}).get("sha256")) for f in data.get("files", [])]


def _http_get(url: str, what: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"cannot download {what}: HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"cannot download {what} from {url}: {reason}", "check the network or proxy") from None


def unpack_sdist(archive: Path, target: Path) -> None:
    """Unpack an sdist into ``target`` without its single top-level directory."""
    with tempfile.TemporaryDirectory(prefix="cligym-sdist-") as tmp, tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
        entries = list(Path(tmp).iterdir())
        top = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(tmp)
        shutil.copytree(top, target, symlinks=True)


# -- prebuilt images ----------------------------------------------------------------------------------------


def _read_image(source: ImageSource, name: str) -> SourceTree:
    root = _fresh_dir(f"{name}-image")
    with tempfile.TemporaryDirectory(prefix="cligym-image-") as tmp:
        copy = Path(tmp) / "repo"
        digest = copy_repository_out(source, copy)
        # The files the image's git tracks (SWE-bench images keep the clone): build outputs are not source.
        _copy_tracked(copy, root)
    return SourceTree(root, f"image {source.image} ({digest[:19]})", digest, image=source.image)


# -- git and local trees -----------------------------------------------------------------------------------


def _git(*args: str, cwd: Path | None = None) -> str:
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ConfigError(f"git {args[0]} failed: {last}", "check the git URL and ref in the repo spec")
    return completed.stdout


def _fetch_git(source: GitSource, name: str) -> SourceTree:
    with tempfile.TemporaryDirectory(prefix="cligym-git-") as tmp:
        checkout = Path(tmp) / "checkout"
        _git("clone", "--quiet", source.url, str(checkout))
        _git("checkout", "--quiet", source.ref, cwd=checkout)
        commit = _git("rev-parse", "HEAD", cwd=checkout).strip()
        root = _fresh_dir(f"{name}-git")
        _copy_tracked(checkout, root)
    return SourceTree(root, f"git {source.url} at {commit[:12]}", commit)


def _copy_local(source: LocalSource, spec_dir: Path, name: str) -> SourceTree:
    path = Path(source.path).expanduser()
    origin = path if path.is_absolute() else (spec_dir / path).resolve()
    if not origin.is_dir():
        raise ConfigError(f"local source {origin} is not a directory", "fix source.path in the repo spec")
    root = _fresh_dir(f"{name}-local")
    _copy_tracked(origin, root)
    return SourceTree(root, f"local {origin}", _manifest_digest(root))


def _copy_tracked(origin: Path, target: Path) -> None:
    """Copy the files git tracks or would track (not ignored) when ``origin`` is in a git work tree,
    otherwise every non-build file."""
    # Run inside a subdirectory, ls-files lists only the files below it, relative to it. New files that are
    # not ignored count too: they are part of the work in progress the user points us at.
    # Any owner: files copied out of an image belong to whoever owned them there.
    git = ["git", "-c", "safe.directory=*", "-C", str(origin)]
    listed = subprocess.run(
        [*git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    )
    tracked = [relative for relative in listed.stdout.split("\0") if relative] if listed.returncode == 0 else []
    if tracked:
        for relative in tracked:
            source_file = origin / relative
            if source_file.is_file():
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source_file, target / relative, follow_symlinks=False)
        return
    shutil.copytree(
        origin,
        target,
        symlinks=True,
        ignore=lambda _dir, names: [n for n in names if n in UNTRACKED_NAMES or n.endswith((".pyc", ".egg-info"))],
    )
