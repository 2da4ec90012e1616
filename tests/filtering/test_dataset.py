"""`cligym dataset` on a real scripted rollout (tests/filtering/conftest.py): the chat dataset round-trips
through every format it is saved in, splits by task, renders through chat templates with and without tool
support, the tasks dataset mirrors the task directories, and --push speaks the Hub's HTTP API (a recording
server on 127.0.0.1 stands in for the Hub)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from huggingface_hub import DatasetCard
from typer.testing import CliRunner

from cligym.errors import CligymError
from cligym.filtering.chat import chat_record
from cligym.filtering.dataset import (
    KEPT_PATH,
    build_dataset,
    push_dataset,
    read_kept_ids,
    split_tasks,
    tasks_dataset,
)
from cligym.llm import ChatMessage
from cligym.rollout.trajectory import Trajectory, read_trajectories
from cligym.training.data import clean_messages
from tests.filtering.conftest import TASK
from tests.filtering.hub_stand_in import HubRecord
from tests.filtering.hub_stand_in import hub as hub

pytestmark = [pytest.mark.docker, pytest.mark.slow]

datasets = pytest.importorskip("datasets")

REPO = Path(__file__).resolve().parents[2]
RUN_COMMAND = "import typer; from cligym.cli.dataset_command import dataset; typer.run(dataset)"
MESSAGE_KEYS = {"role", "content", "reasoning_content", "tool_calls", "tool_call_id", "name"}
# Qwen/Hermes style: tool schemas in the system turn, calls as <tool_call>{json}</tool_call>, results wrapped in
# <tool_response> inside a user turn.
TOOL_TEMPLATE = """
{%- if messages[0].role == 'system' or tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}{% endif %}
{%- if tools %}

Functions you may call:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>
{%- endif %}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% elif message.role != 'system' %}<|im_start|>{{ message.role }}
{{ message.content }}
{%- for call in message.tool_calls or [] %}
<tool_call>
{"name": {{ call.function.name | tojson }}, "arguments": {% if call.function.arguments is string %}
{{- call.function.arguments }}{% else %}{{ call.function.arguments | tojson }}{% endif %}}
</tool_call>
{%- endfor %}<|im_end|>
{% endif %}
{%- endfor %}
""".strip()
# Llama 3.1 style: one call per assistant message, its arguments encoded with `tojson` (a JSON string there
# would be encoded a second time), results as `ipython` turns; any message holding a tool_calls key counts as
# a call, so empty keys must be dropped first (training/data.py's clean_messages).
LLAMA_TEMPLATE = """
{%- for message in messages %}
{%- if message.role == 'tool' %}<|start_header_id|>ipython<|end_header_id|>

{{ message.content | tojson }}<|eot_id|>
{%- elif 'tool_calls' in message %}
{%- if message.tool_calls | length != 1 %}{{ raise_exception('only single tool calls') }}{% endif %}
{%- set call = message.tool_calls[0].function %}<|start_header_id|>assistant<|end_header_id|>

{{ '{"name": "' + call.name + '", "parameters": ' }}{{ call.arguments | tojson }}}<|eot_id|>
{%- else %}<|start_header_id|>{{ message.role }}<|end_header_id|>

{{ message.content | trim }}<|eot_id|>
{%- endif %}
{%- endfor %}
""".strip()
# No tools, and strict the way older templates are: only system/user/assistant, user and assistant alternating.
PLAIN_TEMPLATE = """
{%- set offset = 1 if messages[0].role == 'system' else 0 %}
{%- for message in messages %}
{%- if message.role not in ['system', 'user', 'assistant'] or message.tool_calls is defined %}
{{- raise_exception('this template has no tool support') }}
{%- endif %}
{%- if message.role != 'system' and (message.role == 'user') != ((loop.index0 - offset) % 2 == 0) %}
{{- raise_exception('user and assistant must alternate') }}
{%- endif %}
{{- '[' ~ message.role | upper ~ ']\n' ~ message.content ~ '\n' }}
{%- endfor %}
""".strip()


@pytest.fixture(scope="module")
def kept_run(rollout_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the rollout run with the filter's output faked: every resolved episode kept (the filter's
    own tests check what it keeps; here only the contract, RUN/filter/kept.txt, matters)."""
    run = tmp_path_factory.mktemp("dataset-run") / "run"
    run.mkdir()
    shutil.copy(rollout_run / "trajectories.jsonl", run / "trajectories.jsonl")
    (run / KEPT_PATH).parent.mkdir()
    kept = sorted(t.episode_id for t in read_trajectories(run) if t.resolved)
    (run / KEPT_PATH).write_text("".join(f"{episode}\n" for episode in kept))
    return run


