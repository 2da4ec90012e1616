"""Snapshots of a store as gzip-compressed JSON lines."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict

from inventory.store import Item, Store


def export_snapshot(store: Store, path: str) -> int:
    items = store.items()
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(asdict(item)) + "\n")
    return len(items)


def import_snapshot(store: Store, path: str) -> int:
    count = 0
    with gzip.open(path, "rt", encoding="utf-8") as src:
        for line in src:
            item = Item(**json.loads(line))
            store.add(item.sku, item.name, item.quantity, item.unit_price_cents)
            count += 1
    return count
