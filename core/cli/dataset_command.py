"""`cligym dataset RUN --out DIR`: the kept trajectories of a filtered run as a chat dataset, and the run's
tasks as a tasks dataset, saved locally and optionally pushed to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cligym.cli.context import console
from cligym.errors import CligymError
from cligym.filtering.dataset import (
    DEFAULT_LICENSE,
    TRAIN,
    build_dataset,
    chat_card,
    push_dataset,
    read_kept_ids,
    save_dataset,
    task_split_map,
    tasks_card,
    tasks_dataset,
    trajectory_task_dirs,
)
from cligym.rollout.trajectory import read_trajectories

EXAMPLES = """
Examples:

  cligym dataset runs/demo-rollout --out runs/demo-dataset

  cligym dataset runs/big-rollout --out runs/big-dataset --validation-share 0.05 --seed 1

  cligym dataset runs/big-rollout --out runs/big-dataset --push my-org/cligym-repairs --public --license mit
"""


def dataset(
    run_dir: Path = typer.Argument(..., help="A rollout run directory filtered with `cligym filter`."),
    out: Path = typer.Option(..., "--out", help="Output directory: chat/ and tasks/ datasets go under it."),
    push: str | None = typer.Option(None, "--push", help="ORG/NAME on the Hugging Face Hub"),
    private: bool = typer.Option(True, "--private/--public", help="Visibility of the Hub repositories."),
    token: str | None = typer.Option(
        None, "--token", help="Hub token (default: $HF_TOKEN, else the token `hf auth login` saved)."
    ),
    license: str = typer.Option(
        DEFAULT_LICENSE, "--license", help="Hub license id for the dataset cards, e.g. apache-2.0."
    ),
    validation_share: float = typer.Option(
        0.1, "--validation-share", min=0.0, max=0.99, help="Share of the tasks held out for validation."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/validation split of the tasks."),
) -> None:
    """Build the chat dataset (messages with tool calls, a plain-text variant, metadata; split by task) from
    the kept trajectories and the tasks dataset from the run's task directories; save both (HF, parquet,
    JSONL, dataset card) and push them with --push (the tasks to ORG/NAME-tasks)."""
    kept = read_kept_ids(run_dir)
    trajectories = read_trajectories(run_dir)
    by_id = {trajectory.episode_id: trajectory for trajectory in trajectories}
    unknown = [episode for episode in kept if episode not in by_id]
    if unknown:
        raise CligymError(
            f"{len(unknown)} kept episode ids are not in {run_dir}'s trajectories (e.g. {unknown[0]})",
            "the filter output is stale: run `cligym filter RUN` again",
        )
    if not kept:
        raise CligymError(f"the filter kept no trajectories of {run_dir}", "see `cligym filter RUN` for why")
    chat = build_dataset([by_id[episode] for episode in kept], validation_share=validation_share, seed=seed)
    card = chat_card(chat, made_from=run_dir.name, license=license)
    save_dataset(chat, out / "chat", card=card)

    # Every task the run attempted, solved or not: RL wants the hard ones too.
    task_dirs = trajectory_task_dirs(trajectories)
    if task_dirs.missing:
        console.print(
            f"[yellow]{len(task_dirs.missing)} task directories of the run are gone (e.g. {task_dirs.missing[0]}); "
            "the tasks dataset leaves them out[/yellow]",
            highlight=False,
        )
    tasks = tasks_dataset(task_dirs.found, chat_split=task_split_map(chat)) if task_dirs.found else None
    if tasks is not None:
        from datasets import DatasetDict

        tasks_dict = DatasetDict({TRAIN: tasks})
        tasks_readme = tasks_card(tasks, made_from=run_dir.name, license=license)
        save_dataset(tasks_dict, out / "tasks", card=tasks_readme)

    table = Table(title=f"dataset: {out / 'chat'}")
    for column in ("split", "rows", "tasks", "tokens"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, rows in chat.items():
        table.add_row(split, str(len(rows)), str(len(set(rows["task_id"]))), f"{sum(rows['tokens']):,}")
    console.print(table)
    console.print(
        f"{len(tasks) if tasks is not None else 0} tasks in {out / 'tasks'}; "
        f"load the chat dataset with datasets.load_from_disk({str(out / 'chat' / 'hf')!r})",
        highlight=False,
    )
    if push:
        push_dataset(chat, push, private=private, token=token, card=card)
        console.print(f"pushed the chat dataset to https://huggingface.co/datasets/{push}", highlight=False)
        if tasks is not None:
            push_dataset(tasks_dict, f"{push}-tasks", private=private, token=token, card=tasks_readme)
            console.print(f"pushed the tasks to https://huggingface.co/datasets/{push}-tasks", highlight=False)
