"""Sources from npm and Debian: a real `npm pack` from the registry, and the Build-Depends rules that pick
what a Debian source package's upstream build and tests need."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.errors import ConfigError
from cligym.generation.gold.source import fetch_source
from cligym.generation.gold.source_packages import build_dependencies, parse_control
from cligym.generation.repo_spec import RepoSpec


def test_build_dependencies_take_the_first_alternative_and_leave_packaging_tools_out() -> None:
    field = (
        "debhelper-compat (= 13), dh-sequence-python3, bison, flex | byacc, libonig-dev (>= 6.1),"
        " ruby-ronn:native, valgrind [amd64 i386], libfoo-dev [!amd64], pkgconf <!nocheck>,"
    )
    assert build_dependencies(field) == ["bison", "flex", "libonig-dev", "pkgconf", "ruby-ronn", "valgrind"]


def test_control_stanzas_keep_continuation_lines() -> None:
    text = "Package: gzip\nChecksums-Sha256:\n aa 1 gzip.dsc\n bb 2 gzip.tar.xz\n\nPackage: jq\nVersion: 1\n"
    first, second = parse_control(text)
    assert first["Checksums-Sha256"].splitlines() == ["", "aa 1 gzip.dsc", "bb 2 gzip.tar.xz"]
    assert second == {"Package": "jq", "Version": "1"}


def test_an_npm_package_is_fetched_with_its_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = RepoSpec.model_validate({"name": "m", "source": {"npm": "minimist@1.2.8"}, "runner": "tap", "test": "t"})
    tree = fetch_source(spec, tmp_path)
    assert (tree.root / "package.json").is_file() and (tree.root / "test" / "parse.js").is_file()
    assert tree.system_packages == ("nodejs", "npm") and tree.description.startswith("npm minimist@1.2.8")


def test_a_missing_npm_version_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    spec = RepoSpec.model_validate({"name": "m", "source": {"npm": "minimist@0.0.999"}, "runner": "tap", "test": "t"})
    with pytest.raises(ConfigError, match=r"npm pack minimist@0\.0\.999 failed"):
        fetch_source(spec, tmp_path)
