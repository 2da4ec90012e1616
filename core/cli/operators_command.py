"""`cligym operators`: the catalog of fault operators."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cligym.cli.context import console
from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators import OPERATORS

EXAMPLES = """
Examples:

  cligym operators

  cligym operators --gold runs/default/gold/inventory/record.json   # with the targets each finds there
"""


def operators(
    gold: Path | None = typer.Option(None, "--gold", help="A gold record: also count each operator's targets."),
) -> None:
    """List every fault operator with its category and what it breaks."""
    record = GoldRecord.read(gold) if gold else None
    table = Table(title=f"{len(OPERATORS)} fault operators")
    for column in ("operator", "category", "what it breaks"):
        table.add_column(column)
    if record:
        table.add_column(f"targets in {record.name}", justify="right")
    for name, operator in sorted(OPERATORS.items(), key=lambda item: (item[1].category, item[0])):
        row = [name, str(operator.category), operator.description]
        if record:
            row.append(str(len(operator.targets(record))))
        table.add_row(*row)
    console.print(table)
