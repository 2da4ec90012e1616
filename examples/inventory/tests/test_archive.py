import gzip

from inventory.archive import export_snapshot, import_snapshot
from inventory.store import Store


def test_export_then_import_round_trips(tmp_path):
    source = Store()
    source.add("A1", "apple", 10, 50)
    source.add("B2", "banana", 5, 25)
    path = str(tmp_path / "snap.jsonl.gz")
    assert export_snapshot(source, path) == 2
    target = Store()
    assert import_snapshot(target, path) == 2
    assert target.items() == source.items()


def test_snapshot_is_gzip_compressed(tmp_path):
    store = Store()
    store.add("A1", "apple", 1, 1)
    path = tmp_path / "snap.jsonl.gz"
    export_snapshot(store, str(path))
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes()).startswith(b'{"sku": "A1"')
