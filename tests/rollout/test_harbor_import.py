"""Harbor jobs imported as trajectory records: a real Harbor job (its Terminus 2 agent driven by the scripted
model, its oracle and its do-nothing agent on an exported task) becomes records with OpenAI-style messages,
steps, the verifier's reward and per-test statuses; re-importing appends nothing, and broken trials are
skipped with a reason naming the file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cligym.cli.rollout_import_command import rollout_import
from cligym.errors import CligymError
from cligym.filtering.filter_run import FilterConfig, filter_trajectories
from cligym.llm.scripted_server import Reply, ScriptedModelServer
from cligym.rollout.harbor import ImportSummary, import_harbor_jobs
from cligym.rollout.trajectory import TRAJECTORIES_FILE, Trajectory, read_trajectories

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TASK_ID = "inventory-sqlite-soname"
LIBRARY = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"
REPAIR = f"ln -sf {LIBRARY}.8.6 {LIBRARY}"


def terminus_turn(analysis: str, keystrokes: list[str], complete: bool = False) -> Reply:
    """One answer in Terminus 2's JSON protocol (it parses commands out of the text, no native tools)."""
    content = {
        "analysis": analysis,
        "plan": f"Plan for: {analysis}",
        "commands": [{"keystrokes": keys, "duration": 1.0} for keys in keystrokes],
        "task_complete": complete,
    }
    return Reply(content=json.dumps(content), prompt_tokens=1000, completion_tokens=50)


# Look, repair in one batch of two commands and claim completion, then confirm (Terminus asks twice).
TERMINUS_SCRIPT = [
    terminus_turn("The tests cannot load sqlite.", [f"ls -l {LIBRARY}\n"]),
    terminus_turn("The soname link points to the wrong file.", [f"{REPAIR}\n", "ldconfig\n"], complete=True),
    terminus_turn("Repaired.", [], complete=True),
]


@dataclass(frozen=True)
class HarborJob:
    job_dir: Path
    base_url: str
    trials: dict[str, Path]  # agent name -> trial directory
    requests: list[dict[str, Any]]  # what the scripted model was sent


