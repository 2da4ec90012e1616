"""Which directories are Harbor trials: the ones named, or those under the job directories named."""

from __future__ import annotations

from pathlib import Path

from cligym.errors import CligymError
from cligym.rollout.harbor.files import CONFIG_FILE

NOT_A_JOB_HINT = "pass a job directory (jobs/<timestamp>), one trial directory in it, or the jobs directory"


def find_trial_dirs(paths: list[Path]) -> list[Path]:
    """The trial directories named, or under the job directories (or directory of jobs) named."""
    trials: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise CligymError(f"{path} is not a directory", NOT_A_JOB_HINT)
        if _is_trial_dir(path):
            trials.append(path)
            continue
        found = _trial_children(path) or [trial for job in _subdirs(path) for trial in _trial_children(job)]
        if not found:
            raise CligymError(f"{path} is not a Harbor job or trial directory (no trial found in it)", NOT_A_JOB_HINT)
        trials.extend(found)
    return list(dict.fromkeys(path.resolve() for path in trials))


def _is_trial_dir(path: Path) -> bool:
    # A job directory has config.json too; only a trial has agent/ (made when it starts) or trial.log.
    return (path / CONFIG_FILE).is_file() and ((path / "agent").is_dir() or (path / "trial.log").is_file())


def _subdirs(path: Path) -> list[Path]:
    return sorted(child for child in path.iterdir() if child.is_dir())


def _trial_children(path: Path) -> list[Path]:
    return [child for child in _subdirs(path) if _is_trial_dir(child)]
