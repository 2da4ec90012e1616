"""Problem statements: symptoms only, in several styles, with a leak check (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import Category, SharedLibraryTarget, env, run
from cligym.generation.statements.templates import STYLES, StatementLeak, find_leaks, leak_terms, write_statement
from cligym.generation.task_record import Candidate, Validation

LIB = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"
GOLD = GoldRecord.model_construct(  # type: ignore[call-arg]  # a partial record: only what these tests read
    name="inventory", repo_path="/repo", base_test_command="python -m pytest tests"
)
CANDIDATE = Candidate(
    repo="inventory",
    category=Category.SHARED_LIBRARY,
    inverter="catalog:elf-header-zeroed",
    target=SharedLibraryTarget(path=LIB, debian_package="libsqlite3-0"),
    description="zeroed",
    break_steps=[run(f"dd if=/dev/zero of={LIB} bs=1 count=4 conv=notrunc")],
    repair_commands=["apt-get update", "apt-get install -y --reinstall libsqlite3-0"],
)
VALIDATION = Validation(
    fail_to_pass=["tests/test_store.py::test_add", "tests/test_store.py::test_get"],
    pass_to_pass=["tests/test_compression.py::test_zlib"],
    failure_messages={
        "tests/test_store.py::test_add": (
            "    import sqlite3\n"
            f"E   ImportError: {LIB}: invalid ELF header\n"
            "E   ImportError: libsqlite3.so.0: cannot open shared object file: invalid ELF header\n"
        )
    },
)


@pytest.mark.parametrize("style", STYLES)
def test_every_style_reports_command_failing_tests_and_error_without_the_cause(style: str) -> None:
    text = write_statement(GOLD, CANDIDATE, VALIDATION, style, hint=False)
    assert "python -m pytest tests" in text
    assert "tests/test_store.py::test_add" in text
    assert "cannot open shared object file" in text
    assert LIB not in text and "libsqlite3-0" not in text and "reinstall" not in text
    assert "It may help to look at" not in text


def test_the_hinted_variant_names_the_area_not_the_fix() -> None:
    text = write_statement(GOLD, CANDIDATE, VALIDATION, "ticket", hint=True)
    assert "It may help to look at a shared library that Python loads." in text
    assert find_leaks(text, CANDIDATE) == []


def test_leak_terms_cover_target_package_repair_and_image_variables() -> None:
    candidate = CANDIDATE.model_copy(update={"break_steps": [*CANDIDATE.break_steps, env("LD_LIBRARY_PATH", "/opt")]})
    terms = leak_terms(candidate)
    for term in (LIB, "libsqlite3-0", "--reinstall", "apt-get", "LD_LIBRARY_PATH", "elf-header-zeroed"):
        assert term in terms


def test_a_template_that_names_the_cause_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "terse.md").write_text("Try apt-get on libsqlite3-0. $command $count $excerpt\n")
    with pytest.raises(StatementLeak, match="libsqlite3-0"):
        write_statement(GOLD, CANDIDATE, VALIDATION, "terse", hint=False, templates_dir=tmp_path)


def test_unknown_style_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown statement style"):
        write_statement(GOLD, CANDIDATE, VALIDATION, "poem", hint=False)
