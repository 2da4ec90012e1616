"""From a repo spec to a gold record: fetch, detect, build the image, run the tests twice, probe."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from docker.errors import ImageNotFound

from cligym import __version__
from cligym.base_images import ensure_base_image
from cligym.docker_connection import docker_client
from cligym.generation.gold.baseline import GoldBuildError, judge_baseline
from cligym.generation.gold.detect import InstallPlan, detect_install_plan
from cligym.generation.gold.detect_native import native_install_plan
from cligym.generation.gold.distributions import installed_distributions
from cligym.generation.gold.dockerfile import (
    PYTEST_REPORT_PATH,
    SOURCE_DIR_IN_CONTEXT,
    parse_collected,
    pytest_base_command,
    pytest_collect_command,
    pytest_run_command,
    render_gold_dockerfile,
)
from cligym.generation.gold.harness import record_harness
from cligym.generation.gold.missing_requirements import missing_requirements, older_pytest, top_level_modules
from cligym.generation.gold.probe import run_probe
from cligym.generation.gold.pytest_setup import PytestSetup, setup_from_report
from cligym.generation.gold.record import GOLD_SCHEMA_VERSION, GoldImage, GoldRecord, SuiteRun
from cligym.generation.gold.source import SourceTree, fetch_source
from cligym.generation.gold.suite_run import install_report_plugin, read_outcomes, run_suite
from cligym.generation.gold.tracked_files import is_build_metadata, repo_file_hashes
from cligym.generation.repo_spec import RepoSpec, load_repo_spec
from cligym.generation.runners.adapter import SuiteRunner, suite_runner
from cligym.image_build import build_image
from cligym.labels import cligym_labels
from cligym.sandbox import Sandbox
from cligym.settings import Settings

GOLD_STAGE = "gold"
ROLE_GOLD = "gold"
Progress = Callable[[str], None]
# Rebuilds at most, each installing what the previous image showed missing.
MAX_DISCOVERY_ROUNDS = 2


def gold_dir(run_dir: Path, name: str) -> Path:
    return run_dir / "gold" / name


def gold_image_tag(name: str, spec_hash: str) -> str:
    return f"cligym/gold-{name}:{spec_hash}"


def build_gold(
    spec_path: Path, settings: Settings, run_dir: Path, progress: Progress, rebuild: bool = False
) -> GoldRecord:
    """Build (or reuse) the gold environment of one spec and write its record under ``run_dir/gold/NAME``."""
    spec, spec_dir = load_repo_spec(spec_path)
    return build_gold_from_spec(spec, spec_dir, settings, run_dir, progress, rebuild)


def build_gold_from_spec(
    spec: RepoSpec, spec_dir: Path, settings: Settings, run_dir: Path, progress: Progress, rebuild: bool = False
) -> GoldRecord:
    """``build_gold`` for a spec already read (relative source paths resolve against ``spec_dir``)."""
    out_dir = gold_dir(run_dir, spec.name)
    timings: dict[str, float] = {}
    started = time.monotonic()

    progress("fetching source")
    source = fetch_source(spec, spec_dir, settings.base_image.debian_suite)
    # Another runner than pytest: the spec's own command, read by its adapter (no collection, no discovery).
    runner = suite_runner(spec, spec.repo_path)
    if runner is None:
        detected = detect_install_plan(source.root)
        _check_has_tests(spec, detected, source)
        if source.image is not None:
            # The image is installed already: detection only says where the tests are and how they run.
            detected = detected.model_copy(update={"install_steps": [], "system_packages": []})
        base_command = pytest_base_command(spec, detected)
    else:
        detected = native_install_plan(spec, source)
        base_command = str(spec.test)
    base_reference = source.image or spec.base_image or ensure_base_image(settings.base_image, progress).reference
    base_id = str(docker_client().images.get(base_reference).id)
    logs = out_dir / "logs"
    discovered_path = out_dir / "discovered-requirements.json"
    discovered = _read_discovered(discovered_path, source.digest)
    project_modules = top_level_modules(source.root)

    for round_index in range(MAX_DISCOVERY_ROUNDS + 1):
        plan = detected.model_copy(update={"discovered_requirements": discovered})
        dockerfile = render_gold_dockerfile(spec, plan, source, base_reference)
        spec_hash = hashlib.sha256(f"{dockerfile}\0{source.digest}\0{base_id}".encode()).hexdigest()[:12]
        tag = gold_image_tag(spec.name, spec_hash)
        # The record is reusable when the image, the test command and the way we judge and probe are the same.
        key_command = pytest_run_command(base_command) if runner is None else runner.run_command(base_command)
        record_key = hashlib.sha256(f"{spec_hash}\0{key_command}\0{GOLD_SCHEMA_VERSION}".encode()).hexdigest()[:12]
        record_path = out_dir / "record.json"
        if round_index == 0 and record_path.is_file() and not rebuild:
            existing = _read_previous_record(record_path)
            if existing is not None and existing.record_key == record_key and image_exists(tag):
                progress("up to date")
                return existing

        _build_image(spec, source, dockerfile, tag, spec_hash, out_dir, rebuild, progress, timings)
        image = docker_client().images.get(tag)
        size = int(image.attrs.get("Size", 0))
        if size > spec.max_image_mb * 1_000_000:
            docker_client().images.remove(tag, force=True)
            raise GoldBuildError(
                f"{spec.name}: the gold image is {size / 1e6:.0f} MB, over the budget of {spec.max_image_mb} MB",
                "trim system_packages / test extras, or raise max_image_mb in the repo spec",
            )

        logs.mkdir(parents=True, exist_ok=True)
        phase = time.monotonic()
        first_run = None
        if runner is not None:
            collected: list[str] = []
            pytest_setup, test_command, missing = None, key_command, []
            break
        progress("collecting tests")
        collected, pytest_setup, collect_output, pytest_major = _collect(tag, base_command, spec, settings, logs)
        # Every later run (the second below, validation, the exported verifiers) is pinned to this setup.
        test_command = pytest_run_command(base_command, setup=pytest_setup)
        missing = _new(missing_requirements(collect_output, project_modules), discovered)
        ceiling = older_pytest(collect_output, len(collected), pytest_major, discovered)
        if ceiling is not None and ceiling not in discovered:
            missing.append(ceiling)
        if not missing:
            progress("running the tests (1/2)")
            first_run = _run_suite(tag, test_command, spec, settings, logs / "run1")
            output = (logs / "run1.out.txt").read_text(errors="replace")
            missing = _new(missing_requirements(output, project_modules), discovered)
        if not missing or round_index == MAX_DISCOVERY_ROUNDS:
            break
        progress(f"installing what the tests showed missing: {', '.join(missing)}")
        discovered = [*discovered, *missing]
        discovered_path.write_text(json.dumps({"source": source.digest, "requirements": discovered}) + "\n")

    if first_run is None:
        progress("running the tests (1/2)")
        first_run = _run_suite(tag, test_command, spec, settings, logs / "run1", runner)
    if runner is not None:
        collected = sorted(outcome.test_id for outcome in first_run.outcomes)
    # Read off a container no test has run in yet: the image as built.
    with Sandbox(tag, settings=settings.sandbox, name_prefix="cligym-gold") as box:
        tracked = _tracked_in_image(box, source, spec.repo_path)
        distributions = installed_distributions(box, spec.repo_path)
    progress("running the tests (2/2)")
    runs = [first_run, _run_suite(tag, test_command, spec, settings, logs / "run2", runner)]
    verdict = judge_baseline(spec.name, runs[0], runs[1])
    timings["baseline"] = round(time.monotonic() - phase, 1)

    phase = time.monotonic()
    progress("probing what the tests use")
    unit_tests = None if runner is None else verdict.gold
    probe = run_probe(tag, test_command, spec.repo_path, spec.timeout, settings.sandbox, unit_tests)
    timings["probe"] = round(time.monotonic() - phase, 1)
    timings["total"] = round(time.monotonic() - started, 1)

    durations = {o.test_id: o.duration_s for o in runs[0].outcomes if o.test_id in set(verdict.gold)}
    record = GoldRecord(
        name=spec.name,
        spec=spec,
        spec_hash=spec_hash,
        record_key=record_key,
        source=source.description,
        image=GoldImage(
            tag=tag,
            id=str(image.id),
            size_bytes=size,
            base_reference=base_reference,
            environment=list(image.attrs.get("Config", {}).get("Env") or []),
        ),
        dockerfile=dockerfile,
        pinned_dockerfile=render_gold_dockerfile(spec, plan, source, base_reference, pinned=True),
        installed_distributions=distributions,
        repo_path=spec.repo_path,
        install_plan=plan,
        test_command=test_command,
        base_test_command=base_command,
        pytest_setup=pytest_setup,
        collected_tests=collected,
        runs=runs,
        gold_tests=verdict.gold,
        flaky_tests=verdict.flaky,
        failing_tests=verdict.failing,
        skipped_tests=verdict.skipped,
        test_durations_s=durations,
        tracked_files=tracked,
        probe=probe,
        timings_s=timings,
        created_at=datetime.now(UTC),
        cligym_version=__version__,
    )
    # Fingerprinted after the probe: the standard-library modules pytest needs are known then.
    plugins = pytest_setup.plugins if pytest_setup is not None else []
    with Sandbox(tag, settings=settings.sandbox, name_prefix="cligym-gold") as box:
        record.harness = record_harness(box, record, plugins)
    record.write(record_path)
    return record


def _read_previous_record(path: Path) -> GoldRecord | None:
    """The record of an earlier run, or None when it was written by an older schema (then it is rebuilt)."""
    try:
        return GoldRecord.read(path)
    except ValueError:
        return None


def image_exists(tag: str) -> bool:
    try:
        docker_client().images.get(tag)
    except ImageNotFound:
        return False
    return True


def _check_has_tests(spec: RepoSpec, plan: InstallPlan, source: SourceTree) -> None:
    if spec.test or spec.test_paths:
        return
    has_test_files = any(source.root.rglob("test_*.py")) or any(source.root.rglob("*_test.py"))
    if not plan.test_paths and not has_test_files:
        raise GoldBuildError(
            f"{spec.name}: {source.description} contains no tests",
            "many sdists ship without tests: pick a release that includes them, or use a git source",
        )


def _build_image(
    spec: RepoSpec,
    source: SourceTree,
    dockerfile: str,
    tag: str,
    spec_hash: str,
    out_dir: Path,
    rebuild: bool,
    progress: Progress,
    timings: dict[str, float],
) -> None:
    context = out_dir / "context"
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(dockerfile)
    if source.sdist_url is None and source.image is None:
        shutil.copytree(source.root, context / SOURCE_DIR_IN_CONTEXT, symlinks=True)
    if not rebuild and image_exists(tag):
        return
    progress(f"building {tag}")
    build_started = time.monotonic()
    with (out_dir / "build.log").open("w") as log:
        build_image(
            context,
            tag,
            labels=cligym_labels(ROLE_GOLD) | {"io.cligym.gold": spec.name, "io.cligym.spec-hash": spec_hash},
            on_log=lambda line: print(line, file=log),
        )
    timings["build"] = round(timings.get("build", 0.0) + time.monotonic() - build_started, 1)


def _read_discovered(path: Path, source_digest: str) -> list[str]:
    """Requirements an earlier build of the same source found missing: the rebuild starts from them."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(saved, dict) or saved.get("source") != source_digest:
        return []
    return [str(r) for r in saved.get("requirements", [])]


