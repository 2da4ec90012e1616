"""Per-test outcomes from TAP, the Test Anything Protocol (versions 12 to 14): what `prove`, `node --test
--test-reporter=tap`, automake's TAP driver and many C and Perl suites print.

A test's id is its file (when the stream is one of several: ``prove -v`` headers, or the caller's name for
the stream) followed by its description, numbered when the description is empty or repeats, and by its
parents' names for TAP 14 subtests (``# Subtest: NAME`` or an indented block before its summary line). A test
whose plan promised it but that never reported (the stream stopped) is an error; ``Bail out!`` ends the stream.
``# SKIP`` is skipped; ``# TODO`` tests are expected to fail, so a failing TODO counts as skipped and a
passing one as passed, as TAP consumers treat them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cligym.generation.gold.junit import TestOutcome, TestStatus

_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)\s*$")
_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#.*)?$")
_DIRECTIVE = re.compile(r"(?:^|\s+)#\s*(SKIP|TODO)\b\S*\s*(.*)$", re.IGNORECASE)
_SUBTEST = re.compile(r"^#\s*Subtest:\s*(.*?)\s*$")
_PROVE_HEADER = re.compile(r"^(\S+?\.(?:t|js|mjs|cjs|sh|pl|py|test))\s*\.{2,}\s*$")


@dataclass
class _Level:
    indent: int
    names: list[str]
    planned: int | None = None
    seen: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    pending_subtest: str | None = None


def parse_tap(text: str, stream: str = "") -> list[TestOutcome]:
    """Outcomes of one TAP stream; ``stream`` (a file name) prefixes the ids when the stream names no files."""
    outcomes: dict[str, TestOutcome] = {}
    levels = [_Level(0, [stream] if stream else [])]
    last: str | None = None
    yaml_indent: int | None = None
    error_follows = False  # the YAML ``error: |-`` block's first line is the message
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if yaml_indent is not None:  # a result's YAML diagnostics, up to its "..." line
            if stripped == "..." and indent <= yaml_indent:
                yaml_indent = None
            elif last and error_follows and stripped:
                outcomes[last] = outcomes[last].model_copy(update={"message": stripped[:500]})
                error_follows = False
            elif last and stripped.startswith("duration_ms:"):
                outcomes[last] = _with_duration(outcomes[last], stripped)
            elif last and stripped.startswith("error:") and not outcomes[last].message:
                error = stripped.removeprefix("error:").strip().strip("'\"")
                error_follows = error in ("|-", "|", ">-", ">")
                if not error_follows:
                    outcomes[last] = outcomes[last].model_copy(update={"message": error[:500]})
            continue
        if not stripped:
            continue
        if stripped == "---" and last is not None:
            yaml_indent = indent
            continue
        header = _PROVE_HEADER.match(line)
        if header and indent == 0:
            for level in reversed(levels):
                _close(level, outcomes)
            levels = [_Level(0, [header.group(1)])]
            continue
        if stripped.startswith("Bail out!"):
            break
        subtest = _SUBTEST.match(stripped)
        if subtest:
            _level_for(levels, indent).pending_subtest = subtest.group(1)
            continue
        plan = _PLAN.match(stripped)
        if plan:
            _level_for(levels, indent).planned = int(plan.group(1))
            continue
        result = _RESULT.match(stripped)
        if not result:
            continue
        # A result less indented than the open subtest block is that block's summary line: close it.
        while len(levels) > 1 and levels[-1].indent > indent:
            _close(levels.pop(), outcomes)
        level = _level_for(levels, indent)
        if (
            not result.group(2)
            and not result.group(3)
            and level.planned is not None
            and len(level.seen) >= level.planned
        ):
            continue  # prove's own verdict on a file ("ok" alone once every planned test reported)
        number = int(result.group(2)) if result.group(2) else len(level.seen) + 1
        level.seen.add(number)
        description, directive, reason = _split_directive(result.group(3))
        level.pending_subtest = None
        test_id = "::".join([*level.names, _unique(level, description or f"test {number}")])
        status = _status(result.group(1) == "ok", directive)
        children = [outcome for key, outcome in outcomes.items() if key.startswith(f"{test_id}::")]
        # A parent's result only repeats its subtests', unless it failed on its own (a hook, a timeout).
        if children and (status == "passed" or any(child.status != "passed" for child in children)):
            last = None
            continue
        outcomes[test_id] = TestOutcome(test_id=test_id, status=status, duration_s=0.0, message=reason[:500])
        last = test_id
    for level in reversed(levels):
        _close(level, outcomes)
    return list(outcomes.values())


def _with_duration(outcome: TestOutcome, line: str) -> TestOutcome:
    try:
        seconds = float(line.split(":", 1)[1]) / 1000
    except ValueError:
        return outcome
    return outcome.model_copy(update={"duration_s": seconds})


def _level_for(levels: list[_Level], indent: int) -> _Level:
    """The level at ``indent``, opening a subtest level when deeper: named by the parent's ``# Subtest:``
    line, else by the number its summary line will have."""
    if indent > levels[-1].indent:
        parent = levels[-1]
        name = parent.pending_subtest or f"test {len(parent.seen) + 1}"
        levels.append(_Level(indent, [*parent.names, name]))
    return levels[-1]


def _close(level: _Level, outcomes: dict[str, TestOutcome]) -> None:
    """Tests the plan promised that never reported: the stream stopped before them."""
    if level.planned is None:
        return
    for number in range(1, level.planned + 1):
        if number not in level.seen:
            test_id = "::".join([*level.names, f"test {number}"])
            message = "planned but never reported (the run stopped)"
            outcomes[test_id] = TestOutcome(test_id=test_id, status="error", duration_s=0.0, message=message)
    level.planned = None


def _split_directive(text: str) -> tuple[str, str | None, str]:
    found = _DIRECTIVE.search(text)
    if not found:
        return text.strip(), None, ""
    return text[: found.start()].strip(), found.group(1).upper(), found.group(2).strip()


def _unique(level: _Level, name: str) -> str:
    count = level.counts.get(name, 0) + 1
    level.counts[name] = count
    return name if count == 1 else f"{name} [{count}]"


def _status(ok: bool, directive: str | None) -> TestStatus:
    if directive == "SKIP":
        return "skipped"
    if directive == "TODO":
        return "passed" if ok else "skipped"
    return "passed" if ok else "failed"
