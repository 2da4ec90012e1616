"""Children that a test interrupts with Ctrl-C (SIGINT) must not inherit an ignored SIGINT: a shell starting
the test run in the background (`cmd &`, nohup, some CI runners) ignores it in everything it starts, and
Python then never raises KeyboardInterrupt. Pass ``preexec_fn=interruptible`` to ``subprocess.Popen``."""

from __future__ import annotations

import signal


def interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
