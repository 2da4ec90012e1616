"""Hugging Face datasets from a filtered rollout run: the chat dataset (one row per kept trajectory, see
filtering/chat.py) split into train and validation by task, and the tasks dataset (one row per task, what
an RL setup needs to rebuild and judge the environment).

On disk (``save_dataset``): ``hf/`` (``save_to_disk``, what ``cligym train`` loads), ``parquet/SPLIT.parquet``
and ``jsonl/SPLIT.jsonl`` (for other tools), and a ``README.md`` dataset card whose YAML front matter points
the Hub at the parquet files, so the directory can be uploaded as it is.

``datasets`` is imported where it is used: it comes with the ``[data]`` extra, and the CLI imports this
module's command for ``--help`` on installs without it.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cligym.errors import CligymError, ConfigError
from cligym.filtering.chat import CHAT_COLUMNS, chat_record
from cligym.generation.export.task_toml import TASK_TOML
from cligym.generation.task_record import broken_environment_of
from cligym.rollout.task_dir import RolloutTask, load_task
from cligym.rollout.trajectory import Trajectory

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

# Written by `cligym filter` (filtering/filter_run.py): the kept episode ids, one per line.
KEPT_PATH = Path("filter") / "kept.txt"
TRAIN, VALIDATION = "train", "validation"
# Hub license ids: https://huggingface.co/docs/hub/repositories-licenses ("unknown" is one of them).
DEFAULT_LICENSE = "unknown"
# The Hub's size buckets, as datasets lists them (datasets/utils/resources/size_categories.json).
SIZE_CATEGORIES = (
    "n<1K",
    "1K<n<10K",
    "10K<n<100K",
    "100K<n<1M",
    "1M<n<10M",
    "10M<n<100M",
    "100M<n<1B",
    "1B<n<10B",
    "10B<n<100B",
    "100B<n<1T",
    "n>1T",
)
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def read_kept_ids(run_dir: Path) -> list[str]:
    """The kept episode ids in the filter's order, each once."""
    path = run_dir / KEPT_PATH
    if not path.is_file():
        raise CligymError(f"{run_dir} has no {KEPT_PATH}", "run `cligym filter RUN` first")
    return list(dict.fromkeys(line.strip() for line in path.read_text().splitlines() if line.strip()))


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise CligymError(
            "building datasets needs the Hugging Face `datasets` library", "pip install 'cligym[data]'"
        ) from None
    return datasets


def chat_features() -> datasets.Features:
    """The chat dataset's schema, fixed so every build (and an empty split) has the same one."""
    ds = _datasets()
    string = ds.Value("string")
    call = {"id": string, "type": string, "function": {"name": string, "arguments": ds.Json()}}
    message = {
        "role": string,
        "content": string,
        "reasoning_content": string,
        "tool_calls": ds.List(call),
        "tool_call_id": string,
        "name": string,
    }
    columns: dict[str, Any] = {
        "messages": ds.List(message),
        "tools": string,
        "messages_text": ds.List({"role": string, "content": string}),
        "text": string,
        "steps": ds.Value("int64"),
        "tokens": ds.Value("int64"),
        "reward": ds.Value("float64"),
    }
    return ds.Features({name: columns.get(name, string) for name in CHAT_COLUMNS})


def tasks_features() -> datasets.Features:
    ds = _datasets()
    string = ds.Value("string")
    return ds.Features(
        {
            "task_id": string,
            "repo": string,
            "category": string,
            "difficulty": string,
            "instruction": string,
            "dockerfile": string,
            "test_script": string,
            "expected": {"fail_to_pass": ds.List(string), "pass_to_pass": ds.List(string)},
            "solution": string,
            "chat_split": string,
        }
    )


def split_tasks(task_ids: Iterable[str], validation_share: float, seed: int) -> tuple[list[str], list[str]]:
    """Train and validation task ids, split by broken environment: a task and its hinted variant land in the
    same split, and the share counts environments. With two environments or more and a positive share, at
    least one is held out and at least one kept for training; the same ids and seed give the same split."""
    if not 0.0 <= validation_share < 1.0:
        raise CligymError(f"validation share {validation_share} is not in [0, 1)", "e.g. --validation-share 0.1")
    tasks = sorted(set(task_ids))
    environments = sorted({broken_environment_of(task) for task in tasks})
    random.Random(seed).shuffle(environments)
    held_out = round(validation_share * len(environments))
    if validation_share > 0 and len(environments) >= 2:
        held_out = min(max(held_out, 1), len(environments) - 1)
    validation = set(environments[:held_out])
    return (
        [task for task in tasks if broken_environment_of(task) not in validation],
        [task for task in tasks if broken_environment_of(task) in validation],
    )


