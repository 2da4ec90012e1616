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


def test_a_module_planted_in_the_repository_counts_only_under_a_name_something_imports() -> None:
    from cligym.generation.gold.harness import HarnessManifest
    from cligym.rollout.changes import _planted_module

    manifest = HarnessManifest(
        import_dirs=["/repo", "/repo/src"],
        importables={"/repo/src/pkg": "", "/repo/setup.py": ""},
        import_names=["difflib", "pkg", "ujson"],
    )
    # A failure path's standard-library module, an optional dependency, the project's package shadowed.
    assert _planted_module("/repo/difflib.py", manifest) == "difflib"
    assert _planted_module("/repo/src/ujson.cpython-311-x86_64-linux-gnu.so", manifest) == "ujson"
    assert _planted_module("/repo/pkg/__init__.py", manifest) == "pkg"
    # An agent's scratch script, tests, what the verifier deletes, a build, files inside gold's own package.
    for path in (
        "/repo/repro.py",
        "/repo/test_difflib.py",
        "/repo/conftest.py",
        "/repo/build/difflib.py",
        "/repo/src/pkg/difflib.py",
        "/repo/notes.txt",
        "/repo/difflib.py.orig",
    ):
        assert _planted_module(path, manifest) is None, path
    # A manifest recorded before the names were: every new module counts; before importables: none.
    assert _planted_module("/repo/repro.py", manifest.model_copy(update={"import_names": None})) == "repro"
    assert _planted_module("/repo/difflib.py", manifest.model_copy(update={"importables": None})) is None
