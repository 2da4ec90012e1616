"""The agent inverter's pure parts: submission checks, repository-edit detection, observations, the probe
summary, category choice, and its configuration errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cligym.errors import CligymError, ConfigError
from cligym.generation.gold.record import GoldRecord, Probe, ProbedFile, ProbedModule
from cligym.generation.inverters.agent import AgentInverter, _env_value, agent_inverter_from_settings
from cligym.generation.inverters.agent_prompts import probe_summary
from cligym.generation.inverters.agent_tools import (
    GoldTestRun,
    SubmissionRefused,
    edits_repository,
    parse_submission,
    suite_observation,
)
from cligym.generation.operators.base import Category, run
from cligym.generation.task_record import Attempt, Candidate, Validation
from cligym.llm import ChatClient
from cligym.llm.observation import clip, command_observation
from cligym.sandbox import ExecResult
from cligym.settings import AgentInverterSettings, load_settings

GOOD = {"break_commands": ["rm -f /etc/localtime"], "repair_commands": ["ln -s x /etc/localtime"], "description": "d"}
GOLD = GoldRecord.model_construct(name="inventory", repo_path="/repo")  # type: ignore[call-arg]  # a partial record: only what these tests read


@pytest.mark.parametrize(
    "command",
    [
        "rm /repo/inventory/store.py",
        "sed -i 's/a/b/' /repo/inventory/store.py",
        "echo x > /repo/README.md",
        "echo x >> '/repo/tests/test_store.py'",
        "cd /repo && rm -rf tests",
        "cp /tmp/evil.py /repo/inventory/store.py",
        "mv /repo/inventory /tmp/",
        "chmod 000 /repo/tests",
        "dd if=/dev/zero of=/repo/inventory/store.py bs=1 count=4",
        "git -C /repo checkout HEAD~1",
        "true; sudo truncate -s 0 /repo/pyproject.toml",
    ],
)
def test_commands_that_write_into_the_repository_are_recognised(command: str) -> None:
    assert edits_repository(command, "/repo/")


@pytest.mark.parametrize(
    "command",
    [
        "pip install -e /repo",
        "cat /repo/inventory/store.py",
        "cp /repo/inventory/store.py /tmp/copy.py",
        "sed 's/a/b/' /repo/README.md > /tmp/x",
        "rm -f /repository-backup/x /usr/lib/x86_64-linux-gnu/libsqlite3.so.0",
        "cd /tmp && rm -f stuff",
        "ln -sf libm.so.6 /usr/lib/x86_64-linux-gnu/libsqlite3.so.0",
    ],
)
def test_commands_that_only_read_the_repository_or_write_elsewhere_are_allowed(command: str) -> None:
    assert not edits_repository(command, "/repo")


def test_a_good_submission_is_parsed() -> None:
    submission = parse_submission({**GOOD, "env": {"TZ": "Mars/Olympus"}, "description": "tz gone\nmore"}, "/repo")
    assert submission.break_commands == ["rm -f /etc/localtime"] and submission.env == {"TZ": "Mars/Olympus"}
    assert submission.description == "tz gone"


def test_a_single_command_given_as_a_string_is_accepted() -> None:
    submission = parse_submission({**GOOD, "repair_commands": "apt-get install --reinstall tzdata"}, "/repo")
    assert submission.repair_commands == ["apt-get install --reinstall tzdata"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"break_commands": []}, "break_commands is empty"),
        ({"repair_commands": []}, "repair_commands is empty"),
        ({"description": " "}, "description is empty"),
        ({"break_commands": ["COPY evil.so /usr/lib/"]}, "is a Dockerfile instruction"),
        ({"break_commands": ["RUN rm -f /etc/localtime"]}, "is a Dockerfile instruction"),
        ({"break_commands": ["rm -f /etc/localtime\nrm -f /etc/timezone"]}, "spans several lines"),
        ({"break_commands": [1, 2]}, "must be a list of strings"),
        ({"env": {"NOT A NAME": "x"}}, "is not a valid variable name"),
        ({"env": ["TZ=x"]}, "env must be an object"),
        ({"repair_commands": ["git -C /repo stash"]}, "changes files under /repo"),
    ],
)
def test_a_bad_submission_is_refused_with_what_to_change(change: dict, problem: str) -> None:
    with pytest.raises(SubmissionRefused, match=problem):
        parse_submission({**GOOD, **change}, "/repo")


def test_an_env_only_break_is_a_submission() -> None:
    assert parse_submission({**GOOD, "break_commands": [], "env": {"LC_ALL": "xx_XX"}}, "/repo").env


def test_env_values_are_quoted_for_the_dockerfile_only_when_needed() -> None:
    assert _env_value("/opt/lib") == "/opt/lib"
    assert _env_value("a b") == '"a b"'
    assert _env_value('say "$HOME"') == '"say \\"\\$HOME\\""'


def test_long_output_keeps_its_head_and_tail() -> None:
    text = "head\n" + "x" * 10_000 + "\ntail"
    clipped = clip(text, 300)
    assert clipped.startswith("head") and clipped.endswith("tail") and "bytes cut" in clipped
    assert len(clipped) < 400


def test_a_command_observation_shows_exit_code_and_both_streams() -> None:
    result = ExecResult(command="ls /x", exit_code=2, stdout="", stderr="ls: /x: No such file", duration_s=0.1)
    assert command_observation(result, 1000) == "exit code 2\nstderr:\nls: /x: No such file"
    killed = ExecResult(command="sleep 9", exit_code=None, stdout="", stderr="", duration_s=5, timed_out=True)
    assert command_observation(killed, 1000) == "killed after 5 s (timeout)\n(no output)"


def test_a_test_observation_warns_when_the_repository_changed() -> None:
    run_ = GoldTestRun(total=3, failing=["t.py::a"], first_error="E boom", summary="exit code 1, 1 s")
    run_.changed_files = ["inventory/store.py"]
    text = suite_observation(run_, 2000)
    assert text.startswith("1 of 3 gold tests now fail") and "E boom" in text
    assert "tracked files of the repository changed: inventory/store.py" in text


def test_the_probe_summary_is_compact_and_names_packages() -> None:
    probe = Probe(
        modules=[
            ProbedModule(
                name="yaml", file="/x", origin="site-packages", distribution="PyYAML", distribution_version="6"
            ),
            ProbedModule(name="yaml.cyaml", file="/x", origin="site-packages", distribution="PyYAML"),
            ProbedModule(name="json", file="/x", origin="stdlib"),
            ProbedModule(name="inventory", file="/repo/inventory/__init__.py", origin="repo"),
        ],
        shared_libraries=[ProbedFile(path=f"/usr/lib/lib{i}.so", package="libx") for i in range(40)],
        env_vars=["PYTEST_ADDOPTS", "INVENTORY_TZ"],
    )
    text = probe_summary(probe, "/repo")
    assert "- PyYAML 6 (imports yaml)" in text and "json" not in text
    assert "- /usr/lib/lib0.so (libx)" in text and "- ... and 15 more" in text
    assert "Environment variables read: INVENTORY_TZ" in text and "PYTEST_ADDOPTS" not in text
    assert "(under /repo): inventory" in text


def attempt(category: Category, valid: bool, inverter: str = "catalog:x") -> Attempt:
    now = datetime.now(UTC)
    candidate = Candidate(
        repo="inventory",
        category=category,
        inverter=inverter,
        description=f"{category} {valid}",
        break_steps=[run("true")],
        repair_commands=["true"],
    )
    task_id = "t" if valid else None
    return Attempt(
        repo="inventory",
        key="k",
        candidate=candidate,
        validation=Validation(),
        task_id=task_id,
        started_at=now,
        finished_at=now,
    )


def agent(**settings: object) -> AgentInverter:
    # Nothing is asked of the model here: the client is never called.
    return AgentInverter(ChatClient("http://127.0.0.1:9/v1", "m"), AgentInverterSettings.model_validate(settings))


def test_categories_take_turns_least_covered_first_then_least_tried() -> None:
    inverter = agent(categories=["shared-library", "python-package", "file-system"])
    first = inverter.next_category(GOLD, [])
    assert inverter.next_category(GOLD, []) == first  # deterministic for the same seed
    after_valid = inverter.next_category(GOLD, [attempt(first, valid=True)])
    assert after_valid != first
    tried = [attempt(c, valid=False, inverter="agent:m") for c in (first, after_valid)]
    third = inverter.next_category(GOLD, [attempt(first, True), *tried])
    assert third not in (first, after_valid)


def test_unknown_categories_are_a_config_error_listing_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown category 'shared-libs'") as info:
        agent(categories=["shared-libs"])
    assert "shared-library" in str(info.value)


def test_the_factory_asks_for_a_model_when_none_is_configured() -> None:
    with pytest.raises(CligymError, match="no model is configured") as info:
        agent_inverter_from_settings(load_settings(), run_id=None)
    assert "-o model.base_url=http://127.0.0.1:8000/v1 -o model.model=Qwen/Qwen3-8B" in str(info.value)
    inverter = agent_inverter_from_settings(load_settings(overrides=["model.model=Qwen/Qwen3-8B"]), run_id="r")
    assert inverter.inverter_name == "agent:Qwen/Qwen3-8B" and inverter.run_id == "r"