def build_dataset(trajectories: list[Trajectory], validation_share: float = 0.1, seed: int = 0) -> datasets.DatasetDict:
    """``train`` and ``validation`` splits, no task in both and a task's hinted variant with it (several
    trajectories of one broken environment would otherwise let validation measure memorisation). Rows are
    ordered by task and sample. The validation split is left out when no task is held out (a single broken
    environment, or a share of 0)."""
    ds = _datasets()
    if not trajectories:
        raise CligymError("no trajectories to build a dataset from", "check that `cligym filter RUN` kept some")
    _, validation_tasks = split_tasks((t.task_id for t in trajectories), validation_share, seed)
    held_out = set(validation_tasks)
    ordered = sorted(trajectories, key=lambda t: (t.task_id, t.sample, t.episode_id))
    features = chat_features()
    splits = {TRAIN: [t for t in ordered if t.task_id not in held_out]}
    if held_out:
        splits[VALIDATION] = [t for t in ordered if t.task_id in held_out]
    return ds.DatasetDict(
        {name: ds.Dataset.from_list([chat_record(t) for t in rows], features=features) for name, rows in splits.items()}
    )


def task_split_map(dataset_dict: datasets.DatasetDict) -> dict[str, str]:
    """task id -> the chat split its trajectories are in."""
    return {task: split for split, rows in dataset_dict.items() for task in rows["task_id"]}


@dataclass(frozen=True)
class TaskDirs:
    found: list[Path]
    missing: list[str]  # task paths recorded in trajectories that are no longer task directories


def trajectory_task_dirs(trajectories: Iterable[Trajectory]) -> TaskDirs:
    """The task directories the trajectories ran, each once; Harbor imports and moved runs may lack them."""
    found: dict[Path, None] = {}
    missing: dict[str, None] = {}
    for trajectory in trajectories:
        path = Path(trajectory.task_path) if trajectory.task_path else None
        if path is not None and (path / TASK_TOML).is_file():
            found[path] = None
        else:
            missing[trajectory.task_path or f"({trajectory.task_id}: no task path)"] = None
    return TaskDirs(list(found), list(missing))


def tasks_dataset(task_dirs: Iterable[Path], chat_split: Mapping[str, str] | None = None) -> datasets.Dataset:
    """One row per task directory (each task once, by id, in id order): the instruction, the Dockerfile, the
    verifier script and its expected tests, and the oracle solution. ``chat_split`` (task id -> split, see
    ``task_split_map``) marks which chat split holds each task's trajectories, so RL can hold the same tasks
    out. Directories that do not exist are skipped with a logged warning."""
    ds = _datasets()
    tasks: dict[str, RolloutTask] = {}
    skipped = 0
    for directory in task_dirs:
        if not (directory / TASK_TOML).is_file():
            skipped += 1
            continue
        task = load_task(directory)
        tasks.setdefault(task.task_id, task)
    if skipped:
        log.warning("%d task directories do not exist or hold no %s; skipped", skipped, TASK_TOML)
    rows = []
    for task_id in sorted(tasks):
        task = tasks[task_id]
        solution = task.path / "solution" / "solve.sh"
        rows.append(
            {
                "task_id": task.task_id,
                "repo": task.repo,
                "category": task.category,
                "difficulty": task.difficulty,
                "instruction": task.instruction,
                "dockerfile": (task.environment_dir / "Dockerfile").read_text(),
                "test_script": (task.tests_dir / "test.sh").read_text(),
                "expected": {"fail_to_pass": list(task.fail_to_pass), "pass_to_pass": list(task.pass_to_pass)},
                "solution": solution.read_text() if solution.is_file() else "",
                "chat_split": (chat_split or {}).get(task.task_id, ""),
            }
        )
    return ds.Dataset.from_list(rows, features=tasks_features())


