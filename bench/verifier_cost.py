"""What the reward-hacking defences add to judging one episode: the exported verifier (``tests/test.sh``) with
and without its checks (every block that can set HARNESS_MODIFIED, and the loader's resolution loop; the
restore's copy and the stops of leftover processes stay), the check alone, and the outside view ``cligym
rollout`` takes of the container (Docker's diff, harness files read through the archive API) and the snapshot
it judges instead of the agent's container (commit, a fresh container, every harness file hashed by the
image's static busybox), all from one container of the task image, repeated. The first verifier run leaves
the bytecode an agent's own test runs would leave, so later runs pay for checking it too.

    python bench/verifier_cost.py                          # makes one task from the bundled example first
    python bench/verifier_cost.py --task runs/demo/harbor/TASK --repeats 7

See bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cligym.generation.gold.harness import HarnessManifest
from cligym.rollout.changes import episode_changes, read_manifest
from cligym.rollout.snapshot import content_differences, verifier_snapshot
from cligym.rollout.task_dir import load_task
from cligym.rollout.task_image import ensure_task_image
from cligym.sandbox import Sandbox
from cligym.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rollout_throughput import make_task

# Every check of test.sh is an if-block that sets HARNESS_MODIFIED=1 (the integrity script, twice, sha256sum of
# its own files, absent paths, the /tests listing, the verdict's inputs before and after the run) ...
CHECK_BLOCK = re.compile(r"^if [^\n]*; then\n(?:(?!fi\n).*\n)*?  HARNESS_MODIFIED=1\nfi\n", re.M)
# ... or the loop that asks the loader what it resolves for each program and shared object (red team 5 on).
LIBRARY_LOOP = re.compile(r'^cligym_library_problems=""\nfor cligym_program in [^\n]*; do\n(?:.*\n)*?done\n', re.M)
# One such block is no check: the restore of the tracked files, which the verifier does with or without the
# defences (only its failure became a reason for reward 0). Its copy stays.
RESTORE_BLOCK = re.compile(r"^if ! (cp -a [^\n]*/pristine/\. [^\n]*); then\n")


def without_checks(script: str) -> str:
    def cut(block: re.Match[str]) -> str:
        restore = RESTORE_BLOCK.match(block.group(0))
        return f"{restore.group(1)}\n" if restore else ""

    stripped, count = CHECK_BLOCK.subn(cut, script)
    if count == 0:
        raise SystemExit("this task's test.sh has no harness check (exported before cligym.gold/11?)")
    return LIBRARY_LOOP.sub("", stripped)


def snapshot_and_hash(box: Sandbox, manifest: HarnessManifest | None) -> None:
    with verifier_snapshot(box, load_settings().sandbox) as (fresh, hasher):
        if hasher is None or manifest is None:
            raise SystemExit("the task image has no static busybox (built before it joined the base image?)")
        content_differences(fresh, hasher, manifest)


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.monotonic()
        action()
        seconds.append(time.monotonic() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, help="An exported Harbor task directory (default: make one).")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        task_dir = args.task or make_task(Path(work))
        task = load_task(task_dir)
        image = ensure_task_image(task)
        script = (task_dir / "tests" / "test.sh").read_text()
        manifest = task_dir / "tests" / "harness.json"
        with Sandbox(image, name_prefix="cligym-bench") as box:
            box.copy_dir(task_dir / "tests", "/tests")
            box.write_file("/tests/test-unchecked.sh", without_checks(script), mode=0o755)
            box.exec("bash /tests/test.sh", timeout=600)  # leaves the repository's bytecode behind
            check = next(line for line in script.splitlines() if "harness_check.py check" in line)
            # As test.sh runs it: compiling its modules afresh in a new directory (unset, the prefix would be
            # empty and the interpreter would read and write bytecode beside the sources).
            fresh = 'CLIGYM_PYCACHE="$(mktemp -d -p /tmp cligym-pycache.XXXXXXXX)"; '
            check_command = fresh + check.removeprefix("if ! ").split(" > ")[0]
            rows = {
                "test.sh, harness check included": timed(
                    lambda: box.exec("bash /tests/test.sh", timeout=600), args.repeats
                ),
                "test.sh, harness check removed": timed(
                    lambda: box.exec("bash /tests/test-unchecked.sh", timeout=600), args.repeats
                ),
                "harness check alone": timed(lambda: box.exec(check_command, timeout=600), args.repeats),
                "outside view (diff + harness reads)": timed(lambda: episode_changes(box, manifest), args.repeats),
                "snapshot: commit, fresh container, trusted hash": timed(
                    lambda: snapshot_and_hash(box, read_manifest(manifest)), args.repeats
                ),
            }
    table = Table(title=f"verifier cost per episode ({task.task_id}, {args.repeats} runs each)")
    for column in ("step", "median s", "min s", "max s"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for name, seconds in rows.items():
        table.add_row(name, f"{statistics.median(seconds):.2f}", f"{min(seconds):.2f}", f"{max(seconds):.2f}")
    Console().print(table)
    with_check = statistics.median(rows["test.sh, harness check included"])
    without = statistics.median(rows["test.sh, harness check removed"])
    print(f"added by the harness check: {with_check - without:+.2f} s per episode ({with_check / without:.2f}x)")


if __name__ == "__main__":
    main()
