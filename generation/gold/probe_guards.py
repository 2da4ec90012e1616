"""Which exceptions the code around an import or an open catches: a break whose error a caller catches does
not reach the test, so the probe records the guards with each import and each opened file.

Part of ``probe_collect.py``, kept apart for size: the collector ships as one file, with everything below this
docstring in place of the import that names this module (script_inlining.py). So: standard library only, no
``from __future__`` import.
"""

import ast


def _caught_by(handler):
    """Names of the exception classes an ``except`` clause catches (a bare one catches everything)."""
    if handler.type is None:
        return {"BaseException"}
    return _class_names(handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type])


def _class_names(nodes):
    named = [node for node in nodes if isinstance(node, (ast.Name, ast.Attribute))]
    return {node.id if isinstance(node, ast.Name) else node.attr for node in named}


def guarded_lines(source):
    """line -> the exception classes caught around it: by ``try``/``except`` or ``with suppress(...)``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    guards = {}

    def cover(body, caught):
        if body and caught:
            for line in range(body[0].lineno, (body[-1].end_lineno or body[-1].lineno) + 1):
                guards.setdefault(line, set()).update(caught)

    try_nodes = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t is not None)
    for node in ast.walk(tree):
        if isinstance(node, try_nodes):
            cover(node.body, set().union(*(_caught_by(h) for h in node.handlers)))
        elif isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                func = getattr(call, "func", None)
                if isinstance(call, ast.Call) and "suppress" in _class_names([func]):
                    cover(node.body, _class_names(call.args))
    return guards


def import_guards(sites, modules):
    """caller -> imported module -> for each statement of the caller importing it, the exceptions caught
    around it; left out when one statement is unguarded (its failure reaches the caller)."""
    parsed = {}
    found = {}
    for caller, imported in sites.items():
        file = modules.get(caller)
        if not file or not file.endswith(".py"):
            continue
        if file not in parsed:
            try:
                with open(file, "rb") as handle:
                    parsed[file] = guarded_lines(handle.read())
            except OSError:
                parsed[file] = {}
        guards = parsed[file]
        for name, lines in imported.items():
            caught = [sorted(guards.get(line, ())) for line in sorted(lines)]
            if caught and all(caught):
                found.setdefault(caller, {})[name] = caught
    return found


class FileGuards:
    """Per opened file, the exceptions caught around each open of it (``try``/``except`` in any frame from
    the opener up to the test): left out when one open was unguarded, as its failure reaches the test."""

    def __init__(self):
        self._parsed = {}

    def _guards(self, file):
        if file not in self._parsed:
            try:
                with open(file, "rb") as handle:
                    self._parsed[file] = guarded_lines(handle.read())
            except OSError:
                self._parsed[file] = {}
        return self._parsed[file]

    def caught(self, stack):
        found = set()
        for file, line in stack:
            if file.endswith(".py"):
                found.update(self._guards(file).get(line, ()))
        return sorted(found)

    def of(self, stacks_by_path, files):
        found = {}
        for path in files:
            stacks = stacks_by_path.get(path)
            caught = [self.caught(stack) for stack in stacks or ()]
            if caught and all(caught):
                found[path] = caught
        return found
