"""The per-test footprint as a pure function of a probe's contexts: which tests use what."""

from __future__ import annotations

from cligym.generation.duplicates import DuplicateJudge, cause_of, every_test_cap
from cligym.generation.gold.footprint import Footprint, PerTestProbe, TestContext, contains
from cligym.generation.operators.base import Category, run
from cligym.generation.task_record import Candidate

STORE = "tests/test_store.py::test_add"
STORE_2 = "tests/test_store.py::test_remove"
REPORT = "tests/test_report.py::test_money"
CLI = "tests/cli/test_cli.py::test_run[1]"


def probe() -> PerTestProbe:
    return PerTestProbe(
        contexts={
            "": TestContext(imports=["pytest", "json"], files=["/etc/localtime"]),
            "tests/test_store.py": TestContext(imports=["app.store"]),
            # The report module was collected after the store module: app is cached, its import still counts.
            "tests/test_report.py": TestContext(imports=["app.report"]),
            "tests/cli": TestContext(imports=["conftest_helpers"]),
            STORE: TestContext(files=["/etc/app.conf"], env=["APP_MODE"]),
            REPORT: TestContext(
                imports=["decimal", "asyncio"],
                calls=["app.report>decimal", "_pytest.unittest>asyncio"],
                executables=["/usr/bin/sed"],
                hosts=["localhost"],
            ),
            CLI: TestContext(executables=["/usr/local/bin/app"]),
        },
        import_edges={
            "app.store": ["sqlite3"],
            "sqlite3": ["_sqlite3"],
            "app": ["os"],
            "decimal": ["_decimal"],
            "asyncio": ["concurrent.futures"],
        },
        name_edges={"app.report": ["decimal:Decimal"]},
        extension_links={
            "_sqlite3": ["/usr/lib/libsqlite3.so.0.8.6", "/usr/lib/python3.11/lib-dynload/_sqlite3.so"],
            "_decimal": ["/usr/lib/libmpdec.so.3"],
        },
        harness_modules=["pytest", "json"],
        fixtures={STORE: ["tmp_path"], STORE_2: ["tmp_path", "mocker"], REPORT: [], CLI: ["mocker"]},
        fixture_providers={"tmp_path": "_pytest.tmpdir", "mocker": "pytest_mock.plugin"},
    )


def footprint() -> Footprint:
    return Footprint(probe(), [STORE, STORE_2, REPORT, CLI], first_party=["app", "app.store", "app.report"])


def test_direct_imports_are_the_projects_own_not_what_pytest_or_a_library_loads() -> None:
    direct = footprint().direct_imports
    assert {"sqlite3", "os", "decimal"} <= direct
    assert "asyncio" not in direct and "concurrent.futures" not in direct and "_sqlite3" not in direct


def test_a_name_imported_by_a_module_counts_for_the_tests_that_load_that_module() -> None:
    assert footprint().tests_using("names", "decimal:Decimal") == {REPORT}


def test_a_collector_contains_its_tests_and_nothing_else() -> None:
    assert contains("", REPORT) and contains("tests/test_store.py", STORE) and contains("tests/cli", CLI)
    assert not contains("tests/test_store.py", REPORT) and not contains("tests/cl", CLI)
    assert not contains("tests/test_store.py::test_add", STORE_2)


def test_a_library_is_used_by_the_tests_whose_imports_load_an_extension_linking_it() -> None:
    assert footprint().tests_using("libraries", "/usr/lib/libsqlite3.so.0.8.6") == {STORE, STORE_2}
    assert footprint().tests_using("libraries", "/usr/lib/libmpdec.so.3") == {REPORT}


def test_modules_count_with_their_parents_and_submodules() -> None:
    fp = footprint()
    assert fp.tests_using("modules", "app") == {STORE, STORE_2, REPORT}
    assert fp.tests_using("modules", "sqlite3") == {STORE, STORE_2}
    assert fp.tests_using("modules", "os") == {STORE, STORE_2, REPORT}  # through the package app
    assert fp.is_harness_module("json") and not fp.is_harness_module("decimal")


