"""Install and test detection on small project trees (pure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cligym.generation.gold.detect import detect_install_plan


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_pyproject_with_tests_extra_and_testpaths(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": """
                [build-system]
                requires = ["hatchling"]
                build-backend = "hatchling.build"
                [project]
                name = "demo"
                version = "1"
                [project.optional-dependencies]
                tests = ["pytest", "hypothesis"]
                docs = ["sphinx"]
                [tool.pytest.ini_options]
                testpaths = ["tests/unit"]
            """,
            "tests/unit/test_a.py": "def test_a(): pass\n",
        },
    )
    plan = detect_install_plan(root)
    assert plan.build_backend == "hatchling.build"
    assert plan.test_extras == ["tests"]
    assert plan.framework == "pytest"
    assert plan.test_paths == ["tests/unit"]
    assert "python -m pip install -e '.[tests]'" in plan.install_steps
    assert not plan.has_c_extension and plan.system_packages == []


def test_setup_py_with_extension_and_extras_require(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "setup.py": """
                from setuptools import setup, Extension
                setup(name="fast", ext_modules=[Extension("fast._speedups", ["src/fast/_speedups.c"])],
                      extras_require={"testing": ["pytest"], "docs": ["sphinx"]})
            """,
            "src/fast/__init__.py": "",
            "tests/test_fast.py": "def test_x(): pass\n",
        },
    )
    plan = detect_install_plan(root)
    assert plan.build_backend == "setuptools (setup.py)"
    assert plan.test_extras == ["testing"]
    assert plan.has_c_extension and plan.system_packages == ["build-essential"]
    assert plan.test_paths == ["tests"]


def test_setup_cfg_extras_requirement_files_and_tox_deps(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "setup.cfg": """
                [options.extras_require]
                test = pytest
                [tool:pytest]
                testpaths = testing
            """,
            "requirements-test.txt": "pytest-mock\n",
            "tox.ini": """
                [testenv]
                deps =
                    freezegun
                    -rrequirements-extra.txt
                    {posargs}
                commands = pytest
            """,
            "requirements-extra.txt": "tzdata\n",
            "testing/test_x.py": "",
        },
    )
    plan = detect_install_plan(root)
    assert plan.test_extras == ["test"]
    assert plan.requirement_files == ["requirements-test.txt", "requirements-extra.txt"]
    assert plan.tox_deps == ["freezegun"]
    assert plan.test_paths == ["testing"]
    assert plan.install_steps[1:4] == [
        "python -m pip install -r requirements-test.txt",
        "python -m pip install -r requirements-extra.txt",
        "python -m pip install freezegun",
    ]


def test_dependency_groups_are_installed_with_pip_group(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "grouped"
                version = "1"
                [dependency-groups]
                dev = ["ruff"]
                test = ["pytest"]
            """,
            "tests/test_g.py": "",
        },
    )
    plan = detect_install_plan(root)
    assert plan.dependency_groups == ["test"]
    assert "python -m pip install -e . --group test" in plan.install_steps


def test_unittest_only_project_and_tests_inside_the_package(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup(name='old')\n",
            "old/__init__.py": "",
            "old/tests/__init__.py": "",
            "old/tests/test_old.py": "import unittest\nclass T(unittest.TestCase):\n    def test_x(self): pass\n",
        },
    )
    plan = detect_install_plan(root)
    assert plan.framework == "unittest"
    assert plan.test_paths == ["old/tests"]
    assert plan.test_extras == []
    assert "python -m pip install -e ." in plan.install_steps


def test_tox_deps_under_a_factor_count_when_that_factor_runs_pytest(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "tox.ini": """
                [testenv]
                deps =
                    unit: pytest
                    unit-!py315t: matplotlib; implementation_name != 'pypy'
                    doctest: sphinx
                    freezegun
                commands =
                    unit: pytest tests {posargs}
                    doctest: sphinx-build -b doctest docs docs/_build
            """,
            "tests/test_x.py": "",
        },
    )
    assert detect_install_plan(root).tox_deps == ["pytest", "matplotlib; implementation_name != 'pypy'", "freezegun"]
