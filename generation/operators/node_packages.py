"""Node.js projects: the packages their tests load from ``node_modules`` (removed, an entry point gone, emptied)
and a preload script ``NODE_OPTIONS`` names that makes one of them unresolvable. Targets come from the
per-test probe's opened files: a package no test loads is not a target."""

from __future__ import annotations

import json
import posixpath
import random
import re
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, NodePackageTarget, env, register, run

_PACKAGE_DIR = re.compile(r"^(?P<dir>.*/node_modules/(?:@[^/]+/)?[^/]+)/(?P<rest>.+)$")
PRELOAD_FILES = ["/etc/nodejs/preload.js", "/usr/local/lib/node/site-init.js"]


def loaded_packages(gold: GoldRecord) -> dict[str, list[str]]:
    """Package directory under the repository's node_modules -> the files of it the tests opened."""
    per_test = gold.probe.per_test
    if per_test is None:
        return {}
    found: dict[str, set[str]] = {}
    prefix = gold.repo_path.rstrip("/") + "/node_modules/"
    for context in per_test.contexts.values():
        for path in context.files:
            match = _PACKAGE_DIR.match(path)
            if match and path.startswith(prefix) and "/.bin/" not in path:
                found.setdefault(match["dir"], set()).add(path)
    return {directory: sorted(files) for directory, files in sorted(found.items())}


def _package_name(directory: str) -> str:
    return directory.rsplit("/node_modules/", 1)[1]


def _reinstall(gold_repo: str, directory: str) -> list[str]:
    """npm puts back what the lock file gold's install wrote names, the package's own files included."""
    return [f"rm -rf {shlex.quote(directory)}", f"cd {shlex.quote(gold_repo)} && npm install --no-audit --no-fund"]


def package_targets(gold: GoldRecord) -> list[NodePackageTarget]:
    """One target a loaded package (``project``: the repository, where npm reinstalls it)."""
    return [
        NodePackageTarget(path=directory, package=_package_name(directory), project=gold.repo_path)
        for directory in loaded_packages(gold)
    ]


class _PackageFault(FaultOperator[NodePackageTarget]):
    category = Category.NODE_PACKAGE

    def targets(self, gold: GoldRecord) -> list[NodePackageTarget]:
        return package_targets(gold)

    def expected_failures(self, gold: GoldRecord, target: NodePackageTarget) -> frozenset[str] | None:
        footprint = gold.footprint
        if footprint is None:
            return None
        files = loaded_packages(gold).get(target.path, [])
        return frozenset().union(*(footprint.tests_using("files", path) for path in files))

    def repair_commands(self, target: NodePackageTarget) -> list[str]:
        return _reinstall(target.project, target.path)


@register
class NodeModuleRemoved(_PackageFault):
    name = "node-module-removed"
    description = "Delete an installed Node.js package the tests load from node_modules"

    def break_steps(self, target: NodePackageTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -rf {shlex.quote(target.path)}")]


@register
class NodeModuleEntryMissing(_PackageFault):
    name = "node-module-entry-missing"
    description = "Point an installed Node.js package's main entry at a file that does not exist"

    def break_steps(self, target: NodePackageTarget, rng: random.Random) -> list[BreakStep]:
        missing = rng.choice(["lib/index.js", "dist/main.js", "build/index.cjs"])
        manifest = f"{target.path}/package.json"
        script = (
            "import json, sys; path = sys.argv[1]; data = json.load(open(path)); data['main'] = sys.argv[2]; "
            "data.pop('exports', None); open(path, 'w').write(json.dumps(data, indent=2))"
        )
        return [run(f"python3 -c {shlex.quote(script)} {shlex.quote(manifest)} {missing}")]


@register
class NodeModuleFilesEmptied(_PackageFault):
    name = "node-module-files-emptied"
    description = "Empty the JavaScript files of an installed Node.js package the tests load"

    def break_steps(self, target: NodePackageTarget, rng: random.Random) -> list[BreakStep]:
        directory = shlex.quote(target.path)
        return [
            run(
                f"find {directory} -name '*.js' -not -path '*/node_modules/*/node_modules/*' -exec truncate -s 0 {{}} +"
            )
        ]


@register
class NodePreloadHidesModule(FaultOperator[NodePackageTarget]):
    name = "node-preload-hides-module"
    category = Category.PROCESS_ENVIRONMENT
    description = "NODE_OPTIONS preloads a script that makes one installed package unresolvable"

    def targets(self, gold: GoldRecord) -> list[NodePackageTarget]:
        node = any(posixpath.basename(f.path) in ("node", "nodejs") for f in gold.probe.executables)
        if not node:
            return []
        return [
            NodePackageTarget(path=d, package=_package_name(d), project=gold.repo_path) for d in loaded_packages(gold)
        ]

    def expected_failures(self, gold: GoldRecord, target: NodePackageTarget) -> frozenset[str] | None:
        return NodeModuleRemoved().expected_failures(gold, target)

    def break_steps(self, target: NodePackageTarget, rng: random.Random) -> list[BreakStep]:
        preload = rng.choice(PRELOAD_FILES)
        hidden = json.dumps(target.package)
        # One line: it is written by a RUN instruction.
        script = (
            "const Module = require('module'); const resolve = Module._resolveFilename; "
            "Module._resolveFilename = function (request, ...rest) { "
            f"if (request === {hidden} || request.startsWith({hidden} + '/')) {{ "
            "const error = new Error(`Cannot find module '${request}'`); error.code = 'MODULE_NOT_FOUND'; "
            "throw error; } return resolve.call(this, request, ...rest); };"
        )
        return [
            run(f"mkdir -p {posixpath.dirname(preload)} && printf '%s\\n' {shlex.quote(script)} > {preload}"),
            env("NODE_OPTIONS", f"--require={preload}"),
        ]

    def repair_commands(self, target: NodePackageTarget) -> list[str]:
        # NODE_OPTIONS stays set in the image: the preload it names is emptied.
        return [f"for f in {' '.join(PRELOAD_FILES)}; do [ -f $f ] && : > $f; done; true"]