def save_dataset(dataset_dict: datasets.DatasetDict, out_dir: Path, card: str | None = None) -> Path:
    """``hf/`` (save_to_disk), ``parquet/SPLIT.parquet``, ``jsonl/SPLIT.jsonl`` and ``README.md`` (``card``,
    by default the chat dataset's card) under ``out_dir``; returns ``out_dir``."""
    ds = _datasets()
    out_dir.mkdir(parents=True, exist_ok=True)
    for folder in ("parquet", "jsonl"):
        (out_dir / folder).mkdir(exist_ok=True)
    # A bar per file for a few megabytes is noise in the CLI's summary; the caller's setting comes back after.
    bars_were_on = ds.is_progress_bar_enabled()
    ds.disable_progress_bars()
    try:
        dataset_dict.save_to_disk(str(out_dir / "hf"))
        for split, rows in dataset_dict.items():
            rows.to_parquet(str(out_dir / "parquet" / f"{split}.parquet"))
            # Written here rather than with to_json, whose pandas writer escapes every "/" in paths and commands.
            with (out_dir / "jsonl" / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if bars_were_on:
            ds.enable_progress_bars()
    (out_dir / "README.md").write_text(card if card is not None else chat_card(dataset_dict))
    return out_dir


def _size_category(rows: int) -> str:
    """The Hub's size bucket (its validator knows only these names), one per power of ten from 1K."""
    return SIZE_CATEGORIES[min(max(len(str(rows)) - 3, 0), len(SIZE_CATEGORIES) - 1)]


def _front_matter(dataset_dict: datasets.DatasetDict, tags: list[str], license: str) -> str:
    rows = sum(len(split) for split in dataset_dict.values())
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in dataset_dict:
        lines += [f"  - split: {split}", f"    path: parquet/{split}.parquet"]
    lines += [f"license: {license}", "task_categories:", "- text-generation", "tags:", *(f"- {tag}" for tag in tags)]
    lines += ["size_categories:", f"- {_size_category(rows)}", "---", ""]
    return "\n".join(lines)


def _counts(values: Iterable[str]) -> str:
    counted = Counter(value or "(none)" for value in values)
    return ", ".join(f"{value} ({n})" for value, n in sorted(counted.items(), key=lambda item: (-item[1], item[0])))


def chat_card(dataset_dict: datasets.DatasetDict, made_from: str = "", license: str = DEFAULT_LICENSE) -> str:
    """The chat dataset's card: counts, models, categories, columns and how it was made; ``license`` is a Hub
    license id (the trajectories quote the repaired projects' code, so only the user can say which applies)."""
    split_lines = [
        f"| {split} | {len(rows)} | {len(set(rows['task_id']))} | {sum(rows['tokens']):,} |"
        for split, rows in dataset_dict.items()
    ]
    every = [row for rows in dataset_dict.values() for row in rows.select_columns(["model", "category", "repo"])]
    source = f" from `{made_from}`" if made_from else ""
    return "\n".join(
        [
            _front_matter(dataset_dict, ["cligym", "agent-trajectories", "tool-calling", "sft"], license),
            "# cligym repair trajectories",
            "",
            f"Agent trajectories that repaired a deliberately broken software environment, made{source} by "
            "`cligym rollout`, kept by `cligym filter` (the task's verifier passed; no test tampering, no episode "
            "ended by a limit, duplicates collapsed) and turned into chat format by `cligym dataset`.",
            "",
            "| split | rows | tasks | tokens |",
            "|---|---:|---:|---:|",
            *split_lines,
            "",
            "Splits are by task: no task has trajectories in both.",
            "",
            f"- models: {_counts(row['model'] for row in every)}",
            f"- categories: {_counts(row['category'] for row in every)}",
            f"- repositories: {_counts(row['repo'] for row in every)}",
            "",
            "## Columns",
            "",
            "- `messages`: the conversation as the model saw it (OpenAI-style, assistant `tool_calls` whose "
            "`arguments` are JSON objects (the `Json` type), `tool` results); every message has every key, empty "
            'ones as `""` or `[]`.',
            "- `tools`: the tool schemas as a JSON string (`null` without tools); TRL's SFT trainer decodes it.",
            "- `messages_text`: the same conversation without tool calls (commands as fenced bash blocks, results as "
            "user messages, `DONE` to finish) for chat templates without tool support.",
            "- `text`: the conversation as one plain string.",
            "- `episode_id`, `task_id`, `repo`, `category`, `model`, `steps`, `tokens`, `reward`, `source`, `agent`, "
            "`action_format`: where each row came from.",
            "",
            "Load with `datasets.load_dataset(DIR)` (the parquet files named above) or "
            "`datasets.load_from_disk(DIR + '/hf')`.",
            "",
        ]
    )


def tasks_card(tasks: datasets.Dataset, made_from: str = "", license: str = DEFAULT_LICENSE) -> str:
    source = f" of `{made_from}`" if made_from else ""
    return "\n".join(
        [
            _front_matter(_datasets().DatasetDict({TRAIN: tasks}), ["cligym", "environment-repair", "rl"], license),
            "# cligym repair tasks",
            "",
            f"{len(tasks)} broken-environment repair tasks{source}, one row per Harbor task directory exported by "
            "`cligym generate`: the `instruction` the agent gets, the task's `dockerfile` (its build context, "
            "`environment/` of the task directory, is not included), the verifier `test_script` with the "
            "`expected` fail-to-pass and pass-to-pass tests, and the oracle `solution`. `chat_split` names the "
            "chat dataset split holding the task's trajectories (empty when none were kept), so RL can hold out "
            "the same tasks.",
            "",
            f"- categories: {_counts(tasks['category'])}",
            f"- repositories: {_counts(tasks['repo'])}",
            "",
        ]
    )


def push_dataset(
    dataset_dict: datasets.DatasetDict,
    repo_id: str,
    private: bool = True,
    token: str | None = None,
    card: str | None = None,
) -> None:
    """Upload to the Hub as ``repo_id`` (``ORG/NAME``), then ``card`` (``chat_card``/``tasks_card``) as its
    README. ``token`` defaults to the one huggingface_hub finds (``$HF_TOKEN``, the file at ``$HF_TOKEN_PATH``
    or ``$HF_HOME/token``, which ``hf auth login`` writes)."""
    if not _REPO_ID.match(repo_id):
        raise ConfigError(f"{repo_id!r} is not a Hub dataset id", "pass ORG/NAME, e.g. --push my-org/cligym-sft")
    import huggingface_hub

    token = token or huggingface_hub.get_token()
    if not token:
        raise ConfigError(
            f"no Hugging Face token to push {repo_id} with",
            "pass --token, set HF_TOKEN, or log in with `hf auth login` (it writes $HF_HOME/token, "
            "~/.cache/huggingface/token by default; HF_TOKEN_PATH names another file); the token needs write access",
        )
    with _hub_errors(repo_id):
        commit = dataset_dict.push_to_hub(repo_id, private=private, token=token)
        if card is not None:
            _push_card(repo_id, card, token, commit.oid if commit is not None else None)


def _push_card(repo_id: str, card: str, token: str, revision: str | None) -> None:
    """``card`` as the repository's README, over the one ``push_to_hub`` just wrote: that one's
    ``dataset_info`` and ``configs`` stay, since they describe the files it uploaded (``data/SPLIT-*``, where
    our card names the local ``parquet/`` layout) and the Hub's viewer and loader read them; ours gives the
    text and the rest of the metadata (license, task categories, tags, size)."""
    from huggingface_hub import DatasetCard, hf_hub_download

    written = hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision, token=token)
    metadata = DatasetCard(Path(written).read_text(encoding="utf-8")).data
    ours = DatasetCard(card)
    for key, value in ours.data.to_dict().items():
        if key != "configs":
            metadata[key] = value
    ours.data = metadata
    try:
        ours.push_to_hub(
            repo_id, token=token, repo_type="dataset", commit_message="Dataset card", parent_commit=revision
        )
    except ValueError as exc:  # the Hub's YAML check refused the card's metadata
        raise CligymError(f"the Hub rejects the dataset card of {repo_id}: {exc}") from None


@contextmanager
def _hub_errors(repo_id: str) -> Iterator[None]:
    import importlib.util

    from huggingface_hub.errors import HfHubHTTPError

    # The Hub client's HTTP library: httpx before huggingface_hub 2, its fork httpx2 since.
    transport_errors = tuple(
        importlib.import_module(name).HTTPError for name in ("httpx", "httpx2") if importlib.util.find_spec(name)
    )
    try:
        yield
    except HfHubHTTPError as exc:
        raise CligymError(
            f"pushing {repo_id} to the Hub failed: {exc}", "check that the token may write to the organisation"
        ) from None
    except (*transport_errors, OSError) as exc:
        raise CligymError(
            f"pushing {repo_id} to the Hub failed: {exc}", "check the network (and HF_ENDPOINT, if it is set)"
        ) from None
