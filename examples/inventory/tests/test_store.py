import sqlite3

import pytest
from inventory.store import Store


@pytest.fixture
def store():
    s = Store()
    s.add("A1", "apple", 10, 50)
    s.add("B2", "banana", 5, 25)
    return s


def test_add_and_get(store):
    assert store.get("A1").quantity == 10


def test_adding_again_increases_quantity(store):
    assert store.add("A1", "apple", 3, 50).quantity == 13


def test_remove_decreases_quantity(store):
    assert store.remove("B2", 2).quantity == 3


def test_cannot_remove_more_than_stock(store):
    with pytest.raises(ValueError, match="only 5"):
        store.remove("B2", 6)


def test_unknown_sku_raises_key_error(store):
    with pytest.raises(KeyError):
        store.get("Z9")


def test_items_are_sorted_by_sku(store):
    assert [i.sku for i in store.items()] == ["A1", "B2"]


def test_total_value(store):
    assert store.total_value_cents() == 10 * 50 + 5 * 25


def test_search_by_name(store):
    assert [i.sku for i in store.search("nan")] == ["B2"]


def test_negative_quantity_is_rejected_by_the_database():
    with pytest.raises(sqlite3.IntegrityError):
        Store().add("C3", "cherry", -1, 10)


def test_sqlite_is_recent_enough_for_upsert():
    assert sqlite3.sqlite_version_info >= (3, 24, 0)


def test_store_persists_to_a_file(tmp_path):
    path = str(tmp_path / "inv.sqlite")
    Store(path).add("A1", "apple", 1, 1)
    assert Store(path).get("A1").name == "apple"