@pytest.fixture(scope="module")
def harbor_job(exported_task_dir: Path, harbor_python: Path, tmp_path_factory: pytest.TempPathFactory) -> HarborJob:
    """One real Harbor job over the exported task: oracle, nop, and Terminus 2 talking to the scripted model."""
    jobs = tmp_path_factory.mktemp("jobs")
    with ScriptedModelServer(TERMINUS_SCRIPT, then=terminus_turn("Done.", [], complete=True)) as server:
        config = {
            "job_name": "import-test",
            "jobs_dir": str(jobs),
            "n_concurrent_trials": 3,
            "agents": [
                {"name": "oracle"},
                {"name": "nop"},
                {"name": "terminus-2", "model_name": f"openai/{server.model}", "kwargs": {"api_base": server.base_url}},
            ],
            "tasks": [{"path": str(exported_task_dir)}],
        }
        config_file = jobs / "job.json"
        config_file.write_text(json.dumps(config))
        # litellm wants a key even for a local server, and would otherwise fetch its model price list. Terminus
        # drives a tmux session in the container, which it installs there with apt (the task allows network).
        env = {**os.environ, "OPENAI_API_KEY": "scripted", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        completed = subprocess.run(
            [str(harbor_python.parent / "harbor"), "run", "-y", "-q", "-c", str(config_file)],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        base_url, requests = server.base_url, list(server.requests)
    job_dir = jobs / "import-test"
    trials = {
        json.loads((d / "result.json").read_text())["agent_info"]["name"]: d for d in job_dir.iterdir() if d.is_dir()
    }
    assert sorted(trials) == ["nop", "oracle", "terminus-2"], trials
    return HarborJob(job_dir, base_url, trials, requests)


@pytest.fixture(scope="module")
def imported(harbor_job: HarborJob, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImportSummary]:
    run = tmp_path_factory.mktemp("run")
    return run, import_harbor_jobs([harbor_job.job_dir], run)


@pytest.fixture
def records(imported: tuple[Path, ImportSummary]) -> dict[str, Trajectory]:
    return {record.agent: record for record in read_trajectories(imported[0])}


@pytest.fixture
def expected_tests(exported_task_dir: Path) -> dict[str, list[str]]:
    expected: dict[str, list[str]] = json.loads((exported_task_dir / "tests" / "expected.json").read_text())
    return expected


def copy_trial(harbor_job: HarborJob, agent: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(harbor_job.trials[agent], tmp_path / "job" / harbor_job.trials[agent].name))


def test_every_trial_of_the_job_becomes_one_harbor_record(
    imported: tuple[Path, ImportSummary], records: dict[str, Trajectory], harbor_job: HarborJob, exported_task_dir: Path
) -> None:
    run, summary = imported
    assert (len(summary.imported), summary.skipped_existing, summary.skipped_unreadable) == (3, [], [])
    assert summary.warnings == []
    assert sorted(records) == ["nop", "oracle", "terminus-2"]
    terminus = records["terminus-2"]
    assert terminus.episode_id == f"{TASK_ID}#harbor-{harbor_job.trials['terminus-2'].name}"
    assert (terminus.task_id, terminus.source, terminus.termination_reason) == (TASK_ID, "harbor", "imported")
    assert (terminus.repo, terminus.category) == ("inventory", "shared-library")
    assert terminus.task_path == str(exported_task_dir)
    assert terminus.sampling.model == "openai/scripted-model"
    assert terminus.sampling.base_url == harbor_job.base_url
    assert terminus.started_at < terminus.finished_at
    assert len((run / TRAJECTORIES_FILE).read_text().splitlines()) == 3


def test_terminus_steps_become_openai_messages_with_tool_calls_and_tool_results(
    records: dict[str, Trajectory], exported_task_dir: Path
) -> None:
    messages = [message.model_dump() for message in records["terminus-2"].messages]  # the wire shape
    roles = " ".join(m["role"] for m in messages)
    assert roles == "user assistant tool assistant tool tool tool assistant tool"
    instruction = (exported_task_dir / "instruction.md").read_text().strip()
    assert instruction.splitlines()[0] in messages[0]["content"]
    assert messages[1]["content"].startswith("Analysis: The tests cannot load sqlite.")
    (look,) = messages[1]["tool_calls"]
    assert look["type"] == "function" and look["function"]["name"] == "bash_command"
    assert json.loads(look["function"]["arguments"])["keystrokes"] == f"ls -l {LIBRARY}\n"
    assert messages[2]["tool_call_id"] == look["id"]
    assert "libsqlite3.so.0 ->" in messages[2]["content"]  # the real terminal output of the container
    names = [call["function"]["name"] for call in messages[3]["tool_calls"]]
    assert names == ["bash_command", "bash_command", "mark_task_complete"]
    assert [m["tool_call_id"] for m in messages[4:7]] == [call["id"] for call in messages[3]["tool_calls"]]
    # Terminus reads the terminal once for the batch; that output answers the batch's first call.
    assert REPAIR in messages[4]["content"] and "ldconfig" in messages[4]["content"]
    assert "mark the task as complete" in messages[4]["content"]
    assert messages[5]["content"] == messages[6]["content"] == ""


def test_the_observations_are_what_the_model_was_sent(records: dict[str, Trajectory], harbor_job: HarborJob) -> None:
    assert len(harbor_job.requests) == 3
    sent = [message["content"] for message in harbor_job.requests[1]["messages"] if message["role"] == "user"]
    first_observation = records["terminus-2"].messages[2].text
    assert any(first_observation.strip() in text for text in sent), sent


def test_each_tool_call_is_a_step_with_its_command_and_each_turn_its_tokens(records: dict[str, Trajectory]) -> None:
    terminus = records["terminus-2"]
    steps = terminus.steps
    assert [(s.index, s.command) for s in steps] == [
        (1, f"ls -l {LIBRARY}"),
        (2, REPAIR),
        (2, "ldconfig"),
        (2, None),
        (3, None),
    ]
    tokens = [(s.prompt_tokens, s.completion_tokens) for s in steps]
    assert tokens == [(1000, 50), (1000, 50), (0, 0), (0, 0), (1000, 50)]
    assert "libsqlite3.so.0 ->" in steps[0].output
    assert [s.tool_call_id for s in steps] == [m.tool_call_id for m in terminus.messages if m.role == "tool"]
    totals = terminus.totals
    assert (totals.steps, totals.commands, totals.prompt_tokens, totals.completion_tokens) == (3, 3, 3000, 150)


def test_the_reward_and_per_test_statuses_come_from_the_trials_verifier(
    records: dict[str, Trajectory], expected_tests: dict[str, list[str]]
) -> None:
    fail_to_pass, pass_to_pass = expected_tests["fail_to_pass"], expected_tests["pass_to_pass"]
    repaired = records["terminus-2"].verifier
    assert repaired is not None and repaired.reward == 1.0 and records["terminus-2"].resolved
    assert (repaired.fail_to_pass, repaired.pass_to_pass) == (fail_to_pass, pass_to_pass)
    assert repaired.tests == dict.fromkeys(fail_to_pass + pass_to_pass, "passed")
    assert "passed" in repaired.output_tail and repaired.seconds > 0
    untouched = records["nop"].verifier
    assert untouched is not None and untouched.reward == 0.0
    # Modules that cannot import sqlite fail at collection: their tests never ran, so they are missing.
    assert {untouched.tests[test] for test in fail_to_pass} == {"failed", "missing"}
    assert untouched.tests["tests/test_archive.py::test_snapshot_is_gzip_compressed"] == "missing"
    assert {untouched.tests[test] for test in pass_to_pass} == {"passed"}


def test_a_trial_without_an_atif_trajectory_keeps_its_verdict_and_no_conversation(
    records: dict[str, Trajectory],
) -> None:
    oracle = records["oracle"]
    assert (oracle.messages, oracle.steps, oracle.totals.steps) == ([], [], 0)
    assert oracle.resolved and oracle.sampling.model == ""
    assert "no ATIF trajectory (agent/trajectory.json)" in oracle.termination_detail


def test_the_filter_keeps_the_repair_and_drops_the_trials_without_one(records: dict[str, Trajectory]) -> None:
    decisions = {d.episode_id: d for d in filter_trajectories(list(records.values()), FilterConfig())}
    assert decisions[records["terminus-2"].episode_id].kept
    assert decisions[records["nop"].episode_id].rule == "verifier_passed"
    assert decisions[records["oracle"].episode_id].rule == "length_bounds"


def test_importing_again_appends_nothing(imported: tuple[Path, ImportSummary], harbor_job: HarborJob) -> None:
    run, first = imported
    before = (run / TRAJECTORIES_FILE).read_text()
    again = import_harbor_jobs([harbor_job.job_dir, harbor_job.trials["terminus-2"]], run)
    assert again.imported == [] and again.skipped_unreadable == []
    assert sorted(again.skipped_existing) == sorted(t.episode_id for t in first.imported)
    assert (run / TRAJECTORIES_FILE).read_text() == before


def test_a_directory_of_jobs_is_searched_for_trials(harbor_job: HarborJob, tmp_path: Path) -> None:
    summary = import_harbor_jobs([harbor_job.job_dir.parent], tmp_path / "run")
    assert len(summary.imported) == 3


def test_a_corrupt_trajectory_file_skips_the_trial_with_a_reason_naming_it(
    harbor_job: HarborJob, tmp_path: Path
) -> None:
    trial = copy_trial(harbor_job, "terminus-2", tmp_path)
    (trial / "agent" / "trajectory.json").write_text('{"schema_version": "ATIF-v1.6", "steps": [')
    summary = import_harbor_jobs([trial], tmp_path / "run")
    (skipped,) = summary.skipped_unreadable
    assert skipped.path == trial.resolve()
    assert skipped.reason.startswith("agent/trajectory.json is not valid")
    assert summary.imported == [] and not (tmp_path / "run" / TRAJECTORIES_FILE).exists()


def test_an_atif_file_without_steps_is_skipped_with_the_field_named(harbor_job: HarborJob, tmp_path: Path) -> None:
    trial = copy_trial(harbor_job, "terminus-2", tmp_path)
    atif_path = trial / "agent" / "trajectory.json"
    atif_path.write_text(json.dumps(json.loads(atif_path.read_text()) | {"steps": []}))
    (skipped,) = import_harbor_jobs([trial.parent], tmp_path / "run").skipped_unreadable
    assert skipped.reason.startswith("agent/trajectory.json is not valid (steps:")


def test_an_unfinished_trial_is_skipped_and_imported_once_it_has_a_result(
    harbor_job: HarborJob, tmp_path: Path
) -> None:
    trial = copy_trial(harbor_job, "nop", tmp_path)
    result = (trial / "result.json").read_text()
    (trial / "result.json").unlink()
    first = import_harbor_jobs([trial], tmp_path / "run")
    assert [s.reason for s in first.skipped_unreadable] == ["result.json is missing (the trial has not finished)"]
    (trial / "result.json").write_text(result)
    assert len(import_harbor_jobs([trial], tmp_path / "run").imported) == 1


def test_a_trial_the_verifier_never_judged_is_skipped(harbor_job: HarborJob, tmp_path: Path) -> None:
    trial = copy_trial(harbor_job, "nop", tmp_path)
    result = json.loads((trial / "result.json").read_text())
    result["verifier_result"] = None
    result["exception_info"] = {"exception_type": "VerifierTimeoutError", "exception_message": "600 s"}
    (trial / "result.json").write_text(json.dumps(result))
    (trial / "verifier" / "reward.txt").unlink()
    (skipped,) = import_harbor_jobs([trial], tmp_path / "run").skipped_unreadable
    assert skipped.reason == (
        "no verifier reward in result.json or verifier/reward.txt (Harbor recorded VerifierTimeoutError)"
    )


def test_a_trial_whose_task_directory_is_gone_keeps_its_reward_and_warns(harbor_job: HarborJob, tmp_path: Path) -> None:
    trial = copy_trial(harbor_job, "terminus-2", tmp_path)
    result = json.loads((trial / "result.json").read_text())
    result["config"]["task"]["path"] = result["task_id"]["path"] = str(tmp_path / "moved-away")
    (trial / "result.json").write_text(json.dumps(result))
    summary = import_harbor_jobs([trial], tmp_path / "run")
    (record,) = summary.imported
    assert record.verifier is not None and record.verifier.reward == 1.0 and record.verifier.tests == {}
    (warning,) = summary.warnings
    assert str(tmp_path / "moved-away") in warning and "per-test statuses" in warning


def test_a_path_that_holds_no_harbor_trial_is_a_user_error(exported_task_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CligymError, match="not a Harbor job or trial directory"):
        import_harbor_jobs([exported_task_dir], tmp_path / "run")
    with pytest.raises(CligymError, match="not a directory"):
        rollout_import([tmp_path / "missing"], out=tmp_path / "run")


def test_the_command_prints_a_summary_per_agent(harbor_job: HarborJob, tmp_path: Path) -> None:
    program = "import typer; from cligym.cli.rollout_import_command import rollout_import; typer.run(rollout_import)"
    argv = [sys.executable, "-c", program, str(harbor_job.job_dir), "--out", str(tmp_path / "run")]
    env = {**os.environ, "COLUMNS": "200"}
    first = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    terminus_row = next(line for line in first.stdout.splitlines() if "terminus-2" in line)
    assert "openai/scripted-model" in terminus_row and "3,150" in terminus_row
    assert "3 trials imported, 0 already recorded, 0 skipped" in first.stdout
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert "0 trials imported, 3 already recorded, 0 skipped" in again.stdout


# -- ATIF as other agents write it: native tool calls, text turns, multimodal content ----------------------


def other_agent_atif() -> dict[str, Any]:
    return {
        "schema_version": "ATIF-v1.6",
        "session_id": "other-agent",
        "agent": {
            "name": "other-agent",
            "version": "1.0",
            "model_name": "scripted-model",
            "tool_definitions": [
                {"name": "bash", "description": "run", "parameters": {"type": "object", "properties": {}}}
            ],
        },
        "steps": [
            {"step_id": 1, "source": "system", "message": "You repair environments."},
            {
                "step_id": 2,
                "source": "user",
                "message": [
                    {"type": "text", "text": "Fix it."},
                    {"type": "image", "source": {"media_type": "image/png", "path": "screen.png"}},
                ],
            },
            {
                "step_id": 3,
                "source": "agent",
                "message": "",
                "reasoning_content": "The link is wrong.",
                "tool_calls": [
                    {"tool_call_id": "a", "function_name": "bash", "arguments": {"command": "ldconfig -p"}},
                    {"tool_call_id": "b", "function_name": "bash", "arguments": {"command": REPAIR}},
                ],
                "observation": {
                    "results": [
                        {"source_call_id": "b", "content": "(no output)"},
                        {"source_call_id": "a", "content": "libsqlite3.so.0 (libc6,x86-64)"},
                    ]
                },
                "metrics": {"prompt_tokens": 700, "completion_tokens": 30},
            },
            {
                "step_id": 4,
                "source": "agent",
                "message": "I should run the tests",
                "observation": {"results": [{"content": "Please call a tool."}]},
                "metrics": {"prompt_tokens": 800, "completion_tokens": 10},
            },
            {"step_id": 5, "source": "agent", "message": "Done: the library link is repaired."},
        ],
        "final_metrics": {"total_prompt_tokens": 1500, "total_completion_tokens": 40},
    }


def validated_by_harbor(harbor_python: Path, atif: dict[str, Any], path: Path) -> None:
    """Writes ``atif`` after Harbor's own pydantic model accepted it: the test data is real ATIF."""
    path.write_text(json.dumps(atif))
    check = (
        "import sys; from harbor.models.trajectories import Trajectory; "
        "Trajectory.model_validate_json(open(sys.argv[1]).read())"
    )
    completed = subprocess.run([str(harbor_python), "-c", check, str(path)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_native_tool_calls_text_turns_and_media_convert_too(
    harbor_job: HarborJob, harbor_python: Path, tmp_path: Path
) -> None:
    trial = copy_trial(harbor_job, "terminus-2", tmp_path)
    validated_by_harbor(harbor_python, other_agent_atif(), trial / "agent" / "trajectory.json")
    (record,) = import_harbor_jobs([trial], tmp_path / "run").imported
    roles = " ".join(m.role for m in record.messages)
    assert roles == "system user assistant tool tool assistant user assistant"
    assert record.messages[1].content == "Fix it.\n[image: screen.png]"
    assert record.messages[2].reasoning_content == "The link is wrong."
    assert [(m.tool_call_id, m.content) for m in record.messages[3:5]] == [
        ("a", "libsqlite3.so.0 (libc6,x86-64)"),
        ("b", "(no output)"),
    ]
    assert record.messages[6].model_dump() == {"role": "user", "content": "Please call a tool."}
    assert record.tools == [{"type": "function", "function": other_agent_atif()["agent"]["tool_definitions"][0]}]
    assert [(s.index, s.command, s.output) for s in record.steps] == [
        (1, "ldconfig -p", "libsqlite3.so.0 (libc6,x86-64)"),
        (1, REPAIR, "(no output)"),
        (2, None, "Please call a tool."),
        (3, None, ""),
    ]
    assert (record.totals.steps, record.totals.commands, record.totals.tokens) == (3, 2, 1540)
    assert record.action_format == "tool"
