"""Installs the dependency floors pyproject.toml declares and runs our code against them, so that a floor set
too low fails here and not on a user's machine.

    .venv/bin/python scripts/check_floors.py                       # in a temporary directory
    .venv/bin/python scripts/check_floors.py --venv /tmp/floors    # kept there, and reused by the next run
    .venv/bin/python scripts/check_floors.py --set peft==0.7.1     # try another version of one package
    .venv/bin/python scripts/check_floors.py --list                # the floors per extra, nothing installed

The floor environment is a venv of .venv's base interpreter whose own site-packages comes first on sys.path
and .venv's after it (a .pth file). ``pip install PKG==FLOOR`` puts each floor in the venv's own
site-packages, ahead of .venv's newer copy, while everything else (torch above all) is reused from .venv
instead of downloaded: pip reads every sys.path entry, so it counts .venv's packages as installed, and it
never removes them, as they lie outside the venv's prefix.

1. Every package with a floor, at the highest floor any extra declares (one set pip must resolve together).
2. In it: scripts/floor_probe.py (one check per thing we call) and the Docker-free tests that exercise the
   floors (FLOOR_TESTS).
3. Each extra that declares a lower floor of a package than that set holds (``[data]``'s huggingface_hub,
   which ``[train]`` lifts for transformers) is installed at its own floors and probed again.
Exits 1 when a floor does not hold, after what failed and the table of floors; 2 when pip cannot install them
together (its resolver's explanation shown).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
import venv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
PROBE = REPO / "scripts" / "floor_probe.py"
PROJECT = "cligym"
BASE = "base"  # [project] dependencies, named like an extra here
LAYER_PTH = "zz-cligym-layer.pth"  # processed after the venv's own .pth files

# Declared dependencies left at .venv's version, and why.
NOT_AT_FLOOR = {
    "torch": "CUDA builds of several GB; reused from .venv",
    "vllm": "a GPU serving stack with its own torch pin",
    "ray": "a cluster runtime; the Ray tests use .venv's",
    "flash-attn": "compiles CUDA kernels",
    "liger-kernel": "Triton kernels, GPU only",
    "psutil": "only the Ray tests use it",
    "pytest": "runs the checks",
    "pytest-timeout": "runs the checks",
    "ruff": "a development tool",
    "mypy": "a development tool",
    "build": "a development tool",
}
# Installed into the floor venv only when the layering failed (pip judged .venv's copy unusable): gigabytes.
HEAVY = ("torch", "triton", "nvidia-*", "cuda-*")
# The Docker-free tests that exercise the floors: training (a CPU run of train.py, the 32B dry run, ZeRO-3
# on a real DeepSpeed rank), datasets, and the base stack (the openai client, settings, Harbor files, reports).
FLOOR_TESTS = (
    "tests/training",
    "tests/filtering",
    "tests/core/llm",
    "tests/core/test_settings.py",
    "tests/rollout/harbor",
    "tests/rollout/test_rollout_report.py",
    "tests/generation/test_report.py",
)
# Tests that cannot pass at the floors for a reason outside our code.
DESELECTED = {
    "tests/filtering/test_push.py": "the stand-in Hub (tests/filtering/hub_stand_in.py) does not answer the "
    "repository tree listing (GET /api/datasets/REPO/tree/REVISION) that push_to_hub calls before datasets 4.8",
}
# What each extra's own floors are probed with (scripts/floor_probe.py --part).
PROBE_PARTS = {BASE: "base", "data": "data", "train": "train"}


class FloorsError(Exception):
    """The floors cannot be read, installed or checked; the message says what to fix."""


def read_groups(pyproject: Path = PYPROJECT) -> dict[str, list[Requirement]]:
    """[project] dependencies (as ``base``) and each extra, with references to our own extras expanded."""
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = {BASE: list(project.get("dependencies", []))} | dict(project.get("optional-dependencies", {}))
    raw = {group: [Requirement(line) for line in lines] for group, lines in declared.items()}

    def expand(group: str, seen: tuple[str, ...]) -> list[Requirement]:
        if group not in raw:
            raise FloorsError(f"pyproject.toml refers to an extra [{group}] it does not declare")
        expanded = []
        for requirement in raw[group]:
            if canonicalize_name(requirement.name) != PROJECT:
                expanded.append(requirement)
                continue
            for extra in sorted(requirement.extras):
                if extra in seen:
                    raise FloorsError(f"the extras refer to each other in a cycle: {' -> '.join((*seen, extra))}")
                expanded += expand(extra, (*seen, extra))
        return expanded

    return {group: expand(group, (group,)) for group in raw}


def floor_of(requirement: Requirement) -> Version | None:
    """The version of a ``>=`` specifier; None for a pin (a tool) or no lower bound."""
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    return max(floors) if floors else None


def floors_by_group(groups: dict[str, list[Requirement]]) -> dict[str, dict[str, Version]]:
    """Each group's floors by canonical name, without the packages left at .venv's version."""
    result: dict[str, dict[str, Version]] = {}
    for group, requirements in groups.items():
        floors: dict[str, Version] = {}
        for requirement in requirements:
            name, floor = canonicalize_name(requirement.name), floor_of(requirement)
            if floor is not None and name not in NOT_AT_FLOOR:
                floors[name] = max(floor, floors.get(name, floor))
        result[group] = floors
    return result


def highest_floors(floors: dict[str, dict[str, Version]]) -> dict[str, Version]:
    """One floor per package: the highest any group declares (what installing every extra needs)."""
    highest: dict[str, Version] = {}
    for group_floors in floors.values():
        for name, floor in group_floors.items():
            highest[name] = max(floor, highest.get(name, floor))
    return dict(sorted(highest.items()))


def own_floor_phases(
    floors: dict[str, dict[str, Version]], highest: dict[str, Version]
) -> dict[str, dict[str, Version]]:
    """The groups declaring a lower floor of some package than ``highest``, with those lower floors."""
    phases = {}
    for group, group_floors in floors.items():
        lower = {name: floor for name, floor in group_floors.items() if floor < highest[name]}
        if lower:
            phases[group] = lower
    return phases


def overridden(floors: dict[str, Version], settings: Sequence[str]) -> dict[str, Version]:
    """``floors`` with ``NAME==VERSION`` settings applied (a version to try instead of the declared floor)."""
    changed = dict(floors)
    for setting in settings:
        name, separator, version = setting.partition("==")
        if not separator or not version:
            raise FloorsError(f"--set {setting!r}: expected NAME==VERSION, e.g. peft==0.7.1")
        changed[canonicalize_name(name)] = Version(version)
    return changed


@dataclass(frozen=True)
class FloorVenv:
    """A venv layered over .venv (see the module docstring)."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return self.path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def create(self, layer: Path) -> None:
        if not self.python.exists():
            # From .venv's base interpreter (venv follows sys._base_executable); pip comes from the layer.
            venv.EnvBuilder(with_pip=False, clear=True).create(self.path)
        (self.site_packages / LAYER_PTH).write_text(f"import site; site.addsitedir({str(layer)!r})\n")

    def pip_install(self, pins: dict[str, Version]) -> float:
        """Exactly ``pins`` (and what they need that the layer lacks); the seconds it took."""
        started = time.monotonic()
        command = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar=off"]
        result = subprocess.run([*command, *(f"{name}=={floor}" for name, floor in pins.items())],
                                capture_output=True, text=True)  # fmt: skip
        if result.returncode != 0:
            # The resolver's explanation ("The conflict is caused by: ...") is on stdout, the verdict on stderr;
            # this machine's unreachable extra index locations are noise.
            progress = ("Collecting", "Requirement already satisfied", "  Using cached", "  Downloading")
            lines = [
                line
                for line in (result.stdout + result.stderr).splitlines()
                if "is ignored" not in line and not line.startswith(progress)
            ]
            raise FloorsError("pip cannot install the floors together:\n" + "\n".join(lines[-40:]))
        return time.monotonic() - started

    def installed_here(self) -> list[str]:
        """The distributions in the venv's own site-packages (canonical names)."""
        return sorted(
            canonicalize_name(path.name.removesuffix(".dist-info").rsplit("-", 1)[0])
            for path in self.site_packages.glob("*.dist-info")
        )

    def versions(self, names: Sequence[str]) -> dict[str, dict[str, str | None]]:
        """What the venv's interpreter loads for each distribution (scripts/floor_probe.py --versions)."""
        found = subprocess.run([str(self.python), str(PROBE), "--versions", *names], capture_output=True, text=True)
        if found.returncode != 0:
            raise FloorsError(f"the floors do not even import:\n{found.stderr[-3000:]}")
        loaded: dict[str, dict[str, str | None]] = json.loads(found.stdout.splitlines()[-1])
        return loaded


