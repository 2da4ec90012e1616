"""The verifier's stop of what the agent left running, in a real container: a chain of processes that each
fork their successor and exit within a millisecond outruns any walk of /proc (red team 10 had one survive the
verifier's passes, then undo the repair once the tests had run)."""

from __future__ import annotations

import time

from cligym.base_images import BaseImage
from cligym.generation.export.task_files import STOP_LEFTOVER_PROCESSES
from cligym.sandbox import Sandbox

# Every member touches a heartbeat file, then forks its successor and exits, as fast as it can.
CHAIN = """import os
open("/var/tmp/heartbeat", "a").close()
while True:
    os.utime("/var/tmp/heartbeat")
    if os.fork():
        os._exit(0)
"""


def _beats(box: Sandbox) -> bool:
    """Whether the chain still touches its heartbeat file (a walk of /proc may list no member of it)."""
    before = box.exec("stat -c %y /var/tmp/heartbeat", timeout=10).stdout
    time.sleep(1.5)
    return box.exec("stat -c %y /var/tmp/heartbeat", timeout=10).stdout != before


def test_a_chain_of_processes_forking_faster_than_proc_is_listed_is_stopped(base_image: BaseImage) -> None:
    with Sandbox(base_image.reference, name_prefix="cligym-test") as box:
        box.write_file("/var/tmp/chain.py", CHAIN)
        assert box.exec("setsid python3 /var/tmp/chain.py < /dev/null > /dev/null 2>&1 &", timeout=30).ok
        time.sleep(3)  # the members' zombies pile up under PID 1, which reaps nothing, and slow every walk
        assert _beats(box), "the chain runs"
        stopped = box.exec(STOP_LEFTOVER_PROCESSES + 'echo "left=${cligym_unstopped:-none}"', timeout=120)
        assert stopped.ok and "left=none" in stopped.stdout, stopped.stdout + stopped.stderr
        assert not _beats(box), "the chain outlived the verifier's stop"
        # The container itself is left as it was: its keep-alive process still runs commands.
        assert box.exec("true", timeout=10).ok
