"""Type-check cligym as it is imported: `cligym.generation.x`, not `generation.x`.

The source directories are mapped onto package names by `[tool.setuptools] package-dir` (`cligym` is `core/`,
`cligym.generation` is `generation/`, ...), and the editable install resolves them with an import hook mypy
cannot follow. Run on the directories, mypy would take every `cligym.*` import as a missing module (the config
ignores those) and check no call across modules. This script lays the package out as installed, in a
temporary tree of links, and runs mypy on it, on the tests and on the benchmarks.

    python scripts/typecheck.py [MYPY ARGS...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALSO_CHECKED = ("tests", "bench", "scripts")


def link_tree(root: Path) -> Path:
    """``root/cligym`` holding the package as installed: the root package's files, its sub-packages by link."""
    mapping: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = root / "cligym"
    package.mkdir()
    for entry in (REPO / mapping["cligym"]).iterdir():
        (package / entry.name).symlink_to(entry)
    for name, directory in mapping.items():
        if name == "cligym":
            continue
        link = package.joinpath(*name.split(".")[1:])
        if link.is_symlink():
            link.unlink()
        link.symlink_to(REPO / directory)
    return package


def main(arguments: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="cligym-typecheck-") as temporary:
        link_tree(Path(temporary))
        environment = {**os.environ, "MYPYPATH": temporary}
        command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), "-p", "cligym"]
        checked = subprocess.run([*command, *arguments], cwd=temporary, env=environment, check=False)
        others = [str(REPO / d) for d in ALSO_CHECKED if (REPO / d).is_dir()]
        command = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), *others]
        also = subprocess.run([*command, *arguments], cwd=REPO, env=environment, check=False)
    return checked.returncode or also.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
