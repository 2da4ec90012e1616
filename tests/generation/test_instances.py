"""SWE-bench-style instance rows as repo specs, and the image source's own rules (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cligym.errors import ConfigError
from cligym.generation.instances import (
    InstanceDefaults,
    instance_specs,
    read_instance_rows,
    spec_name,
    write_instance_specs,
)
from cligym.generation.repo_spec import ImageSource, load_repo_spec

SWE_BENCH_ROW = {
    "instance_id": "astropy__astropy-12907",
    "image_name": "swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest",
    # SWE-bench's dataset stores the lists as JSON text.
    "FAIL_TO_PASS": json.dumps(["astropy/modeling/tests/test_separable.py::test_separable[compound_model6]"]),
    "PASS_TO_PASS": json.dumps(
        [
            "astropy/modeling/tests/test_separable.py::test_coord_matrix",
            "astropy/modeling/tests/test_core.py::test_custom_model[x y]",
        ]
    ),
}


def test_a_swe_bench_row_becomes_an_image_spec_running_its_pass_to_pass_files() -> None:
    [spec] = instance_specs([SWE_BENCH_ROW], InstanceDefaults(), Path("rows.jsonl"))
    assert spec.name == "astropy__astropy-12907"
    assert isinstance(spec.source, ImageSource)
    assert spec.source.image == SWE_BENCH_ROW["image_name"]
    assert (spec.source.repo_path, spec.repo_path) == ("/testbed", "/testbed")
    assert spec.source.python == "/opt/miniconda3/envs/testbed/bin/python"
    # Only files of tests that pass in the image; the fail-to-pass test's file may not exist before the fix.
    assert spec.test == ("pytest -rA astropy/modeling/tests/test_core.py astropy/modeling/tests/test_separable.py")


def test_rows_spell_fields_their_own_way_and_one_image_is_one_spec() -> None:
    rows: list[dict[str, Any]] = [
        {
            "instance_id": "Org/Repo.1a2b",
            "docker_image": "org/env:1",
            "workdir": "/work/repo",
            "python": None,
            "install_config": json.dumps({"test_cmd": "python -m pytest -x"}),
            "PASS_TO_PASS": [],
        },
        {"instance_id": "Org/Repo.3c4d", "docker_image": "org/env:1"},
        {"id": "other", "image": "org/env:2", "test_cmd": "pytest tests"},
    ]
    first, second = instance_specs(rows, InstanceDefaults(), Path("rows.jsonl"))
    assert first.name == "org-repo.1a2b"
    assert isinstance(first.source, ImageSource) and first.source.python is None
    assert first.repo_path == "/work/repo" and first.test == "python -m pytest -x"
    assert (second.name, second.test) == ("other", "pytest tests")


def test_a_row_without_an_image_or_with_a_test_list_that_is_not_one_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rows.jsonl row 2: no image_name"):
        instance_specs([SWE_BENCH_ROW, {"instance_id": "x"}], InstanceDefaults(), Path("rows.jsonl"))
    with pytest.raises(ConfigError, match=r"row 1: PASS_TO_PASS is neither a list nor a JSON list"):
        instance_specs([{**SWE_BENCH_ROW, "PASS_TO_PASS": "tests/a.py"}], InstanceDefaults(), Path("r"))
    # A test command that is not pytest's needs a runner: the error names the row and the instance.
    with pytest.raises(ConfigError, match=r"row 1 \(django__django-1\).*must run pytest"):
        instance_specs(
            [{"instance_id": "django__django-1", "image_name": "d", "test_cmd": "./tests/runtests.py"}],
            InstanceDefaults(),
            Path("r"),
        )


def test_instance_files_are_read_as_json_lines_or_a_json_array(tmp_path: Path) -> None:
    lines = tmp_path / "rows.jsonl"
    lines.write_text(json.dumps(SWE_BENCH_ROW) + "\n\n" + json.dumps({**SWE_BENCH_ROW, "instance_id": "b"}) + "\n")
    assert [row["instance_id"] for row in read_instance_rows(lines)] == ["astropy__astropy-12907", "b"]
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([SWE_BENCH_ROW]))
    assert read_instance_rows(array) == [SWE_BENCH_ROW]
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(SWE_BENCH_ROW) + "\n{not json\n")
    with pytest.raises(ConfigError, match=r"broken.jsonl line 2: not JSON"):
        read_instance_rows(broken)
    with pytest.raises(ConfigError, match=r"does not exist"):
        read_instance_rows(tmp_path / "missing.jsonl")


def test_a_saved_dataset_is_read_too(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list([SWE_BENCH_ROW]).save_to_disk(str(tmp_path / "saved"))
    assert read_instance_rows(tmp_path / "saved")[0]["instance_id"] == "astropy__astropy-12907"


def test_written_specs_load_back_as_the_same_spec(tmp_path: Path) -> None:
    specs = instance_specs([SWE_BENCH_ROW], InstanceDefaults(), Path("rows.jsonl"))
    [path] = write_instance_specs(specs, tmp_path / "instances")
    assert path.name == "astropy__astropy-12907.yaml"
    assert yaml.safe_load(path.read_text())["source"]["kind"] == "image"
    assert load_repo_spec(path)[0] == specs[0]


def test_instance_ids_become_image_names() -> None:
    assert spec_name("django__django-11099") == "django__django-11099"
    assert spec_name("Org/Repo.Name+x") == "org-repo.name-x"
    assert len(spec_name("a" * 100)) == 63


def test_an_image_source_is_its_own_base_and_its_paths_are_absolute(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("name: a\nsource: {image: 'org/env:1', repo_path: /testbed/}\ntest: pytest\n")
    spec, _ = load_repo_spec(spec_file)
    assert isinstance(spec.source, ImageSource) and spec.repo_path == "/testbed"
    spec_file.write_text("name: a\nsource: {image: 'org/env:1', repo_path: testbed}\n")
    with pytest.raises(ConfigError, match=r"spec.yaml: source\.repo_path: 'testbed' must be an absolute path"):
        load_repo_spec(spec_file)
    spec_file.write_text("name: a\nsource: {image: 'org/env:1'}\nbase_image: python:3.12\n")
    with pytest.raises(ConfigError, match=r"base_image"):
        load_repo_spec(spec_file)