@pytest.fixture(scope="module")
def trajectories(kept_run: Path) -> dict[str, Trajectory]:
    return {t.episode_id: t for t in read_trajectories(kept_run)}


@pytest.fixture(scope="module")
def out(kept_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cligym dataset RUN --out OUT` with the default validation share."""
    app = typer.Typer()
    app.command()(dataset_command())
    out = tmp_path_factory.mktemp("dataset-out")
    result = CliRunner().invoke(app, [str(kept_run), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "validation" in result.output and "train" in result.output
    return out


def dataset_command() -> Any:
    from cligym.cli.dataset_command import dataset

    return dataset


def loaded(out: Path) -> Any:
    return datasets.load_from_disk(str(out / "chat" / "hf"))


def test_the_chat_dataset_round_trips_through_disk_parquet_jsonl_and_the_card(
    out: Path, kept_run: Path, tmp_path: Path
) -> None:
    chat = loaded(out)
    kept = read_kept_ids(kept_run)
    assert sorted(episode for split in chat.values() for episode in split["episode_id"]) == sorted(kept)
    assert len(kept) == 12
    for split, rows in chat.items():
        expected = rows.to_list()
        assert datasets.Dataset.from_parquet(str(out / "chat" / "parquet" / f"{split}.parquet")).to_list() == expected
        lines = (out / "chat" / "jsonl" / f"{split}.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in lines] == expected
    # The card's front matter is what the Hub (and load_dataset on the directory) reads.
    card = (out / "chat" / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    files = {entry["split"]: entry["path"] for entry in front["configs"][0]["data_files"]}
    assert files == {split: f"parquet/{split}.parquet" for split in chat}
    # A cache of its own: the shared one may hold an earlier "chat" directory's tables under the same key.
    from_card = datasets.load_dataset(str(out / "chat"), cache_dir=str(tmp_path))
    assert {split: rows.to_list() for split, rows in from_card.items()} == {s: r.to_list() for s, r in chat.items()}
    assert "Qwen/Qwen3-8B (12)" in card and "shared-library (12)" in card


def test_no_task_is_in_both_splits_and_the_split_is_deterministic(out: Path, trajectories: dict) -> None:
    chat = loaded(out)
    train, validation = set(chat["train"]["task_id"]), set(chat["validation"]["task_id"])
    assert train and validation and not train & validation
    # The hinted variant is the same broken environment as its task: both on one side.
    assert {TASK, f"{TASK}-hinted"} <= train or {TASK, f"{TASK}-hinted"} <= validation
    resolved = [t for t in trajectories.values() if t.resolved]
    again = build_dataset(resolved, validation_share=0.1, seed=0)
    assert {split: rows["episode_id"] for split, rows in again.items()} == {s: r["episode_id"] for s, r in chat.items()}

    ids = [f"task-{n}" for n in range(20)]
    first = split_tasks(ids, 0.1, seed=3)
    assert first == split_tasks(reversed(ids), 0.1, seed=3)
    assert len(first[1]) == 2 and not set(first[0]) & set(first[1]) and set(first[0]) | set(first[1]) == set(ids)
    assert len(split_tasks(ids[:2], 0.01, seed=0)[1]) == 1  # two tasks: one is still held out
    assert split_tasks(ids[:1], 0.5, seed=0) == (ids[:1], [])
    assert split_tasks(ids, 0.0, seed=0) == (sorted(ids), [])
    paired = [*ids[:5], *(f"{task}-hinted" for task in ids[:5])]
    for seed in range(10):
        kept, held = split_tasks(paired, 0.4, seed=seed)
        assert len(held) == 4 and all(f"{task}-hinted" in held for task in held if not task.endswith("-hinted"))
        assert {task.removesuffix("-hinted") for task in kept}.isdisjoint(task.removesuffix("-hinted") for task in held)
    single = build_dataset([t for t in resolved if t.task_id == resolved[0].task_id])
    assert list(single) == ["train"]


def test_rows_have_one_type_per_key_and_the_trajectorys_metadata(out: Path, trajectories: dict) -> None:
    for rows in loaded(out).values():
        for row in rows:
            trajectory = trajectories[row["episode_id"]]
            assert json.loads(row["tools"]) == trajectory.tools
            assert len(row["messages"]) == len(trajectory.messages)
            for message, original in zip(row["messages"], trajectory.messages, strict=True):
                assert set(message) == MESSAGE_KEYS
                assert all(isinstance(message[key], str) for key in MESSAGE_KEYS - {"tool_calls"})
                assert message["content"] == original.text
                assert message["tool_calls"] == [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.parsed_arguments()}}
                    for c in original.tool_calls
                ]
                if message["role"] == "tool":
                    assert message["name"] in ("bash", "submit") and message["tool_call_id"]
            assert (row["task_id"], row["repo"], row["category"], row["model"]) == (
                trajectory.task_id,
                trajectory.repo,
                trajectory.category,
                trajectory.sampling.model,
            )
            assert (row["steps"], row["tokens"], row["reward"]) == (
                trajectory.totals.steps,
                trajectory.totals.tokens,
                1.0,
            )
            assert (row["source"], row["agent"], row["action_format"]) == ("cligym", "cligym", "tool")


def chat_tokenizer(texts: list[str], template: str) -> Any:
    """A byte-level BPE trained on the dataset's own text, wrapped with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["<unk>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=500, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", unk_token="<unk>", chat_template=template
    )


def all_rows(out: Path) -> list[dict[str, Any]]:
    return [row for rows in loaded(out).values() for row in rows]


def test_a_tool_calling_template_renders_every_call_and_every_output(out: Path, trajectories: dict) -> None:
    rows = all_rows(out)
    tokenizer = chat_tokenizer([row["text"] for row in rows], TOOL_TEMPLATE)
    for row in rows:
        rendered = tokenizer.apply_chat_template(row["messages"], tools=json.loads(row["tools"]), tokenize=False)
        assert '"name": "bash"' in rendered and '"name": "submit"' in rendered  # the schemas
        calls = [call for message in row["messages"] for call in message["tool_calls"]]
        commands = []
        for call in calls:
            arguments = call["function"]["arguments"]
            assert isinstance(arguments, dict)
            assert json.dumps(arguments, ensure_ascii=False) in rendered
            assert f'{{"name": "{call["function"]["name"]}", "arguments": ' in rendered
            if call["function"]["name"] == "bash":
                commands.append(arguments["command"])
        steps = [step for step in trajectories[row["episode_id"]].steps if step.command is not None]
        assert commands == [step.command for step in steps]
        for message in row["messages"]:
            if message["role"] == "tool":
                assert f"<tool_response>\n{message['content']}\n</tool_response>" in rendered
        for step in steps:
            assert step.output in rendered
        ids = tokenizer.apply_chat_template(row["messages"], tools=json.loads(row["tools"]), tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        assert tokenizer.decode(ids) == rendered  # byte-level: nothing lost on the way to tokens


def test_a_template_that_encodes_the_arguments_itself_gets_objects(out: Path) -> None:
    rows = all_rows(out)
    tokenizer = chat_tokenizer([row["text"] for row in rows], LLAMA_TEMPLATE)
    for row in rows:
        rendered = tokenizer.apply_chat_template(clean_messages(row["messages"]), tokenize=False)
        calls = [call["function"] for message in row["messages"] for call in message["tool_calls"]]
        for call in calls:
            encoded = json.dumps(call["arguments"], ensure_ascii=False)
            assert f'{{"name": "{call["name"]}", "parameters": {encoded}}}' in rendered
        assert '"parameters": "' not in rendered  # no argument encoded twice


def test_the_plain_variants_render_without_tool_support(out: Path, trajectories: dict) -> None:
    rows = all_rows(out)
    tokenizer = chat_tokenizer([row["text"] for row in rows], PLAIN_TEMPLATE)
    with pytest.raises(Exception, match="no tool support"):
        tokenizer.apply_chat_template(rows[0]["messages"], tokenize=False)
    for row in rows:
        rendered = tokenizer.apply_chat_template(row["messages_text"], tokenize=False)
        steps = [step for step in trajectories[row["episode_id"]].steps if step.command is not None]
        for step in steps:
            assert f"```bash\n{step.command}\n```" in rendered
            assert f"```bash\n{step.command}\n```" in row["text"]
            assert step.output in rendered
            assert f"Output:\n```\n{step.output}\n```" in row["text"]
        system, last = row["messages_text"][0], row["messages_text"][-1]
        # The system prompt asks for the text format it is shown in, not for tools.
        assert "DONE" in system["content"] and "`submit`" not in system["content"]
        assert last["role"] == "assistant" and last["content"].endswith("DONE")
        assert row["text"].startswith("System:\n") and "\n\nUser:\n" in row["text"]


def test_a_text_format_trajectory_is_already_plain(trajectories: dict) -> None:
    tool = next(t for t in trajectories.values() if t.resolved)
    as_text = chat_record(tool)["messages_text"]
    messages = [ChatMessage.model_validate(message) for message in as_text]
    text_format = tool.model_copy(update={"action_format": "text", "tools": [], "messages": messages})
    record = chat_record(text_format)
    assert record["tools"] == "null"
    assert all(message["tool_calls"] == [] for message in record["messages"])
    assert record["messages_text"] == as_text
    assert record["text"] == chat_record(tool)["text"]
    assert datasets.Dataset.from_list([record, chat_record(tool)]).num_rows == 2  # one schema for both


def test_the_tasks_dataset_mirrors_the_task_directories(
    out: Path, trajectories: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = datasets.load_from_disk(str(out / "tasks" / "hf"))["train"]
    chat = loaded(out)
    assert datasets.Dataset.from_parquet(str(out / "tasks" / "parquet" / "train.parquet")).to_list() == tasks.to_list()
    directories = {t.task_id: Path(t.task_path) for t in trajectories.values()}
    assert sorted(tasks["task_id"]) == sorted(directories)
    for row in tasks:
        directory = directories[row["task_id"]]
        assert row["instruction"] == (directory / "instruction.md").read_text()
        assert row["dockerfile"] == (directory / "environment" / "Dockerfile").read_text()
        assert row["test_script"] == (directory / "tests" / "test.sh").read_text()
        assert row["solution"] == (directory / "solution" / "solve.sh").read_text()
        assert row["expected"] == json.loads((directory / "tests" / "expected.json").read_text())
        assert row["expected"]["fail_to_pass"]
        assert (row["repo"], row["category"]) == ("inventory", "shared-library")
        assert row["chat_split"] in chat and row["task_id"] in chat[row["chat_split"]]["task_id"]
    assert sorted(tasks["difficulty"]) == ["hinted", "symptom-only", "symptom-only"]

    with caplog.at_level(logging.WARNING):
        again = tasks_dataset([tmp_path / "gone", *directories.values()])
    assert "1 task directories" in caplog.text
    assert again.num_rows == 3


def test_missing_filter_output_and_missing_token_are_clear_errors(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CligymError) as missing:
        read_kept_ids(tmp_path)
    assert missing.value.hint == "run `cligym filter RUN` first"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(CligymError) as no_token:
        push_dataset(loaded(out), "my-org/repairs", private=True, token=None)
    assert "no Hugging Face token" in no_token.value.message and "HF_TOKEN" in str(no_token.value.hint)
    with pytest.raises(CligymError, match="not a Hub dataset id"):
        push_dataset(loaded(out), "repairs", private=True, token="hf_x")


def test_push_uploads_the_chat_and_tasks_datasets_as_private_repos(
    hub: tuple[str, HubRecord], kept_run: Path, out: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    endpoint, recorded = hub
    # In a fresh process: the Hub client reads its endpoint when imported. Xet off: the stand-in speaks LFS.
    env = os.environ | {"HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": "hf_recorded"}
    command = [sys.executable, "-c", RUN_COMMAND, str(kept_run), "--out", str(tmp_path), "--push", "my-org/repairs"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pushed the tasks to https://huggingface.co/datasets/my-org/repairs-tasks" in result.stdout

    assert set(recorded.created) == {"my-org/repairs", "my-org/repairs-tasks"}
    assert all(request["visibility"] == "private" for request in recorded.created.values())
    assert recorded.tokens == {"Bearer hf_recorded"}
    chat, tasks = loaded(out), datasets.load_from_disk(str(out / "tasks" / "hf"))
    for repo, local in (("my-org/repairs", chat), ("my-org/repairs-tasks", tasks)):
        shards = {
            op["value"]["path"]: op["value"]["oid"]
            for commit in recorded.commits[repo]
            for op in commit
            if op["key"] == "lfsFile" and op["value"]["path"].startswith("data/")
        }
        assert {path.split("/")[1].split("-")[0] for path in shards} == set(local)
        for path, oid in shards.items():
            # Read as the Hub's loader does: the features in the parquet metadata decode the Json arguments.
            uploaded = datasets.Dataset(pq.read_table(BytesIO(recorded.uploads[oid]))).to_list()
            assert uploaded == local[path.split("/")[1].split("-")[0]].to_list()
    # Each card went up after its data, over push_to_hub's own README.
    for repo, folder in (("my-org/repairs", "chat"), ("my-org/repairs-tasks", "tasks")):
        card = DatasetCard(recorded.files(repo)["README.md"].decode())
        assert card.text == DatasetCard((tmp_path / folder / "README.md").read_text()).text
        assert card.data.to_dict()["dataset_info"]["splits"]