def _new(requirements: list[str], known: list[str]) -> list[str]:
    return [r for r in requirements if r not in known]


def _collect(
    tag: str, base_command: str, spec: RepoSpec, settings: Settings, logs: Path
) -> tuple[list[str], PytestSetup | None, str, int]:
    """Collected test ids, pytest's setup, the collection's output and the major release of pytest installed."""
    with Sandbox(tag, settings=settings.sandbox, name_prefix="cligym-gold") as box:
        install_report_plugin(box)
        result = box.exec(pytest_collect_command(base_command), timeout=600, workdir=spec.repo_path)
        report = None
        with contextlib.suppress(FileNotFoundError):
            report = box.read_file(PYTEST_REPORT_PATH)
        version = box.exec("python -c 'import pytest; print(pytest.__version__)'", timeout=60, workdir="/")
    output = result.stdout + result.stderr
    (logs / "collect.txt").write_text(output)
    major = version.stdout.strip().split(".")[0]
    return parse_collected(result.stdout), setup_from_report(report), output, int(major) if major.isdigit() else 0


def _tracked_in_image(box: Sandbox, source: SourceTree, repo_path: str) -> dict[str, str]:
    """The source's files (build metadata aside) hashed as the installed gold image has them."""
    wanted = {relative for relative in source.manifest() if not is_build_metadata(relative)}
    return dict(sorted(repo_file_hashes(box, repo_path, wanted).items()))


def _run_suite(
    tag: str, test_command: str, spec: RepoSpec, settings: Settings, log_prefix: Path, runner: SuiteRunner | None = None
) -> SuiteRun:
    with Sandbox(tag, settings=settings.sandbox, name_prefix="cligym-gold") as box:
        result = run_suite(box, test_command, spec.repo_path, spec.timeout)
        log_prefix.with_suffix(".out.txt").write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
        read = read_outcomes(box, runner)
    if read is None or (runner is not None and not read[0]):
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        what = "wrote no report" if runner is None else f"reported no test ({spec.runner} runner)"
        fields = "test, test_paths and pytest_args" if runner is None else "test, runner and report"
        raise GoldBuildError(
            f"{spec.name}: the test run {what} ({result.summary()}):\n{tail}",
            f"check {fields} in the repo spec",
        )
    outcomes, report, junit = read
    if report is not None:
        log_prefix.with_suffix(".report.json" if runner is None else f".{spec.runner}.txt").write_bytes(report)
    if junit is not None:
        log_prefix.with_suffix(".junit.xml").write_bytes(junit)
    return SuiteRun(
        exit_code=result.exit_code, duration_s=result.duration_s, timed_out=result.timed_out, outcomes=outcomes
    )
