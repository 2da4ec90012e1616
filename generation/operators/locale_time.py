"""Locale, encoding and time-zone data: the files that turn bytes into text and UTC into local time."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    BreakStep,
    Category,
    EnvVarTarget,
    FaultOperator,
    FileTarget,
    ModuleTarget,
    env,
    register,
    run,
)
from cligym.generation.operators.probe_targets import probed_file, stdlib_codecs, zoneinfo_files
from cligym.generation.operators.python_packages import pth_hook, remove_pth_files
from cligym.generation.operators.repairs import reinstall

# C functions (module:qualname, as the probe names them) whose result follows the local time zone when the
# repository calls them (formatting a given time tuple, or setting the zone, does not).
LOCAL_TIME_FUNCTIONS = (
    "time:localtime", "time:mktime", "time:ctime", "datetime:datetime.now", "datetime:datetime.today",
    "datetime:date.today", "datetime:datetime.fromtimestamp", "datetime:date.fromtimestamp",
    "datetime:datetime.timestamp", "datetime:datetime.astimezone",
)  # fmt: skip
# Setting a locale by name (or from the environment, "") is what fails when that locale was never generated.
LOCALE_FUNCTIONS = ("_locale:setlocale",)


def tests_calling(gold: GoldRecord, functions: tuple[str, ...]) -> frozenset[str] | None:
    """The gold tests that call one of ``functions`` (None: the record has no per-test probe)."""
    footprint = gold.footprint
    return None if footprint is None else footprint.tests_using_any("functions", functions)


OTHER_ZONES = ["Asia/Tokyo", "Etc/UTC", "Australia/Sydney", "America/Los_Angeles", "Africa/Nairobi"]


@register
class ZoneinfoFileRemoved(FaultOperator[FileTarget]):
    name = "zoneinfo-file-removed"
    category = Category.LOCALE_TIME
    # Code that tries a zone in several places (search paths, a bundled copy) catches the missing file.
    raises = "FileNotFoundError"
    description = "Delete the time-zone data file of a zone the tests convert to"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return zoneinfo_files(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -f {shlex.quote(target.path)}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return reinstall(target.owner())


@register
class ZoneinfoFileCorrupted(FaultOperator[FileTarget]):
    name = "zoneinfo-file-corrupted"
    category = Category.LOCALE_TIME
    raises = "ValueError"
    description = "Overwrite the header of a time-zone data file the tests read"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return zoneinfo_files(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.path)
        length = rng.choice([4, 20, 44])
        return [run(f"dd if=/dev/zero of={path} bs=1 count={length} conv=notrunc status=none")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return reinstall(target.owner())


@register
class ZoneinfoSwapped(FaultOperator[FileTarget]):
    name = "zoneinfo-swapped"
    category = Category.LOCALE_TIME
    description = "Replace the data of a time zone the tests use with another zone's rules"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return zoneinfo_files(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        path = target.path
        other = rng.choice([zone for zone in OTHER_ZONES if not path.endswith(zone)])
        # A copy, not a link: the file looks like a normal zone file and parses fine.
        return [run(f"cp --remove-destination /usr/share/zoneinfo/{other} {shlex.quote(path)}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return reinstall(target.owner())


@register
class CodecModuleRemoved(FaultOperator[ModuleTarget]):
    name = "codec-module-removed"
    category = Category.LOCALE_TIME
    description = "Delete a text codec of the standard library that the tests encode or decode with"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return stdlib_codecs(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.file())
        module = target.name.rsplit(".", 1)[-1]
        return [run(f"rm -f {path} $(dirname {path})/__pycache__/{module}.*pyc")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        # dpkg still knows which package shipped the deleted file.
        path = shlex.quote(target.file())
        return ["apt-get update", f"apt-get install -y --reinstall $(dpkg -S {path} | cut -d: -f1)"]


MISSING_LOCALES = ["en_US.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8", "ja_JP.UTF-8"]
TZ_HOOK_NAMES = ["zz_timezone.pth", "00-site-tz.pth", "_tz_defaults.pth"]


@register
class LocaleNotGenerated(FaultOperator[EnvVarTarget]):
    name = "locale-not-generated"
    category = Category.LOCALE_TIME
    description = "Select a locale in the image's environment that was never generated"

    def targets(self, gold: GoldRecord) -> list[EnvVarTarget]:
        return [EnvVarTarget(name="LC_ALL")]

    def expected_failures(self, gold: GoldRecord, target: EnvVarTarget) -> frozenset[str] | None:
        return tests_calling(gold, LOCALE_FUNCTIONS)

    def break_steps(self, target: EnvVarTarget, rng: random.Random) -> list[BreakStep]:
        return [env("LC_ALL", rng.choice(MISSING_LOCALES))]

    def repair_commands(self, target: EnvVarTarget) -> list[str]:
        # The variable stays set in the image: what makes it work is generating the locale it names.
        return [
            "apt-get update",
            "DEBIAN_FRONTEND=noninteractive apt-get install -y locales",
            'sed -i "s/^# *\\($LC_ALL .*\\)/\\1/" /etc/locale.gen',
            "locale-gen",
        ]


@register
class LocaltimeWrongZone(FaultOperator[FileTarget]):
    name = "localtime-wrong-zone"
    category = Category.LOCALE_TIME
    description = "Point the system's local time zone at another zone"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return probed_file(gold, "/etc/localtime")

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        return tests_calling(gold, LOCAL_TIME_FUNCTIONS)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        zone = rng.choice(["Pacific/Kiritimati", "Asia/Kathmandu", "America/St_Johns"])
        return [run(f"test -e /usr/share/zoneinfo/{zone} && ln -sf /usr/share/zoneinfo/{zone} /etc/localtime")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return ["ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime"]


@register
class TimezoneSetAtStartup(FaultOperator[FileTarget]):
    name = "timezone-set-at-startup"
    category = Category.LOCALE_TIME
    description = "A .pth start-up hook moves every Python process to another time zone"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return probed_file(gold, "/etc/localtime")

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        return tests_calling(gold, LOCAL_TIME_FUNCTIONS)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        zone = rng.choice(["Asia/Tokyo", "America/Caracas", "Australia/Adelaide"])
        line = f"import os, time; os.environ['TZ'] = '{zone}'; time.tzset()"
        return [pth_hook(line, rng.choice(TZ_HOOK_NAMES))]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return [remove_pth_files(TZ_HOOK_NAMES)]
