"""Sources from other ecosystems' registries, brought onto the host like a git checkout: an npm package's
published tarball (``npm pack``), and a Debian source package unpacked as ``dpkg-source -x`` does, its files
checked against the archive's Sources index. The gold build copies the tree in; what building and testing
it needs from Debian (Node.js and npm; a source package's Build-Depends) comes with the tree."""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import shutil
import subprocess
import tempfile
import time

from cligym.errors import ConfigError
from cligym.generation.gold.source import SourceTree, _fresh_dir, _http_get, cache_dir, tree_manifest, unpack_sdist
from cligym.generation.repo_spec import DebianSource, NpmSource

# What a Node.js project needs from Debian to install and run its tests.
NODE_PACKAGES = ("nodejs", "npm")
# Debian's packaging tools: a source package's own build needs them, building and testing upstream does not.
_PACKAGING_ONLY = re.compile(r"^(debhelper(-compat)?|dh-[a-z0-9-]+|dpkg-dev|quilt|devscripts|lintian)$")


# -- npm ---------------------------------------------------------------------------------------------------


def fetch_npm(source: NpmSource, name: str) -> SourceTree:
    """The package's tarball as the registry serves it, unpacked (npm checks its integrity hash)."""
    downloads = cache_dir() / "npm"
    downloads.mkdir(exist_ok=True)
    packed = _run(
        ["npm", "pack", source.package, "--json", "--pack-destination", str(downloads)],
        f"npm pack {source.package}",
        "check the name and version on the npm registry (npm view NAME versions)",
    )
    try:
        entry = json.loads(packed)[0]
        archive = downloads / entry["filename"]
        integrity = str(entry["integrity"])
    except (ValueError, LookupError, TypeError):
        raise ConfigError(f"npm pack {source.package} printed no package description", "retry; check npm") from None
    root = _fresh_dir(f"{name}-npm")
    unpack_sdist(archive, root)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return SourceTree(root, f"npm {source.package} ({integrity[:23]}...)", digest, system_packages=NODE_PACKAGES)


# -- Debian ------------------------------------------------------------------------------------------------


def fetch_debian(source: DebianSource, name: str, suite: str, mirror: str) -> SourceTree:
    """The source package of ``suite`` (the base image's release) from ``mirror``, its files checked against
    the Sources index, unpacked with its patches applied."""
    mirror = mirror.rstrip("/")
    stanza = _source_stanza(source, suite, mirror)
    version = stanza["Version"]
    downloads = cache_dir() / "debian" / f"{source.project}_{version}"
    downloads.mkdir(parents=True, exist_ok=True)
    dsc = None
    for sha256, filename in _checksums(stanza):
        target = downloads / filename
        if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != sha256:
            data = _http_get(f"{mirror}/{stanza['Directory']}/{filename}", f"{filename} of {source.package}")
            if hashlib.sha256(data).hexdigest() != sha256:
                raise ConfigError(f"{filename} does not match the Sources index's sha256", "retry; check proxies")
            target.write_bytes(data)
        if filename.endswith(".dsc"):
            dsc = target
    if dsc is None:
        raise ConfigError(f"the Sources index lists no .dsc for {source.package}", f"check {mirror}")
    root = _fresh_dir(f"{name}-debian")
    shutil.rmtree(root, ignore_errors=True)
    # The files were checked above against the index; dpkg-source checks them against the .dsc as well.
    _run(
        ["dpkg-source", "--no-copy", "-x", str(dsc), str(root)],
        f"dpkg-source -x {dsc.name}",
        "install dpkg-dev on this machine (apt-get install dpkg-dev)",
    )
    digest = hashlib.sha256(json.dumps(tree_manifest(root), sort_keys=True).encode()).hexdigest()
    packages = build_dependencies(stanza.get("Build-Depends", ""))
    description = f"Debian source {source.project}={version} ({suite})"
    return SourceTree(root, description, digest, system_packages=tuple(packages))


def build_dependencies(field: str) -> list[str]:
    """Debian packages that build and test the upstream source, from a Build-Depends field: the first of each
    set of alternatives, without versions, architecture or profile restrictions (a ``<!nocheck>`` one is
    still needed: we run the tests), Debian's packaging tools left out."""
    packages = []
    for relation in field.split(","):
        first = relation.split("|")[0].strip()
        if not first:
            continue
        restricted_arch = re.search(r"\[([^\]]*)\]", first)
        if restricted_arch and not _applies_to_amd64(restricted_arch[1]):
            continue
        package = re.split(r"[\s(\[<:]", first, maxsplit=1)[0]
        if package and not _PACKAGING_ONLY.match(package):
            packages.append(package)
    return sorted(set(packages))


def _applies_to_amd64(architectures: str) -> bool:
    names = architectures.split()
    negated = [n[1:] for n in names if n.startswith("!")]
    if negated:
        return "amd64" not in negated
    return "amd64" in names or "any" in names or "linux-any" in names


def _source_stanza(source: DebianSource, suite: str, mirror: str) -> dict[str, str]:
    stanzas = [s for s in _sources_index(suite, mirror) if s.get("Package") == source.project]
    if source.version is not None:
        stanzas = [s for s in stanzas if s.get("Version") == source.version]
    if not stanzas:
        pinned = f" at version {source.version}" if source.version else ""
        raise ConfigError(
            f"Debian {suite} main has no source package {source.project!r}{pinned}",
            f"check https://packages.debian.org/source/{suite}/{source.project} (the versions its Sources list)",
        )
    # One suite holds one version of a source package; several only when pinned to none and duplicated.
    return stanzas[-1]


def _sources_index(suite: str, mirror: str) -> list[dict[str, str]]:
    """The suite's Sources index (downloaded once a day), parsed into stanzas."""
    cached = cache_dir() / "debian" / f"Sources-{suite}.xz"
    cached.parent.mkdir(parents=True, exist_ok=True)
    if not cached.is_file() or time.time() - cached.stat().st_mtime > 86400:
        data = _http_get(f"{mirror}/dists/{suite}/main/source/Sources.xz", f"Debian {suite}'s Sources index")
        partial = cached.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(cached)
    return parse_control(lzma.decompress(cached.read_bytes()).decode(errors="replace"))


def parse_control(text: str) -> list[dict[str, str]]:
    """Debian control stanzas (RFC 822 style, continuation lines start with a space)."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key is not None:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _checksums(stanza: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for line in stanza.get("Checksums-Sha256", "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            found.append((parts[0], parts[2]))
    return found


def _run(command: list[str], what: str, hint: str) -> str:
    if shutil.which(command[0]) is None:
        raise ConfigError(f"{what}: {command[0]} is not installed on this machine", hint)
    with tempfile.TemporaryDirectory(prefix="cligym-fetch-") as tmp:
        completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ConfigError(f"{what} failed: {last}", hint)
    return completed.stdout


def source_tree_for(source: NpmSource | DebianSource, name: str, suite: str, mirror: str) -> SourceTree:
    if isinstance(source, NpmSource):
        return fetch_npm(source, name)
    return fetch_debian(source, name, suite, mirror)
