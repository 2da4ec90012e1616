"""Repo specs: every kind of source, shorthand, runners, and errors naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.errors import ConfigError
from cligym.generation.repo_spec import DebianSource, GitSource, LocalSource, NpmSource, PypiSource, load_repo_spec

REPO = Path(__file__).resolve().parents[2]


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_every_shipped_spec_is_valid() -> None:
    specs = sorted((REPO / "configs" / "repos").glob("*.yaml"))
    assert specs
    for path in specs:
        spec, _ = load_repo_spec(path)
        assert spec.name == path.stem


def test_source_shorthands(tmp_path: Path) -> None:
    pypi, _ = load_repo_spec(write_spec(tmp_path, "name: a\nsource: {sdist: attrs==25.3.0}\n"))
    assert isinstance(pypi.source, PypiSource) and pypi.source.project == "attrs" and pypi.source.version == "25.3.0"
    git, _ = load_repo_spec(write_spec(tmp_path, "name: b\nsource: {git: https://example.org/x.git, ref: v1}\n"))
    assert isinstance(git.source, GitSource) and git.source.ref == "v1"
    local, base = load_repo_spec(write_spec(tmp_path, "name: c\nsource: {path: ../x}\n"))
    assert isinstance(local.source, LocalSource) and base == tmp_path
    npm, _ = load_repo_spec(write_spec(tmp_path, "name: d\nsource: {npm: '@scope/x@1.2.3'}\nrunner: tap\ntest: t\n"))
    assert isinstance(npm.source, NpmSource) and npm.source.project == "@scope/x" and npm.source.version == "1.2.3"
    deb, _ = load_repo_spec(write_spec(tmp_path, "name: e\nsource: {debian: gzip=1.12-1}\nrunner: automake\ntest: t\n"))
    assert isinstance(deb.source, DebianSource) and (deb.source.project, deb.source.version) == ("gzip", "1.12-1")
    unpinned, _ = load_repo_spec(write_spec(tmp_path, "name: f\nsource: {debian: jq}\nrunner: tap\ntest: t\n"))
    assert isinstance(unpinned.source, DebianSource) and unpinned.source.version is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nsource: {sdist: attrs}\n", r"source\.sdist: 'attrs' must be pinned as name==version"),
        ("name: a\nsource: {svn: x}\n", "source must have one of"),
        ("name: Bad Name\nsource: {sdist: a==1}\n", "name: 'Bad Name' must be lower-case"),
        ("name: a\nsource: {sdist: a==1}\ntest: python -m unittest\n", "test: must run pytest"),
        ("name: a\nsource: {sdist: a==1}\ntimeout: -5\n", "timeout"),
        ("name: a\nsource: {npm: minimist}\nrunner: tap\ntest: t\n", "must be pinned as name@version"),
        ("name: a\nsource: {npm: x@1.0.0}\nrunner: tap\n", "test: runner tap needs the command"),
        ("name: a\nsource: {npm: x@1.0.0}\nrunner: junit\ntest: jest\n", "report: runner junit needs the XML file"),
        ("name: a\nsource: {npm: x@1.0.0}\nrunner: nose\ntest: t\n", "runner"),
        ("name: a\nsource: {sdist: a==1}\nreport: out.xml\n", "report: only for runner"),
        ("name: a\nsource: {npm: x@1.0.0}\nrunner: tap\ntest: t\npytest_args: [-x]\n", "pytest's"),
        ("name: a\nsource: {sdist: a==1}\ninstal: [x]\n", "instal"),
        ("source: {sdist: a==1}\n", "name: Field required"),
        ("- just\n- a list\n", "must hold a mapping, not a list"),
        ("name: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_specs_are_one_line_errors_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_repo_spec(write_spec(tmp_path, text))
    assert str(tmp_path / "spec.yaml") in info.value.message
    assert "\n" not in info.value.message


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_repo_spec(tmp_path / "nope.yaml")
