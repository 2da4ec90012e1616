"""Test dependencies read off real pytest output saved under tests/fixtures/pytest-output/."""

from __future__ import annotations

from pathlib import Path

from cligym.generation.gold.detect import detect_install_plan
from cligym.generation.gold.dockerfile import install_steps
from cligym.generation.gold.missing_requirements import missing_requirements, older_pytest, top_level_modules
from cligym.generation.repo_spec import RepoSpec

OUTPUT = Path(__file__).resolve().parents[1] / "fixtures" / "pytest-output"


def test_a_module_the_tests_import_but_nobody_installed_is_a_requirement() -> None:
    # iso8601 2.1.0 declares hypothesis only in a Poetry dev group.
    output = (OUTPUT / "module-not-installed.txt").read_text()
    assert missing_requirements(output, {"iso8601"}) == ["hypothesis"]


def test_the_projects_own_modules_and_the_standard_library_are_never_requirements() -> None:
    output = (
        "E   ModuleNotFoundError: No module named 'iso8601.helpers'\n"
        "E   ModuleNotFoundError: No module named 'tomllib'\n"
        "E   ModuleNotFoundError: No module named '_cffi_backend'\n"
        "E   ModuleNotFoundError: No module named 'yaml'\n"
    )
    assert missing_requirements(output, {"iso8601"}) == ["PyYAML"]


def test_a_fixture_and_async_tests_name_the_plugins_that_provide_them() -> None:
    output = (OUTPUT / "fixture-from-a-plugin.txt").read_text()
    assert missing_requirements(output, set()) == ["pytest-mock", "pytest-asyncio"]


def test_an_option_from_the_config_files_addopts_names_its_plugin() -> None:
    output = (OUTPUT / "option-from-a-plugin.txt").read_text()
    assert missing_requirements(output, set()) == ["pytest-cov"]


def test_a_clean_run_needs_nothing() -> None:
    assert missing_requirements("12 passed in 0.31s\n", set()) == []


def test_top_level_modules_cover_the_root_and_src(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "setup.py").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / "docs-site").mkdir()
    assert top_level_modules(tmp_path) == {"src", "pkg", "tests", "setup"}


def test_each_discovered_requirement_is_its_own_step_that_may_fail() -> None:
    spec = RepoSpec.model_validate({"name": "demo", "source": {"sdist": "demo==1.0"}})
    plan = detect_install_plan(Path("/nonexistent")).model_copy(
        update={"discovered_requirements": ["hypothesis", "pytest-mock"]}
    )
    steps = install_steps(spec, plan)
    assert steps[-2:] == [
        "python -m pip install hypothesis || echo 'cligym: hypothesis is not installable'",
        "python -m pip install pytest-mock || echo 'cligym: pytest-mock is not installable'",
    ]


# What pytest 9 printed collecting docopt-ng 0.9.0, whose conftest still takes the `path` hook argument.
HOOKSPEC_ERROR = """Traceback (most recent call last):
  File "/usr/local/lib/python3.11/dist-packages/pluggy/_manager.py", line 448, in _verify_hook
    raise PluginValidationError(
pluggy._manager.PluginValidationError: Plugin '/repo/tests/conftest.py' for hook 'pytest_collect_file'
hookimpl definition: pytest_collect_file(file_path: pathlib.Path, path, parent)
Argument(s) {'path'} are declared in the hookimpl but can not be found in the hookspec
"""


def test_a_suite_written_for_an_older_pytest_steps_down_one_major_release_at_a_time() -> None:
    assert older_pytest(HOOKSPEC_ERROR, 0, 9, []) == "pytest<9"
    # The release below did not do either: the next ceiling is one lower, whatever was installed.
    assert older_pytest(HOOKSPEC_ERROR, 0, 8, ["pytest<9"]) == "pytest<8"
    assert older_pytest(HOOKSPEC_ERROR, 0, 6, ["pytest-mock", "pytest<7"]) is None


def test_pytest_deprecations_in_a_collection_that_worked_ask_for_no_older_pytest() -> None:
    warnings = "tests/test_x.py: PytestRemovedIn9Warning: the (path: py.path.local) argument is deprecated\n"
    assert older_pytest(warnings, 12, 9, []) is None
    assert older_pytest(warnings + "Interrupted: 1 error during collection\n", 12, 9, []) == "pytest<9"
    assert older_pytest("ModuleNotFoundError: No module named 'hypothesis'\n", 0, 9, []) is None
