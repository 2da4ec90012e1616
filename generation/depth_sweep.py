"""The diagnosis-free repair sweep: what an administrator tries first without reading the error.

  1. reinstall every Debian package whose files ``dpkg --verify`` reports changed or missing (conffiles
     included);
  2. force-reinstall every Python distribution whose files differ from the hashes in its RECORD;
  3. delete the start-up hooks no package owns: ``.pth`` files and ``sitecustomize``/``usercustomize``
     modules that neither dpkg nor a distribution's RECORD lists.

A task this sweep repairs is *shallow*: it is kept, marked in its record, its ``task.toml`` and the report,
so users can select the deep ones. Each step runs even when an earlier one fails (a broken interpreter stops
the Python steps, not the Debian one).
"""

from __future__ import annotations

import shlex
import threading

from cligym.sandbox import Sandbox
from cligym.settings import SandboxSettings

APT = "DEBIAN_FRONTEND=noninteractive apt-get"
BASELINE_FILE = "/tmp/cligym/dpkg-verify-gold.txt"
DPKG_VERIFY_PATHS = "dpkg --verify 2>/dev/null | awk '{print $NF}'"
# What the gold image itself already reports (a file the image build removed on purpose) is not a finding.
REINSTALL_CHANGED_PACKAGES = (
    f"packages=$({DPKG_VERIFY_PATHS} | grep -vxF -f {BASELINE_FILE} | xargs -r dpkg -S 2>/dev/null "
    "| cut -d: -f1 | sort -u | tr '\\n' ' '); "
    'if [ -n "$packages" ]; then apt-get update -qq && '
    f"{APT} install -y -qq --reinstall -o Dpkg::Options::=--force-confmiss "
    "-o Dpkg::Options::=--force-confnew $packages; fi"
)
# Standard library only, in isolated mode: PYTHON* variables and the per-user site do not steer it.
_CHANGED_DISTRIBUTIONS = """
import base64, hashlib, importlib.metadata as md, os
for dist in md.distributions():
    for entry in dist.files or []:
        if not entry.hash or entry.hash.mode != 'sha256':
            continue
        path = str(dist.locate_file(entry))
        try:
            digest = hashlib.sha256(open(path, 'rb').read()).digest()
        except OSError:
            digest = b''
        if base64.urlsafe_b64encode(digest).rstrip(b'=').decode() != entry.hash.value:
            print(dist.metadata['Name'] + '==' + dist.version)
            break
"""
_UNOWNED_HOOKS = """
import importlib.metadata as md, os, site, subprocess, sys
owned = set()
for dist in md.distributions():
    owned.update(os.path.realpath(str(dist.locate_file(f))) for f in dist.files or [])
dirs = [*site.getsitepackages(), site.getusersitepackages(), *[p for p in sys.path if os.path.isdir(p)]]
for directory in dict.fromkeys(dirs):
    if not os.path.isdir(directory):
        continue
    for name in os.listdir(directory):
        if not (name.endswith('.pth') or name in ('sitecustomize.py', 'usercustomize.py')):
            continue
        path = os.path.realpath(os.path.join(directory, name))
        if path in owned or subprocess.run(['dpkg', '-S', path], capture_output=True).returncode == 0:
            continue
        print(path)
"""
REINSTALL_CHANGED_DISTRIBUTIONS = (
    f"changed=$(python -I -c {shlex.quote(_CHANGED_DISTRIBUTIONS)} 2>/dev/null | sort -u); "
    'if [ -n "$changed" ]; then python -I -m pip install -q --force-reinstall --no-deps $changed; fi'
)
DROP_UNOWNED_HOOKS = f"python -I -c {shlex.quote(_UNOWNED_HOOKS)} 2>/dev/null | xargs -r rm -f"
SWEEP = (REINSTALL_CHANGED_PACKAGES, REINSTALL_CHANGED_DISTRIBUTIONS, DROP_UNOWNED_HOOKS)


_baselines: dict[str, list[str]] = {}
_baseline_lock = threading.Lock()


def gold_dpkg_findings(gold_image: str, settings: SandboxSettings) -> list[str]:
    """The paths ``dpkg --verify`` reports in the gold image itself (computed once per image)."""
    with _baseline_lock:
        if gold_image not in _baselines:
            with Sandbox(gold_image, settings=settings, name_prefix="cligym-validate") as box:
                _baselines[gold_image] = box.exec(DPKG_VERIFY_PATHS, timeout=300).stdout.split()
        return _baselines[gold_image]


def run_sweep(box: Sandbox, gold_findings: list[str], timeout: float = 900) -> list[str]:
    """Run every step of the sweep in ``box`` (``gold_findings``: what dpkg reports in gold already);
    returns a line per step that failed (the sweep goes on)."""
    box.write_file(BASELINE_FILE, "".join(f"{path}\n" for path in gold_findings) or "\n")
    failures = []
    for command in SWEEP:
        result = box.exec(command, timeout=timeout)
        if not result.ok:
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:]
            failures.append(f"{command.split(';')[0][:40]}...: {result.summary()} {' '.join(tail)}")
    return failures
