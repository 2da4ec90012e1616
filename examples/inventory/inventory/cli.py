"""The `inventory` command."""

from __future__ import annotations

import argparse
import sys

from inventory.archive import export_snapshot, import_snapshot
from inventory.report import money, stock_table, system_info
from inventory.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inventory")
    parser.add_argument("--db", default="inventory.sqlite")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add")
    add.add_argument("sku")
    add.add_argument("name")
    add.add_argument("quantity", type=int)
    add.add_argument("price_cents", type=int)
    commands.add_parser("list")
    commands.add_parser("value")
    commands.add_parser("info")
    export = commands.add_parser("export")
    export.add_argument("path")
    load = commands.add_parser("import")
    load.add_argument("path")
    args = parser.parse_args(argv)

    store = Store(args.db)
    if args.command == "add":
        item = store.add(args.sku, args.name, args.quantity, args.price_cents)
        print(f"{item.sku}: {item.quantity}")
    elif args.command == "list":
        print(stock_table(store))
    elif args.command == "value":
        print(money(store.total_value_cents()))
    elif args.command == "info":
        print(system_info())
    elif args.command == "export":
        print(export_snapshot(store, args.path))
    elif args.command == "import":
        print(import_snapshot(store, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
