"""The fault-operator catalog: every operator is a complete, deterministic unit aimed by the probe."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from cligym.generation.gold.footprint import PerTestProbe, TestContext, TestResources
from cligym.generation.gold.record import GoldRecord, Probe, ProbedFile, ProbedModule
from cligym.generation.inverters.catalog import all_catalog_candidates
from cligym.generation.operators import OPERATORS, Category
from cligym.generation.operators.base import EnvVarTarget, FileTarget, ModuleTarget, SharedLibraryTarget
from cligym.generation.operators.function_stubs import startup_stub_line
from cligym.generation.operators.probe_targets import breakable_libraries, soname_link
from cligym.generation.repo_spec import RepoSpec

TESTS = ["tests/test_a.py::test_one", "tests/test_a.py::test_two", "tests/test_b.py::test_three"]


def gold_with(probe: Probe) -> GoldRecord:
    record = GoldRecord.model_construct(  # type: ignore[call-arg]  # a partial record: only what operators read
        name="demo",
        spec=RepoSpec(name="demo", source={"path": "."}),
        repo_path="/repo",
        probe=probe,
        gold_tests=TESTS,
        base_test_command="python -m pytest tests",
        record_key="k",
    )
    return record


PROBE = Probe(
    modules=[
        ProbedModule(
            name="tabulate",
            file="/usr/lib/python3/dist-packages/tabulate/__init__.py",
            origin="site-packages",
            distribution="tabulate",
            distribution_version="0.9.0",
        ),
        ProbedModule(
            name="_pytest",
            file="/x/_pytest/__init__.py",
            origin="site-packages",
            distribution="pytest",
            distribution_version="9.0",
        ),
        ProbedModule(
            name="dateutil",
            file="/usr/local/lib/python3.11/dist-packages/dateutil/__init__.py",
            origin="site-packages",
            distribution="python-dateutil",
            distribution_version="2.9.0",
        ),
        ProbedModule(
            name="six",
            file="/usr/local/lib/python3.11/dist-packages/six.py",
            origin="site-packages",
            distribution="six",
            distribution_version="1.16.0",
        ),
        ProbedModule(
            name="pytest_mock.plugin",
            file="/usr/local/lib/python3.11/dist-packages/pytest_mock/plugin.py",
            origin="site-packages",
            distribution="pytest-mock",
            distribution_version="3.14.0",
        ),
        ProbedModule(name="sqlite3", file="/usr/lib/python3.11/sqlite3/__init__.py", origin="stdlib"),
        ProbedModule(name="csv", file="/usr/lib/python3.11/csv.py", origin="stdlib"),
        ProbedModule(name="demo.store", file="/repo/demo/store.py", origin="repo"),
        ProbedModule(name="test_a", file="/repo/tests/test_a.py", origin="repo"),
        ProbedModule(name="test_b", file="/repo/tests/test_b.py", origin="repo"),
        ProbedModule(name="decimal", file="/usr/lib/python3.11/decimal.py", origin="stdlib"),
        ProbedModule(name="encodings.cp1252", file="/usr/lib/python3.11/encodings/cp1252.py", origin="stdlib"),
        ProbedModule(name="urllib.request", file="/usr/lib/python3.11/urllib/request.py", origin="stdlib"),
    ],
    shared_libraries=[
        ProbedFile(path="/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6", package="libsqlite3-0"),
        ProbedFile(path="/usr/lib/x86_64-linux-gnu/libc.so.6", package="libc6"),
        ProbedFile(path="/repo/pkg/_speedups.cpython-311-x86_64-linux-gnu.so", package=None),
        ProbedFile(
            path="/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so",
            package="libpython3.11-stdlib",
        ),
    ],
    files=[
        ProbedFile(path="/etc/os-release", package="base-files"),
        ProbedFile(path="/usr/share/zoneinfo/Europe/Paris", package="tzdata"),
        ProbedFile(path="/etc/nsswitch.conf", package=None),
        ProbedFile(path="/etc/ssl/certs/ca-certificates.crt", package=None),
        ProbedFile(path="/usr/include/python3.11/Python.h", package="libpython3.11-dev"),
        ProbedFile(path="/etc/localtime", package=None),
        ProbedFile(path="/root/.cache/demo/state.json", package=None),
    ],
    executables=[
        ProbedFile(path="/usr/bin/sed", package="sed"),
        ProbedFile(path="/usr/bin/python", package="x"),
        ProbedFile(path="/usr/bin/x86_64-linux-gnu-gcc-12", package="gcc-12"),
        ProbedFile(path="/usr/bin/python3", package="python3-minimal"),
        ProbedFile(path="/usr/local/bin/tabulate", distribution="tabulate", distribution_version="0.9.0"),
    ],
    env_vars=["PATH", "PYTEST_ADDOPTS", "DEMO_CURRENCY"],
    per_test=PerTestProbe(
        contexts={
            "": TestContext(imports=["pytest"], files=["/etc/localtime"], executables=["/usr/bin/python"]),
            "tests/test_a.py": TestContext(imports=["test_a"]),
            "tests/test_b.py": TestContext(imports=["test_b"]),
            TESTS[0]: TestContext(
                files=["/etc/os-release", "/usr/share/zoneinfo/Europe/Paris", "/usr/include/python3.11/Python.h"],
                executables=["/usr/bin/sed", "/usr/bin/x86_64-linux-gnu-gcc-12", "/usr/local/bin/tabulate"],
                env=["DEMO_CURRENCY", "HOME"],
                hosts=["localhost"],
                scratch=["/tmp/demo-output.txt"],
                functions=[
                    "demo.store:Store.add",
                    "demo.store:Store.total",
                    "time:localtime",
                    "csv:DictReader.__next__",
                    "tabulate:tabulate",
                ],
            ),
            TESTS[1]: TestContext(functions=["demo.store:Store.total", "_pytest:raises"]),
            TESTS[2]: TestContext(
                files=["/etc/nsswitch.conf", "/etc/ssl/certs/ca-certificates.crt", "/root/.cache/demo/state.json"],
                executables=["/usr/bin/python3"],
                functions=["_locale:setlocale", "demo.store:Store.__init__"],
            ),
        },
        import_edges={
            "test_a": ["tabulate", "sqlite3", "csv", "decimal", "urllib.request", "demo.store"],
            "test_b": ["dateutil", "encodings.cp1252"],
            "dateutil": ["six"],
            "sqlite3": ["_sqlite3"],
            "_pytest": ["pytest_mock.plugin"],
        },
        extension_links={
            "_sqlite3": [
                "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6",
                "/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so",
            ]
        },
        name_edges={"test_a": ["demo.store:Store", "csv:DictReader"]},
        harness_modules=["pytest", "_pytest"],
        fixtures={TESTS[0]: ["tmp_path"], TESTS[1]: ["mocker", "caplog"], TESTS[2]: []},
        fixture_providers={"tmp_path": "_pytest.tmpdir", "mocker": "pytest_mock.plugin", "caplog": "_pytest.logging"},
        # test_one held many files open at once and grew the address space by most of a GB; test_two recursed.
        resources={
            "": TestResources(fds=11, vm_kb=100 * 1024, depth=60),
            TESTS[0]: TestResources(fds=60, vm_kb=900 * 1024, depth=50),
            TESTS[1]: TestResources(fds=12, vm_kb=110 * 1024, depth=400),
            TESTS[2]: TestResources(fds=13, vm_kb=120 * 1024, depth=55),
        },
    ),
)


def test_every_operator_declares_name_category_and_description() -> None:
    assert len(OPERATORS) >= 40
    for name, operator in OPERATORS.items():
        assert operator.name == name
        assert isinstance(operator.category, Category)
        assert operator.description and not operator.description.endswith(".")


def test_every_operator_with_targets_is_deterministic_for_a_seed_and_has_an_oracle() -> None:
    gold = gold_with(PROBE)
    for operator in OPERATORS.values():
        for target in operator.targets(gold):
            first = operator.break_steps(target, random.Random(7))
            assert first == operator.break_steps(target, random.Random(7)), operator.name
            assert first and all(step.instruction in ("RUN", "ENV") for step in first)
            assert operator.repair_commands(target), operator.name


def test_targets_skip_libraries_the_repair_tools_need_and_the_test_harness() -> None:
    gold = gold_with(PROBE)
    assert [t.path for t in breakable_libraries(gold)] == [
        "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6",
        "/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so",
    ]
    module_targets = {t.name for t in OPERATORS["module-deleted"].targets(gold)}
    assert module_targets == {"tabulate", "dateutil", "six"}
    assert {t.path for t in OPERATORS["executable-removed"].targets(gold)} == {
        "/usr/bin/sed",
        "/usr/bin/x86_64-linux-gnu-gcc-12",
    }
    assert [t.name for t in OPERATORS["environment-variable-overridden"].targets(gold)] == ["DEMO_CURRENCY"]
    assert [t.path for t in OPERATORS["compiler-removed"].targets(gold)] == ["/usr/bin/x86_64-linux-gnu-gcc-12"]


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6", "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"),
        ("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "/usr/lib/x86_64-linux-gnu/libz.so.1"),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", None),
        ("/usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so", None),
    ],
)
def test_soname_links(path: str, link: str | None) -> None:
    assert soname_link(path) == link


def test_operators_cover_every_category() -> None:
    assert {operator.category for operator in OPERATORS.values()} == set(Category)


def test_every_operator_finds_a_target_in_a_probe_that_shows_what_it_aims_at() -> None:
    gold = gold_with(PROBE)
    python = {name: op for name, op in OPERATORS.items() if op.category != Category.NODE_PACKAGE}
    missing = [name for name, operator in python.items() if not operator.targets(gold)]
    assert missing == ["node-preload-hides-module"]  # a Node.js project's: no node here
    # A Node.js project's probe: node runs, and the tests load a package from node_modules.
    node = gold_with(
        Probe(
            executables=[ProbedFile(path="/usr/bin/node", package="nodejs")],
            per_test=PerTestProbe(
                contexts={"": TestContext(files=["/repo/node_modules/left-pad/index.js"])}, tests_seen=TESTS
            ),
        )
    )
    node_operators = [op for op in OPERATORS.values() if op.name.startswith("node-")]
    assert len(node_operators) == 4
    assert all([t.path for t in op.targets(node)] == ["/repo/node_modules/left-pad"] for op in node_operators)


def test_function_level_breaks_expect_the_tests_that_call_the_function() -> None:
    gold = gold_with(PROBE)
    stale = OPERATORS["project-function-stale-bytecode"]
    # One target per distinct set of calling tests, smallest first.
    targets = stale.targets(gold)
    assert [t.attribute for t in targets] == ["Store.__init__", "Store.add", "Store.total"]
    assert {t.path for t in targets} == {"/repo/demo/store.py"}
    assert stale.expected_failures(gold, targets[2]) == {TESTS[0], TESTS[1]}
    assert OPERATORS["project-function-patched-at-startup"].targets(gold) == targets
    [edited] = OPERATORS["stdlib-function-edited"].targets(gold)
    assert (edited.name, edited.attribute) == ("csv", "DictReader.__next__")
    assert OPERATORS["stdlib-function-edited"].expected_failures(gold, edited) == {TESTS[0]}
    [dependency] = OPERATORS["dependency-function-edited"].targets(gold)
    assert (dependency.name, dependency.attribute, dependency.version) == ("tabulate", "tabulate", "0.9.0")
    clock = OPERATORS["timezone-set-at-startup"]
    assert clock.expected_failures(gold, clock.targets(gold)[0]) == {TESTS[0]}
    assert OPERATORS["locale-not-generated"].expected_failures(gold, EnvVarTarget(name="LC_ALL")) == {TESTS[2]}


def test_functions_pytest_loads_are_stubbed_only_where_nothing_outside_the_repository_calls_them() -> None:
    stdlib = [ProbedModule(name="json", file="/usr/lib/python3.11/json/__init__.py", origin="stdlib")]
    toolchain = [
        ProbedModule(
            name=name,
            file=f"/usr/local/lib/python3.11/dist-packages/{name.replace('.', '/')}.py",
            origin="site-packages",
            distribution="pytest",
            distribution_version="8.3.4",
        )
        for name in ("_pytest.python_api", "_pytest.recwarn")
    ]
    gold = gold_with(
        Probe(
            modules=[*stdlib, *toolchain],
            per_test=PerTestProbe(
                contexts={
                    TESTS[0]: TestContext(functions=["json:loads", "_pytest.python_api:raises"]),
                    TESTS[1]: TestContext(functions=["json:dumps", "_pytest.recwarn:warns"]),
                    TESTS[2]: TestContext(functions=["json:dumps"]),
                },
                harness_modules=["json", "_pytest.python_api", "_pytest.recwarn"],
                # pytest's own deprecated_call calls warns, and a plugin wrote a report with dumps.
                harness_functions=["json:dumps", "_pytest.recwarn:warns"],
                tests_seen=TESTS,
            ),
        )
    )
    [loads] = OPERATORS["stdlib-function-edited"].targets(gold)
    assert (loads.name, loads.attribute) == ("json", "loads")
    assert OPERATORS["stdlib-function-edited"].expected_failures(gold, loads) == {TESTS[0]}
    [raises] = OPERATORS["pytest-helper-edited"].targets(gold)
    assert (raises.name, raises.attribute, raises.distribution, raises.version) == (
        "_pytest.python_api",
        "raises",
        "pytest",
        "8.3.4",
    )
    assert OPERATORS["pytest-helper-edited"].repair_commands(raises) == [
        "python -m pip install --force-reinstall --no-deps pytest==8.3.4"
    ]


def test_cli_lists_the_catalog(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "cligym", "operators"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    for name in OPERATORS:
        assert name in result.stdout


def test_a_startup_patch_reaches_a_function_its_package_re_exports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.sub import f, Box\n")
    (package / "sub.py").write_text("def f():\n    return 1\n\n\nclass Box:\n    def size(self):\n        return 2\n")
    for attribute in ("f", "Box.size"):
        line = startup_stub_line(ModuleTarget(name="pkg.sub", attribute=attribute), "NotImplementedError")
        (tmp_path / "hook.pth").write_text(line + "\n")
        call = "pkg.f()" if attribute == "f" else "pkg.Box().size()"
        check = f"import site; site.addsitedir({str(tmp_path)!r}); import pkg; {call}"
        result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 1 and "NotImplementedError" in result.stderr, (attribute, result.stderr)
        assert "Error processing line" not in result.stderr


def test_removing_a_package_fails_only_the_tests_an_unguarded_import_of_its_library_reaches() -> None:
    operator = OPERATORS["package-force-removed"]
    target = SharedLibraryTarget(path="/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6")
    target = target.model_copy(update={"debian_package": "libsqlite3-0"})
    assert operator.expected_failures(gold_with(PROBE), target) == {TESTS[0], TESTS[1]}
    # test_a imports sqlite3 as an optional dependency (try: import sqlite3 / except ImportError): nothing fails.
    per_test = PROBE.per_test
    assert per_test is not None
    guarded = PROBE.model_copy(
        update={"per_test": per_test.model_copy(update={"import_guards": {"test_a": {"sqlite3": [["ImportError"]]}}})}
    )
    assert operator.expected_failures(gold_with(guarded), target) == frozenset()


def test_a_target_without_what_its_repair_needs_makes_no_candidate() -> None:
    # A probed file no Debian package owns: reinstalling its owner is no repair, so no candidate is made
    # (the operator's own targets filter such files out; this is the catalog's guard for any that slip by).
    removed = OPERATORS["packaged-file-removed"]

    class Orphaned(type(removed)):  # type: ignore[misc]
        def targets(self, gold: GoldRecord) -> list[FileTarget]:
            return [
                FileTarget(path="/etc/cligym-orphan.conf"),
                FileTarget(path="/etc/os-release", debian_package="base-files"),
            ]

    with pytest.raises(ValueError, match="no Debian package owns it"):
        removed.repair_commands(FileTarget(path="/etc/cligym-orphan.conf"))
    candidates = all_catalog_candidates(gold_with(PROBE), operators=[Orphaned()])
    assert [c.target.label() for c in candidates if c.target] == ["/etc/os-release"]