def test_what_a_test_does_counts_for_that_test_and_the_session_for_every_test() -> None:
    fp = footprint()
    assert fp.tests_using("files", "/etc/app.conf") == {STORE}
    assert fp.tests_using("files", "/etc/localtime") == {STORE, STORE_2, REPORT, CLI}
    assert fp.tests_using("executables", "/usr/local/bin/app") == {CLI}
    assert fp.tests_using("env", "APP_MODE") == {STORE} and fp.tests_using("hosts", "localhost") == {REPORT}
    assert fp.tests_using("fixtures", "mocker") == {STORE_2, CLI}
    assert fp.tests_using("files", "/etc/never-opened") == frozenset()


def candidate(inverter: str, description: str, steps: list[str]) -> Candidate:
    return Candidate(
        repo="r",
        category=Category.RUNTIME_CONFIG,
        inverter=inverter,
        description=description,
        break_steps=[run(step) for step in steps],
        repair_commands=["true"],
    )


def test_only_programs_a_test_starts_itself_count_as_launched() -> None:
    # The session context ran the interpreter under pytest; neither that nor a collector's counts.
    with_session = probe()
    with_session.contexts[""].executables.append("/usr/bin/python3.11")
    launched = Footprint(with_session, [STORE, STORE_2, REPORT, CLI], first_party=["app"])
    assert launched.tests_launching() == {REPORT, CLI}
    assert launched.tests_launching("/usr/local/bin/") == {CLI}
    assert launched.tests_launching("python") == frozenset()


def test_the_same_cause_is_a_duplicate_whatever_its_parameters_or_symptom() -> None:
    judge = DuplicateJudge(max_per_failing_set=3)
    first = candidate("catalog:pth-blocks-import", "A .pth file blocks: json", ["echo a > x.pth"])
    judge.add(first, [STORE])
    redrawn = candidate("catalog:pth-blocks-import", "A .pth file blocks: json", ["echo b > y.pth"])
    assert cause_of(redrawn) == cause_of(first)
    assert judge.duplicate_reason(redrawn, [REPORT]) is not None


def test_different_causes_of_one_symptom_are_kept_up_to_the_cap() -> None:
    judge = DuplicateJudge(max_per_failing_set=2)
    causes = [
        candidate("catalog:pth-blocks-import", "A .pth file blocks: json", ["echo a"]),
        candidate("catalog:usercustomize-blocks-import", "usercustomize blocks: json", ["echo b"]),
        candidate("catalog:pythonpath-shadow", "PYTHONPATH shadows: json", ["echo c"]),
    ]
    judge.add(causes[0], [STORE, REPORT])
    assert judge.duplicate_reason(causes[1], [REPORT, STORE]) is None
    judge.add(causes[1], [STORE, REPORT])
    assert "2 earlier tasks" in (judge.duplicate_reason(causes[2], [STORE, REPORT]) or "")
    assert judge.duplicate_reason(causes[2], [STORE]) is None


def test_tasks_failing_every_test_are_capped_at_a_share_of_the_tasks_wanted() -> None:
    assert [every_test_cap(0.3, wanted) for wanted in (1, 3, 9, 10, 20)] == [1, 1, 2, 3, 6]
    assert every_test_cap(0.0, 10) == 0
    judge = DuplicateJudge(
        max_per_failing_set=3, every_test=[STORE, REPORT], max_failing_every_test=every_test_cap(0.3, 4)
    )
    judge.add(candidate("catalog:pth-blocks-import", "A .pth file blocks: json", ["echo a"]), [STORE, REPORT])
    other = candidate("catalog:pythonpath-shadow", "PYTHONPATH shadows: json", ["echo c"])
    assert "fail every gold test" in (judge.duplicate_reason(other, [REPORT, STORE]) or "")
    assert judge.duplicate_reason(other, [STORE]) is None


def test_a_models_break_is_identified_by_its_steps() -> None:
    one = candidate("agent:qwen", "the model's words", ["rm -f /usr/lib/libz.so.1"])
    other = candidate("agent:qwen", "other words, same break", ["rm -f /usr/lib/libz.so.1"])
    assert cause_of(one) == cause_of(other)
    assert cause_of(one) != cause_of(candidate("agent:qwen", "x", ["rm -f /usr/lib/libbz2.so.1"]))


