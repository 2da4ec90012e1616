"""Fetching sources on the host: git checkouts and local trees (tracked files only), and their errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cligym.errors import ConfigError
from cligym.generation.gold.source import canonical_name, fetch_source, unpack_sdist
from cligym.generation.repo_spec import RepoSpec


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("VERSION = 1\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_pkg.py").write_text("def test_v():\n    assert True\n")
    git("init", "-q", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1", cwd=repo)
    git("tag", "v1", cwd=repo)
    (repo / "pkg" / "__init__.py").write_text("VERSION = 2\n")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "v2", cwd=repo)
    (repo / ".gitignore").write_text("notes.txt\n")
    (repo / "notes.txt").write_text("ignored scratch\n")
    (repo / "pkg" / "new_module.py").write_text("# not committed yet\n")
    return repo


def test_git_source_checks_out_the_ref_with_tracked_files_only(git_repo: Path) -> None:
    spec = RepoSpec.model_validate({"name": "gitdemo", "source": {"git": f"file://{git_repo}", "ref": "v1"}})
    tree = fetch_source(spec, git_repo.parent)
    assert (tree.root / "pkg" / "__init__.py").read_text() == "VERSION = 1\n"
    assert sorted(tree.manifest()) == ["pkg/__init__.py", "tests/test_pkg.py"]
    assert tree.digest == git("rev-parse", "v1", cwd=git_repo)
    assert tree.description.startswith(f"git file://{git_repo} at ")


def test_a_missing_git_ref_is_a_clear_error(git_repo: Path) -> None:
    spec = RepoSpec.model_validate({"name": "gitdemo", "source": {"git": f"file://{git_repo}", "ref": "v9"}})
    with pytest.raises(ConfigError, match="git checkout failed"):
        fetch_source(spec, git_repo.parent)


def test_local_work_tree_copies_files_git_tracks_or_would_track(git_repo: Path) -> None:
    spec = RepoSpec.model_validate({"name": "localdemo", "source": {"path": "project"}})
    first = fetch_source(spec, git_repo.parent)
    assert "notes.txt" not in first.manifest()  # ignored
    assert "pkg/new_module.py" in first.manifest()  # new, not ignored
    (git_repo / "pkg" / "__init__.py").write_text("VERSION = 3\n")
    second = fetch_source(spec, git_repo.parent)
    assert second.digest != first.digest


def test_a_missing_local_path_is_a_clear_error(tmp_path: Path) -> None:
    spec = RepoSpec.model_validate({"name": "nowhere", "source": {"path": "does/not/exist"}})
    with pytest.raises(ConfigError, match="is not a directory"):
        fetch_source(spec, tmp_path)


def test_sdist_unpacks_without_its_top_directory(tmp_path: Path) -> None:
    top = tmp_path / "build" / "demo-1.0"
    (top / "tests").mkdir(parents=True)
    (top / "tests" / "test_x.py").write_text("")
    archive = tmp_path / "demo-1.0.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(tmp_path / "build"), "demo-1.0"], check=True)
    unpack_sdist(archive, tmp_path / "out")
    assert (tmp_path / "out" / "tests" / "test_x.py").is_file()


def test_project_names_are_compared_canonically() -> None:
    assert canonical_name("MarkupSafe") == canonical_name("markupsafe")
    assert canonical_name("sqlite_utils") == canonical_name("sqlite-utils") == "sqlite-utils"
