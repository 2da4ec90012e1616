"""Items and quantities in an SQLite database."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS items (sku TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "quantity INTEGER NOT NULL CHECK (quantity >= 0), unit_price_cents INTEGER NOT NULL)"
        )

    def add(self, sku: str, name: str, quantity: int, unit_price_cents: int) -> Item:
        with self.db:
            self.db.execute(
                "INSERT INTO items VALUES (?, ?, ?, ?) ON CONFLICT(sku) DO UPDATE SET quantity = quantity + ?",
                (sku, name, quantity, unit_price_cents, quantity),
            )
        return self.get(sku)

    def remove(self, sku: str, quantity: int) -> Item:
        current = self.get(sku)
        if quantity > current.quantity:
            raise ValueError(f"only {current.quantity} of {sku} in stock")
        with self.db:
            self.db.execute("UPDATE items SET quantity = quantity - ? WHERE sku = ?", (quantity, sku))
        return self.get(sku)

    def get(self, sku: str) -> Item:
        row = self.db.execute(
            "SELECT sku, name, quantity, unit_price_cents FROM items WHERE sku = ?", (sku,)
        ).fetchone()
        if row is None:
            raise KeyError(sku)
        return Item(*row)

    def items(self) -> list[Item]:
        rows = self.db.execute("SELECT sku, name, quantity, unit_price_cents FROM items ORDER BY sku").fetchall()
        return [Item(*row) for row in rows]

    def total_value_cents(self) -> int:
        return self.db.execute("SELECT COALESCE(SUM(quantity * unit_price_cents), 0) FROM items").fetchone()[0]

    def search(self, text: str) -> list[Item]:
        rows = self.db.execute(
            "SELECT sku, name, quantity, unit_price_cents FROM items WHERE name LIKE ? ORDER BY sku", (f"%{text}%",)
        ).fetchall()
        return [Item(*row) for row in rows]