def test_a_guarded_import_does_not_spread_the_failure_its_handler_catches() -> None:
    guarded = probe().model_copy(
        update={
            # decimal does without its accelerator; the report's function guards asyncio against anything.
            "import_guards": {
                "decimal": {"_decimal": [["ImportError"]]},
                "_pytest.unittest": {"asyncio": [["Exception"], ["BaseException"]]},
            }
        }
    )
    found = Footprint(guarded, [STORE, STORE_2, REPORT, CLI])
    assert found.tests_using("libraries", "/usr/lib/libmpdec.so.3") == {REPORT}
    assert found.tests_using("libraries", "/usr/lib/libmpdec.so.3", raising="ImportError") == frozenset()
    # A syntax error in the accelerator's place is not an ImportError: the guard does not catch it.
    assert found.tests_using("modules", "_decimal", raising="SyntaxError") == {REPORT}
    assert found.tests_using("modules", "asyncio", raising="ImportError") == frozenset()
    assert found.tests_using("modules", "asyncio", raising="SyntaxError") == frozenset()
    # An unguarded import of the same module still spreads it.
    assert found.tests_using("modules", "sqlite3", raising="ImportError") == {STORE, STORE_2}


def test_a_module_pytest_imports_at_run_time_is_harness_whichever_test_was_running() -> None:
    # pytest escapes string parameters for test ids with the unicode_escape codec: the first collector that
    # needed it loaded it, but every collector with such parameters needs it.
    record = probe().model_copy(
        update={
            "contexts": {
                **probe().contexts,
                "tests/test_report.py": TestContext(
                    imports=["app.report", "encodings.unicode_escape"],
                    calls=["_pytest.compat>encodings.unicode_escape", "app.report>decimal"],
                ),
            },
            "import_edges": {**probe().import_edges, "pytest": ["_pytest.compat"]},
        }
    )
    found = Footprint(record, [STORE, STORE_2, REPORT, CLI], first_party=["app", "app.store", "app.report"])
    assert found.is_harness_module("encodings.unicode_escape")
    assert found.is_harness_module("_pytest.compat")
    assert not found.is_harness_module("decimal")


def test_what_a_child_python_program_imports_is_not_harness() -> None:
    # A test runs `python -m app`: in the child, runpy and __main__ (both loaded by pytest's own process too)
    # import the project. That is the program under test, not something pytest needs.
    record = probe().model_copy(
        update={
            "contexts": {**probe().contexts, CLI: TestContext(imports=["app"], calls=["runpy>app", "__main__>app"])},
            "harness_modules": ["pytest", "json", "runpy", "__main__"],
        }
    )
    found = Footprint(record, [STORE, STORE_2, REPORT, CLI], first_party=["app", "app.store", "app.report"])
    assert not found.is_harness_module("app")
    assert found.tests_using("modules", "app") == {STORE, STORE_2, REPORT, CLI}
    assert found.tests_using("modules", "app.store") == {STORE, STORE_2}


def test_a_file_opened_only_where_its_failure_is_caught_is_not_what_a_removal_fails() -> None:
    # The store's test opens its config inside a fallback (a search path tried in order) that catches OSError;
    # the session opens the local time zone without one.
    guarded = probe()
    guarded.contexts[STORE] = TestContext(files=["/etc/app.conf"], file_guards={"/etc/app.conf": [["OSError"]]})
    found = Footprint(guarded, [STORE, STORE_2, REPORT, CLI])
    assert found.tests_using("files", "/etc/app.conf") == {STORE}
    assert found.tests_using("files", "/etc/app.conf", raising="FileNotFoundError") == frozenset()
    assert found.tests_using("files", "/etc/app.conf", raising="PermissionError") == frozenset()
    # A file that no longer parses raises what that handler does not catch: the test still fails.
    assert found.tests_using("files", "/etc/app.conf", raising="ValueError") == {STORE}
    assert len(found.tests_using("files", "/etc/localtime", raising="FileNotFoundError")) == 4
