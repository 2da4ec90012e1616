"""SWE-bench-style instance rows as repo specs: one gold environment per prebuilt image, used as it is.

A row names its instance, its image and (optionally) where the repository is, the test command and the test
lists. SWE-bench, SWE-smith, SWE-Gym and SWE-rebench spell these differently; every spelling below is read.
The image is the environment at the instance's base commit, so its pass-to-pass tests are the ones that
pass there: their files are what the gold command runs (fail-to-pass tests fail in it, and gold's verdict
leaves failing tests out anyway).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cligym.errors import ConfigError
from cligym.generation.repo_spec import SOURCE_KINDS, RepoSpec
from cligym.yaml_config import describe_validation_error

ID_KEYS = ("instance_id", "id")
IMAGE_KEYS = ("image_name", "image", "docker_image", "environment_image")
REPO_PATH_KEYS = ("repo_path", "workdir")
TEST_KEYS = ("test_cmd", "test_command", "eval_cmd")
PASS_TO_PASS_KEYS = ("PASS_TO_PASS", "pass_to_pass")
# SWE-bench and SWE-smith images: the repository at /testbed, its conda environment activated from ~/.bashrc.
SWE_REPO_PATH = "/testbed"
SWE_PYTHON = "/opt/miniconda3/envs/testbed/bin/python"
DEFAULT_TEST = "pytest -rA"
_PYTEST_FILE = re.compile(r"^(?P<file>[^:\s]+\.py)(?:::|$)")
FIX = "each row needs instance_id and image_name (or image / docker_image); see configs/repos/README.md"


@dataclass(frozen=True)
class InstanceDefaults:
    """What a row does not say: SWE-bench's layout unless the command line says otherwise."""

    repo_path: str = SWE_REPO_PATH
    python: str | None = SWE_PYTHON
    test: str = DEFAULT_TEST


def read_instance_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON lines file, a JSON array, or a Hugging Face dataset saved to disk / a parquet file."""
    if not path.exists():
        raise ConfigError(f"instances file {path} does not exist", "pass a .jsonl, .json or .parquet file")
    if path.is_dir() or path.suffix in (".parquet", ".arrow"):
        return _dataset_rows(path)
    text = path.read_text()
    if path.suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"instances file {path}: not JSON ({exc})", "write one JSON array of rows") from None
        rows = data if isinstance(data, list) else [data]
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise ConfigError(f"{path} line {number}: not JSON ({exc})", "one JSON object per line") from None
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ConfigError(f"{path} row {number}: not a JSON object", FIX)
    return rows


def _dataset_rows(path: Path) -> list[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"reading {path} needs the datasets library", "pip install 'cligym[data]', or export the rows as JSON lines"
        ) from None
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        table = loaded[next(iter(loaded))] if isinstance(loaded, datasets.DatasetDict) else loaded
    else:
        kind = "parquet" if path.suffix == ".parquet" else "arrow"
        table = datasets.load_dataset(kind, data_files=str(path), split="train")
    return [dict(row) for row in table]


def instance_specs(rows: Iterable[Mapping[str, Any]], defaults: InstanceDefaults, source: Path) -> list[RepoSpec]:
    """One spec per distinct image (rows of one image share its gold environment), named after its first
    instance. A row that cannot become a spec is an error naming the row and the field."""
    specs: dict[str, RepoSpec] = {}
    names: set[str] = set()
    for number, row in enumerate(rows, 1):
        where = f"{source} row {number}"
        instance = _first(row, ID_KEYS)
        image = _first(row, IMAGE_KEYS)
        if not instance or not image:
            missing = "instance_id" if not instance else "image_name"
            raise ConfigError(f"{where}: no {missing}", FIX)
        if image in specs:
            continue
        name = _unique(spec_name(instance), names)
        test = _first(row, TEST_KEYS) or _nested_test(row) or defaults.test
        files = sorted(set(_test_files(_test_list(row, PASS_TO_PASS_KEYS, where))))
        spec = {
            "name": name,
            "source": {
                "kind": "image",
                "image": image,
                "repo_path": _first(row, REPO_PATH_KEYS) or defaults.repo_path,
                "python": row.get("python", defaults.python),
            },
            "test": " ".join([test, *map(shlex.quote, files)]),
        }
        try:
            specs[image] = RepoSpec.model_validate(spec)
        except ValidationError as exc:
            raise ConfigError(
                f"{where} ({instance}): {describe_validation_error(exc, union_tags=SOURCE_KINDS)}",
                "fix the row, or write its spec by hand (another runner than pytest: configs/repos/README.md)",
            ) from None
    if not specs:
        raise ConfigError(f"instances file {source} has no rows", FIX)
    return list(specs.values())


def write_instance_specs(specs: list[RepoSpec], directory: Path) -> list[Path]:
    """Each spec as ``directory/NAME.yaml``, a file a user can read, edit and pass to ``cligym gold`` again."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = directory / f"{spec.name}.yaml"
        data = spec.model_dump(mode="json", exclude_defaults=True)
        data["source"] = spec.source.model_dump(mode="json", exclude_none=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return paths


def spec_name(instance_id: str) -> str:
    """An instance id as a spec name (it names an image): ``django__django-11099`` -> ``django__django-11099``,
    ``Org/Repo.1a2b`` -> ``org-repo.1a2b``."""
    name = re.sub(r"[^a-z0-9._-]+", "-", instance_id.lower()).strip("-._")
    return name[:63] or "instance"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name[:58]}-{number}"
        number += 1
    taken.add(candidate)
    return candidate


def _first(row: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _nested_test(row: Mapping[str, Any]) -> str | None:
    """SWE-rebench keeps the command in the row's install configuration."""
    config = row.get("install_config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return None
    return _first(config, TEST_KEYS) if isinstance(config, Mapping) else None


def _test_list(row: Mapping[str, Any], keys: tuple[str, ...], where: str) -> list[str]:
    """A test list, as a list or as the JSON-encoded string SWE-bench's dataset stores."""
    for key in keys:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ConfigError(f"{where}: {key} is neither a list nor a JSON list", FIX) from None
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} is not a list of test ids", FIX)
        return [str(test) for test in value]
    return []


def _test_files(tests: list[str]) -> Iterator[str]:
    """The files of pytest node ids (``tests/test_x.py::test_y[a]``); other runners' ids name no file."""
    for test in tests:
        match = _PYTEST_FILE.match(test)
        if match:
            yield match["file"]
