"""Containers are labelled, limited, isolated from the host, and always removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.base_images import BaseImage
from cligym.docker_connection import docker_client
from cligym.garbage_collection import collect_garbage
from cligym.labels import MANAGED, ROLE, RUN_ID
from cligym.sandbox import Sandbox
from cligym.settings import SandboxSettings
from tests.conftest import containers_named

pytestmark = pytest.mark.docker


def test_container_is_removed_after_an_exception_inside_the_context(base_image: BaseImage, run_id: str) -> None:
    with pytest.raises(RuntimeError, match="boom"), Sandbox(base_image.reference, run_id=run_id) as box:
        name = box.name
        assert len(containers_named(name)) == 1
        raise RuntimeError("boom")
    assert containers_named(name) == []


def test_container_is_removed_after_keyboard_interrupt(base_image: BaseImage, run_id: str) -> None:
    with pytest.raises(KeyboardInterrupt), Sandbox(base_image.reference, run_id=run_id) as box:
        name = box.name
        raise KeyboardInterrupt
    assert containers_named(name) == []


def test_container_carries_labels_and_resource_limits(base_image: BaseImage, run_id: str) -> None:
    settings = SandboxSettings(memory="256m", pids=100, cpus=0.5)
    with Sandbox(base_image.reference, run_id=run_id, settings=settings) as box:
        attrs = docker_client().api.inspect_container(box.id)
    host = attrs["HostConfig"]
    assert (host["Memory"], host["MemorySwap"], host["PidsLimit"], host["NanoCpus"]) == (
        256 * 1024 * 1024,
        256 * 1024 * 1024,
        100,
        500_000_000,
    )
    labels = attrs["Config"]["Labels"]
    assert labels[MANAGED] == "true" and labels[RUN_ID] == run_id and labels[ROLE] == "sandbox"


def test_no_network_sandbox_has_only_loopback(base_image: BaseImage, run_id: str) -> None:
    with Sandbox(base_image.reference, run_id=run_id, network=False) as box:
        assert box.exec("ls /sys/class/net").stdout.split() == ["lo"]


def test_rm_rf_root_inside_the_container_leaves_the_host_untouched(
    base_image: BaseImage, run_id: str, tmp_path: Path
) -> None:
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("still here")
    with Sandbox(base_image.reference, run_id=run_id) as box:
        box.exec("rm -rf --no-preserve-root /", timeout=300)
        with pytest.raises(FileNotFoundError):  # the container's own file system is gone...
            box.read_file("/etc/os-release")
    assert sentinel.read_text() == "still here"  # ...the host's is not
    assert Path("/etc/os-release").is_file() and Path("/bin/sh").exists()


def test_write_file_then_read_file_round_trips_bytes(base_image: BaseImage, run_id: str) -> None:
    payload = bytes(range(256)) * 4
    with Sandbox(base_image.reference, run_id=run_id) as box:
        box.write_file("/opt/cligym/deep/dir/blob.bin", payload, mode=0o600)
        assert box.read_file("/opt/cligym/deep/dir/blob.bin") == payload
        assert box.exec("stat -c %a /opt/cligym/deep/dir/blob.bin").stdout.strip() == "600"
        with pytest.raises(FileNotFoundError):
            box.read_file("/no/such/file")


def test_writing_under_tmp_keeps_it_world_writable_and_sticky(base_image: BaseImage, run_id: str) -> None:
    with Sandbox(base_image.reference, run_id=run_id) as box:
        box.write_file("/tmp/cligym/plugin/x.py", "pass\n")
        assert box.exec("stat -c %a /tmp").stdout.strip() == "1777"
        # apt's unprivileged sandbox user can still make its temporary files there.
        assert box.exec("su -s /bin/sh nobody -c 'mktemp /tmp/x.XXXXXX'").ok


def test_commit_makes_an_image_whose_new_layer_holds_the_change(base_image: BaseImage, run_id: str) -> None:
    client = docker_client()
    with Sandbox(base_image.reference, run_id=run_id) as box:
        box.exec("echo broken-on-purpose > /etc/cligym-marker")
        image_id = box.commit(f"cligym-test/commit-{run_id}", "v1")
    image = client.images.get(image_id)
    base = client.images.get(base_image.reference)
    assert len(image.attrs["RootFS"]["Layers"]) == len(base.attrs["RootFS"]["Layers"]) + 1
    assert image.history()[0]["Size"] > 0
    assert image.labels[RUN_ID] == run_id
    assert image.attrs["Config"]["Cmd"] == base.attrs["Config"]["Cmd"]
    with Sandbox(image_id, run_id=run_id) as fresh:
        assert fresh.read_file("/etc/cligym-marker") == b"broken-on-purpose\n"


def test_gc_removes_only_the_named_runs_objects(base_image: BaseImage, run_id: str) -> None:
    other_run = f"{run_id}-other"
    mine = Sandbox(base_image.reference, run_id=run_id).start()
    theirs = Sandbox(base_image.reference, run_id=other_run).start()
    try:
        image_id = mine.commit(f"cligym-test/gc-{run_id}")
        removed = collect_garbage(run_id=run_id)
        assert mine.name in removed.containers
        assert containers_named(mine.name) == [] and len(containers_named(theirs.name)) == 1
        assert image_id not in {image.id for image in docker_client().images.list(all=True)}
    finally:
        theirs.remove()
        collect_garbage(run_id=other_run)


def test_a_sleep_stubbed_on_path_does_not_stop_the_container(base_image: BaseImage, run_id: str) -> None:
    # What an executable-shadowed-on-path break of `sleep` leaves: a stub first on PATH that exits at once.
    environment = {"PATH": "/opt/stub:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

    def plant_stub(box: Sandbox) -> None:
        box.write_file("/opt/stub/sleep", "#!/bin/sh\nexit 0\n", mode=0o755)

    with Sandbox(base_image.reference, run_id=run_id, environment=environment, before_start=plant_stub) as box:
        assert box.exec("sleep 0.2; echo still up").stdout.strip() == "still up"
        assert box.exec("command -v sleep").stdout.strip() == "/opt/stub/sleep"
