"""The outside view's pure parts: which changed path an import would load, and which paths survive the cap."""

from __future__ import annotations

from cligym.rollout.changes import MAX_PATHS_PER_KIND, _capped, _module_place


def test_only_names_an_import_can_load_are_module_places() -> None:
    assert _module_place("/usr/lib/python3.11/json.py") == ("/usr/lib/python3.11", "json")
    assert _module_place("/repo/src/_distutils_hack/__init__.py") == ("/repo/src", "_distutils_hack")
    assert _module_place("/x/_ssl.cpython-311-x86_64-linux-gnu.so") == ("/x", "_ssl")
    assert _module_place("/x/pytest") == ("/x", "pytest")  # a package directory, if it is one
    # Package markers, notes and backups are never imported (a typed package's py.typed is not module py).
    for path in ("/repo/src/pkg/py.typed", "/repo/pytest.ini.bak", "/usr/local/lib/six.txt"):
        assert _module_place(path) is None, path


def test_padding_the_diff_cannot_push_out_the_paths_the_filter_judges() -> None:
    padding = [f"/aaa/{i:04d}" for i in range(MAX_PATHS_PER_KIND + 20)]
    judged = ["/repo/tests/freezegun.py", "/etc/pytest.ini", "/tests/test.sh", "/logs/verifier/reward.txt"]
    kept = _capped([*padding, *judged], "/repo")
    assert set(judged) <= set(kept) and len(kept) == MAX_PATHS_PER_KIND and kept == sorted(kept)
    assert _capped(["/b", "/a"], "/repo") == ["/a", "/b"]
