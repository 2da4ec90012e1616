"""The tests' environment in exported verifiers: the task image's, whatever the calling shell exported."""

from __future__ import annotations

import subprocess

from cligym.generation.export.container_environment import (
    DOCKER_EXEC_DEFAULTS,
    container_environment_script,
    on_task_search_path,
)
from cligym.generation.gold.harness import HarnessManifest


def _environment_after(script: str, calling: dict[str, str]) -> dict[str, str]:
    shown = subprocess.run(
        ["bash", "-c", script + "env -0"], env=calling, capture_output=True, check=True
    ).stdout.decode()
    return dict(entry.split("=", 1) for entry in shown.split("\0") if "=" in entry)


def test_the_image_values_replace_what_a_login_shell_or_pid_1_would_have_given() -> None:
    image = {**DOCKER_EXEC_DEFAULTS, "LANG": "C.UTF-8", "PYTHONPATH": "/opt/break", "PIP_CERT": "/ca.pem"}
    calling = {
        "PATH": "/usr/bin:/bin",
        "TMPDIR": "/nonexistent",  # from /etc/profile.d, or written into PID 1's memory
        "LD_PRELOAD": "/lib/shim.so",
        "PYTHONPATH": "/opt/forcing",
        "LC_ALL": "xx_XX.UTF-8",
        "UNRELATED": "kept",
    }
    after = _environment_after(container_environment_script(image), calling)
    assert "TMPDIR" not in after and "LD_PRELOAD" not in after and "LC_ALL" not in after
    assert after["PYTHONPATH"] == "/opt/break"
    assert after["HOME"] == "/root" and after["LANG"] == "C.UTF-8"
    # Only the variables the interpreter, the loader and the locale read are the verifier's to fix.
    assert after["UNRELATED"] == "kept" and "PIP_CERT" not in after


def test_values_with_shell_syntax_are_exported_verbatim() -> None:
    image = {"NODE_OPTIONS": "--require=/opt/x.js $(touch /tmp/pwned)", "LANG": "C.UTF-8"}
    after = _environment_after(container_environment_script(image), {"PATH": "/usr/bin:/bin"})
    assert after["NODE_OPTIONS"] == "--require=/opt/x.js $(touch /tmp/pwned)"


def test_a_breaks_pythonpath_joins_the_search_path_the_harness_check_resolves_over() -> None:
    """Red team 13: a break's ENV PYTHONPATH put a directory before the standard library that neither the
    check nor the rollout's outside view searched; a stand-in for a harness module there went unseen."""
    stdlib = ["/usr/lib/python311.zip", "/usr/lib/python3.11", "/usr/lib/python3.11/lib-dynload"]
    sites = ["/root/.local/lib/python3.11/site-packages", "/usr/local/lib/python3.11/dist-packages"]
    gold = HarnessManifest(search_path=["/repo", "/tests", *stdlib, *sites], hook_dirs=[*stdlib, *sites])
    task = on_task_search_path(gold, {"PYTHONPATH": "/usr/local/share/pylib:/tests", "PATH": "/usr/bin"})
    assert task.search_path == ["/repo", "/tests", "/usr/local/share/pylib", *stdlib, *sites]
    assert task.hook_dirs == [*stdlib, *sites, "/usr/local/share/pylib"]
    assert on_task_search_path(gold, {"PATH": "/usr/bin"}) is gold
