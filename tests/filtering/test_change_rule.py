"""The filter rule over an episode's file-system changes (as Docker's diff reports them)."""

from __future__ import annotations

from datetime import UTC, datetime

from cligym.filtering.rules import no_harness_changes
from cligym.rollout.changes import FileChanges
from cligym.rollout.trajectory import SamplingConfig, Trajectory

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def episode(changes: FileChanges | None) -> Trajectory:
    return Trajectory(
        episode_id="t#0",
        task_id="t",
        sampling=SamplingConfig(model="m"),
        changes=changes,
        termination_reason="submitted",
        started_at=NOW,
        finished_at=NOW,
    )


def test_a_repair_that_ran_the_tests_is_kept() -> None:
    # Running pytest writes bytecode and caches beside the tests; a repaired library is not the harness.
    changes = FileChanges(
        changed=["/repo", "/repo/tests", "/usr/lib", "/usr/lib/x86_64-linux-gnu"],
        added=[
            "/repo/tests/__pycache__",
            "/repo/tests/__pycache__/test_store.cpython-311-pytest-9.2.0.pyc",
            "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0",
        ],
        total=7,
    )
    assert no_harness_changes(episode(changes)) is None
    assert no_harness_changes(episode(None)) is None


def test_tests_verifier_files_and_harness_changes_are_dropped_with_the_path() -> None:
    edited_test = FileChanges(changed=["/repo", "/repo/tests", "/repo/tests/test_store.py"], total=3)
    assert no_harness_changes(episode(edited_test)) == "changes the repository's tests: /repo/tests/test_store.py"
    conftest = FileChanges(changed=["/repo"], added=["/repo/conftest.py"], total=2)
    assert no_harness_changes(episode(conftest)) == "changes the repository's tests: /repo/conftest.py"
    planted = FileChanges(added=["/logs", "/logs/verifier", "/logs/verifier/reward.txt"], total=3)
    assert no_harness_changes(episode(planted)) == "changes the verifier's files: /logs/verifier/reward.txt"
    hook = FileChanges(
        added=["/usr/lib/python3/dist-packages/x.pth"], harness=["/usr/lib/python3/dist-packages/x.pth (added)"]
    )
    assert no_harness_changes(episode(hook)) == "harness_modified: /usr/lib/python3/dist-packages/x.pth (added)"


def test_test_configuration_above_the_repository_is_dropped_but_an_unpacked_sdist_is_not() -> None:
    above = FileChanges(added=["/conftest.py", "/pytest.ini"], total=2)
    assert no_harness_changes(episode(above)) == "adds test configuration above the repository: /conftest.py"
    # A repair may unpack a source distribution to rebuild a library: its configuration is nobody's harness.
    sdist = FileChanges(
        added=["/tmp/lib-1.0", "/tmp/lib-1.0/setup.cfg", "/tmp/lib-1.0/pyproject.toml", "/tmp/lib-1.0/conftest.py"],
        total=4,
    )
    assert no_harness_changes(episode(sdist)) is None


def test_a_shell_start_up_file_added_or_changed_is_dropped_but_one_deleted_is_a_repair() -> None:
    # A login shell's verifier (`bash -lc`) runs /etc/profile.d first: code there runs before any check can.
    profile = FileChanges(changed=["/etc", "/etc/profile.d"], added=["/etc/profile.d/00-ssl.sh"], total=3)
    assert no_harness_changes(episode(profile)) == (
        "adds or changes a shell start-up file (runs before a login shell's verifier): /etc/profile.d/00-ssl.sh"
    )
    bashrc = FileChanges(changed=["/root", "/root/.bashrc"], total=2)
    assert no_harness_changes(episode(bashrc)) is not None
    removed = FileChanges(changed=["/etc", "/etc/profile.d"], deleted=["/etc/profile.d/cligym-limits.sh"], total=3)
    assert no_harness_changes(episode(removed)) is None
    # A break's BASH_ENV file there, emptied: the verifier judges what is left of it line by line.
    emptied = FileChanges(changed=["/etc", "/etc/profile.d", "/etc/profile.d/00-limits.sh"], total=3)
    assert no_harness_changes(episode(emptied)) is None


def test_the_repository_is_where_the_task_says_it_is() -> None:
    # A prebuilt SWE-style image keeps its repository at /testbed: its tests are judged there.
    edited = FileChanges(changed=["/testbed", "/testbed/tests", "/testbed/tests/test_store.py"], repo="/testbed")
    assert no_harness_changes(episode(edited)) == "changes the repository's tests: /testbed/tests/test_store.py"
    above = FileChanges(added=["/conftest.py"], repo="/testbed")
    assert no_harness_changes(episode(above)) == "adds test configuration above the repository: /conftest.py"
    # /repo is nobody's repository there: a file of that name in it is not the task's tests.
    elsewhere = FileChanges(added=["/repo", "/repo/tests", "/repo/tests/test_store.py"], repo="/testbed")
    assert no_harness_changes(episode(elsewhere)) is None


def test_a_reinstalled_node_modules_and_a_suites_own_output_are_not_the_projects_tests() -> None:
    # npm reinstalls dependencies with their own test directories; make check and ctest write logs and
    # outputs beside the tests (found by red team 12 dropping four real repairs).
    repaired = FileChanges(
        changed=["/repo", "/repo/node_modules/tape/example/stream/test/x_fail.js", "/repo/tests/gzip-env.log"],
        added=[
            "/repo/tests/gzip-env.trs",
            "/repo/build/tests/testSubDir/test1.test/test1.out",
            "/repo/build/tests/testSubDir/test4.test/valid.json",
        ],
        total=5,
    )
    assert no_harness_changes(episode(repaired)) is None
    # A test source added where the suite's pattern would run it is still the project's tests.
    planted = FileChanges(changed=["/repo/test"], added=["/repo/test/000.js"], total=2)
    assert no_harness_changes(episode(planted)) == "changes the repository's tests: /repo/test/000.js"
