"""Human-readable reports."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

from packaging.version import Version
from tabulate import tabulate

from inventory import __version__

if TYPE_CHECKING:  # the store needs sqlite3; formatting money must not
    from inventory.store import Store

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def currency() -> str:
    code = os.environ.get("INVENTORY_CURRENCY", "EUR").upper()
    if code not in CURRENCY_SYMBOLS:
        raise ValueError(f"unsupported currency {code}")
    return code


def money(cents: int) -> str:
    return f"{CURRENCY_SYMBOLS[currency()]}{cents // 100}.{cents % 100:02d}"


def stock_table(store: Store) -> str:
    rows = [(i.sku, i.name, i.quantity, money(i.unit_price_cents)) for i in store.items()]
    return tabulate(rows, headers=["sku", "name", "qty", "price"], tablefmt="github")


def system_info() -> str:
    os_name = platform.freedesktop_os_release().get("NAME", "unknown")
    return f"inventory {Version(__version__)} on {os_name}"
