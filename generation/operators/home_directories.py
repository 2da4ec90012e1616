"""The home directory the tests write to: HOME itself, and the directories programs keep there
(``~/.cache``, ``~/.config``...), replaced by something that is not a directory."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, FileTarget, register, run
from cligym.generation.operators.footprint_targets import HOME, home_directories


def _home_users(gold: GoldRecord) -> frozenset[str] | None:
    footprint = gold.footprint
    if footprint is None:
        return None
    home_files = (path for path in footprint.things("files") if path.startswith(HOME + "/"))
    return footprint.tests_using("env", "HOME") | footprint.tests_using_any("files", home_files)


@register
class HomeIsAFile(FaultOperator[FileTarget]):
    name = "home-is-a-file"
    category = Category.FILE_SYSTEM
    description = "Replace the home directory with a regular file"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        users = _home_users(gold)
        return [FileTarget(path=HOME)] if users is None or users else []

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        return _home_users(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        content = rng.choice(["", "migrated to /home", "placeholder"])
        return [run(f"rm -rf {HOME} && echo '{content}' > {HOME}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return [f"rm -f {HOME} && mkdir -m 700 {HOME} && cp -a /etc/skel/. {HOME}/"]


@register
class HomeSubdirectoryIsAFile(FaultOperator[FileTarget]):
    name = "home-subdirectory-is-a-file"
    category = Category.FILE_SYSTEM
    description = "Replace a directory under the home directory that the tests write to with a regular file"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return home_directories(gold)

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        footprint = gold.footprint
        if footprint is None:
            return None
        prefix = target.path + "/"
        return footprint.tests_using_any("files", (p for p in footprint.things("files") if p.startswith(prefix)))

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.path)
        return [run(f"rm -rf {path} && : > {path}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        path = shlex.quote(target.path)
        return [f"rm -f {path} && mkdir -p {path}"]
