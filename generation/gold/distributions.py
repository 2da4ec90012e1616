"""The Python distributions a gold image holds, at their exact versions, and the pip constraints file that
makes a rebuild of gold (a self-contained export) install those versions again."""

from __future__ import annotations

import json
import shlex

from cligym.sandbox import Sandbox

# Run by the image's own `python` (the one every install step's `python -m pip` is), from `/` so that no
# metadata in the working directory counts. Per name, the first found on sys.path is the one imported and
# the one pip sees as installed; later copies are shadowed. Left out: what was installed from a local
# directory or file (the project itself, editable or not, has a file: URL; a legacy `setup.py develop`
# leaves its metadata in the repository), which an index cannot serve by version; and a version pip would
# refuse in a constraints file (not PEP 440), which then stays unconstrained rather than failing the build.
_LIST_SCRIPT = r"""
import importlib.metadata, json, re, sys
repo = sys.argv[1].rstrip("/") + "/"
pep440 = re.compile(
    r"^([0-9]+!)?[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$", re.I
)
seen, found = set(), {}
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    key = re.sub(r"[-_.]+", "-", name or "").lower()
    if not key or key in seen:
        continue
    seen.add(key)
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    location = str(getattr(dist, "_path", "")) + "/"
    if url.startswith("file:") or location.startswith(repo) or not pep440.match(dist.version or ""):
        continue
    found[name] = dist.version
print(json.dumps(dict(sorted(found.items(), key=lambda item: item[0].lower()))))
"""


def installed_distributions(box: Sandbox, repo_path: str) -> dict[str, str]:
    """Name -> exact version of every Python distribution installed in ``box`` (a gold container) that an
    index can serve, the project at ``repo_path`` left out."""
    result = box.exec(f"python -c {shlex.quote(_LIST_SCRIPT)} {shlex.quote(repo_path)}", timeout=120, workdir="/")
    if not result.ok:
        raise RuntimeError(f"listing the installed distributions failed: {result.stderr[-2000:]}")
    listed: dict[str, str] = json.loads(result.stdout)
    return listed


def constraints_file(gold_name: str, distributions: dict[str, str]) -> str:
    """A pip constraints file pinning ``distributions``: pip only holds a distribution some step asks for to
    its line, so a pin of something no step installs (a Debian-installed package) changes nothing."""
    header = (
        f"# The Python distributions of cligym's gold environment for {gold_name}, at the versions the task was\n"
        "# validated with. Every pip install of the Dockerfile runs with -c this file.\n"
    )
    return header + "".join(f"{name}=={version}\n" for name, version in distributions.items())
