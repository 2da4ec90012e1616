import pytest
from inventory.report import currency, money, stock_table, system_info


def test_default_currency_is_euro(monkeypatch):
    monkeypatch.delenv("INVENTORY_CURRENCY", raising=False)
    assert money(1234) == "€12.34"


def test_currency_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("INVENTORY_CURRENCY", "usd")
    assert currency() == "USD" and money(5) == "$0.05"


def test_unsupported_currency_is_an_error(monkeypatch):
    monkeypatch.setenv("INVENTORY_CURRENCY", "XYZ")
    with pytest.raises(ValueError):
        currency()


def test_stock_table_is_a_github_table(monkeypatch):
    from inventory.store import Store

    monkeypatch.delenv("INVENTORY_CURRENCY", raising=False)
    store = Store()
    store.add("A1", "apple", 10, 50)
    table = stock_table(store)
    assert table.splitlines()[0].startswith("| sku")
    assert "€0.50" in table


def test_system_info_names_the_os():
    assert system_info().startswith("inventory 1.0.0 on ")
    assert "unknown" not in system_info()
