"""The environment the verifier's tests run in: the task image's own, fixed when the task is exported.

A harness may start the verifier from a login or an interactive shell (`bash -lc`, `bash -ic`), which reads
files the agent could write (/etc/profile.d, ~/.profile, ~/.bashrc) exporting PYTHONPATH, TMPDIR or
LOGNAME; and PID 1's environment, which an earlier verifier read as the image's, is memory a root agent can
rewrite through /proc/1/mem (a TMPDIR that made the verifier's fresh bytecode directory fail, an LD_PRELOAD
for its interpreter). So the values come from the image's configuration and the break's ENV steps, written
into test.sh; the task's start-up file is applied after, as bash would.
"""

from __future__ import annotations

import fnmatch
import shlex

from cligym.docker_connection import docker_client
from cligym.errors import CligymError
from cligym.generation.gold.harness import HarnessManifest
from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep

# The variables the interpreter, the loader, getpass, tempfile, the locale and the other runtimes read.
SENSITIVE_PATTERNS = (
    "PYTHON*|LD_*|LC_*|TMPDIR|TEMP|TMP|LOGNAME|USER|LNAME|USERNAME|HOME|LANG|LANGUAGE|TZ|GCONV_PATH|LOCPATH",
    "GLIBC_TUNABLES|NODE_OPTIONS|NODE_PATH|PERL5LIB|RUBYOPT",
)
# What `docker exec` sets when the image does not: the tests ran with it in validation.
DOCKER_EXEC_DEFAULTS = {"HOME": "/root"}


class ImageEnvironmentError(CligymError):
    """The gold image whose environment the verifier must fix is not on this Docker host."""


def image_environment(gold: GoldRecord, break_steps: list[BreakStep]) -> dict[str, str]:
    """The task image's environment: gold's image configuration (kept in the record, else read off the image),
    then the break's ENV steps in order."""
    try:
        configured = gold.image.environment or docker_client().images.get(gold.image.id).attrs["Config"].get("Env")
    except Exception as error:  # docker.errors.ImageNotFound, a daemon that does not answer
        raise ImageEnvironmentError(
            f"{gold.name}: its gold record keeps no image environment and the gold image {gold.image.tag} is not "
            f"on this Docker host ({error})",
            "run `cligym gold` on its spec again (the record then keeps it), then export",
        ) from error
    values = dict(DOCKER_EXEC_DEFAULTS)
    for entry in configured or []:
        name, equals, value = str(entry).partition("=")
        if equals:
            values[name] = value
    values.update(variable for step in break_steps if (variable := step.variable()) is not None)
    return values


# The same patterns as the shell's `case` below, matched as it matches them.
_SENSITIVE = "|".join(SENSITIVE_PATTERNS).split("|")


def _sensitive(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _SENSITIVE)


def container_environment_script(values: dict[str, str]) -> str:
    """Shell lines that unset every sensitive variable the calling shell had and export the image's."""
    exports = "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted(values.items()) if _sensitive(name)
    )
    return f"""cligym_sensitive() {{
  case "$1" in
    {SENSITIVE_PATTERNS[0]}) ;;
    {SENSITIVE_PATTERNS[1]}) ;;
    *) return 1 ;;
  esac
}}
for cligym_name in $(compgen -e); do
  cligym_sensitive "$cligym_name" && unset "$cligym_name"
done
{exports}"""


def on_task_search_path(manifest: HarnessManifest, environment: dict[str, str]) -> HarnessManifest:
    """Gold's manifest with the search path the task's tests have: a break's ``ENV PYTHONPATH`` puts its
    directories after the repository and ``/tests``, before the standard library (where gold's own entries
    sit), and a ``sitecustomize`` there runs at start-up. Without them a module planted there, in front of a
    harness module, would be looked for nowhere (red team 13)."""
    entries = [p for p in environment.get("PYTHONPATH", "").split(":") if p and p not in manifest.search_path]
    if not entries:
        return manifest
    path = manifest.search_path
    at = next((i for i, directory in enumerate(path) if directory in manifest.hook_dirs), len(path))
    return manifest.model_copy(
        update={"search_path": [*path[:at], *entries, *path[at:]], "hook_dirs": [*manifest.hook_dirs, *entries]}
    )