def check_installed(floor_venv: FloorVenv, pins: dict[str, Version]) -> list[str]:
    """Problems: a pin that its import does not load at its version, or a heavy package pip pulled in."""
    problems = []
    for name, found in floor_venv.versions(list(pins)).items():
        versions = {version for version in (found["version"], found["imported"]) if version is not None}
        if found["version"] is None or {Version(version) for version in versions} != {pins[name]}:
            problems.append(f"{name}: the floor is {pins[name]}, the floor venv loads {' / '.join(sorted(versions))}")
        elif found["file"] and not Path(found["file"]).resolve().is_relative_to(floor_venv.site_packages.resolve()):
            # .venv holds that very version: the layering is unproven for it, but the floor is what runs.
            print(f"    {name} {pins[name]} is .venv's own copy ({found['file']})")
    heavy = [name for name in floor_venv.installed_here() if any(fnmatch.fnmatch(name, pattern) for pattern in HEAVY)]
    if heavy:
        problems.append(f"pip installed {', '.join(heavy)} instead of reusing .venv's: the layering did not work")
    return problems


def floor_environment(floor_venv: FloorVenv) -> dict[str, str]:
    """The environment the checks run in: bench/gpu_check.sh runs with the floor venv's Python, the Hub and
    DeepSpeed caches kept apart from .venv's, quieter progress bars."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cligym-floors"
    return os.environ | {
        "PYTHON": str(floor_venv.python),
        "HF_HOME": str(floor_venv.path / "hf-home"),
        # DeepSpeed builds its CPU communication op at the first ZeRO-3 run; one build per DeepSpeed version,
        # kept across runs (.venv's newer DeepSpeed has a build of its own in the default place).
        "TORCH_EXTENSIONS_DIR": str(cache / "torch-extensions"),
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "TQDM_DISABLE": "1",
    }


def run_step(title: str, command: Sequence[str], env: dict[str, str]) -> tuple[bool, float]:
    print(f"==> {title}", flush=True)
    started = time.monotonic()
    result = subprocess.run(list(command), cwd=REPO, env=env, stdin=subprocess.DEVNULL)
    return result.returncode == 0, time.monotonic() - started


def floors_table(highest: dict[str, Version], floors: dict[str, dict[str, Version]]) -> str:
    lines = [f"{'package':<18} {'floor':<10} declared in"]
    for name, floor in highest.items():
        groups = [f"[{group}] {group_floors[name]}" for group, group_floors in floors.items() if name in group_floors]
        lines.append(f"{name:<18} {floor!s:<10} {', '.join(groups)}")
    return "\n".join(lines)


@contextmanager
def venv_directory(path: Path | None) -> Iterator[Path]:
    if path is not None:
        yield path
        return
    scratch = Path(tempfile.mkdtemp(prefix="cligym-floors-"))
    try:
        yield scratch / "venv"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def install(floor_venv: FloorVenv, pins: dict[str, Version], timings: dict[str, float], step: str) -> list[str]:
    """``pins`` installed into the floor venv; the problems found with what is installed, each printed."""
    timings[step] = floor_venv.pip_install(pins)
    problems = check_installed(floor_venv, pins)
    for problem in problems:
        print(f"FAILED {problem}", flush=True)
    return problems


def check(venv_path: Path | None, settings: Sequence[str], run_tests: bool) -> bool:
    """Every phase of the module docstring; True when the floors hold."""
    if sys.prefix == sys.base_prefix:
        raise FloorsError("run this with .venv/bin/python: the floor venv is layered over the running venv")
    layer = Path(sysconfig.get_paths()["purelib"])
    floors = floors_by_group(read_groups())
    highest = overridden(highest_floors(floors), settings)
    print(floors_table(highest, floors), flush=True)
    failures: list[str] = []
    timings: dict[str, float] = {}
    with venv_directory(venv_path) as path:
        floor_venv = FloorVenv(path)
        floor_venv.create(layer)
        env = floor_environment(floor_venv)
        python = str(floor_venv.python)
        print(f"==> installing {len(highest)} floors into {path} (layered over {layer})", flush=True)
        failures += install(floor_venv, highest, timings, "install")
        others = sorted(set(floor_venv.installed_here()) - set(highest))
        print(f"    besides the floors, what .venv's versions do not satisfy: {', '.join(others) or 'nothing'}")
        ok, timings["probe"] = run_step("probe at the floors", [python, str(PROBE)], env)
        failures += [] if ok else ["the probe at the floors"]
        if run_tests:
            for test, reason in DESELECTED.items():
                print(f"    not run at the floors: {test}: {reason}")
            tests = [python, "-m", "pytest", *FLOOR_TESTS, "-m", "not docker", "-q", "-p", "no:cacheprovider",
                     *(f"--deselect={test}" for test in DESELECTED)]  # fmt: skip
            ok, timings["tests"] = run_step(f"tests at the floors: {' '.join(FLOOR_TESTS)}", tests, env)
            failures += [] if ok else ["the tests at the floors"]
        for group, lower in own_floor_phases(floors, highest).items():
            pins = ", ".join(f"{name} {floor}" for name, floor in lower.items())
            if group not in PROBE_PARTS:
                failures.append(f"[{group}] declares floors of its own ({pins}) but no probe checks that extra")
                continue
            print(f"==> [{group}] at its own floors: {pins}", flush=True)
            failures += install(floor_venv, lower, timings, f"install [{group}]")
            probe = [python, str(PROBE), "--part", PROBE_PARTS[group]]
            ok, timings[f"probe [{group}]"] = run_step(f"probe [{group}] at its own floors", probe, env)
            failures += [] if ok else [f"the probe of [{group}] at its own floors ({pins})"]
    print("timings: " + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in timings.items()))
    if failures:
        print("floors that do not hold:\n  - " + "\n  - ".join(failures), flush=True)
        print(floors_table(highest, floors), flush=True)
    return not failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, help="where to build the floor venv (kept); default: a temporary one")
    parser.add_argument("--set", action="append", default=[], metavar="NAME==VERSION", help="try this version")
    parser.add_argument("--no-tests", action="store_true", help="install and probe only")
    parser.add_argument("--list", action="store_true", help="print the floors and exit")
    args = parser.parse_args(argv)
    try:
        if args.list:
            floors = floors_by_group(read_groups())
            print(floors_table(highest_floors(floors), floors))
            return 0
        return 0 if check(args.venv, args.set, not args.no_tests) else 1
    except FloorsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
