"""Scripts that run inside containers ship as one file: a module of this package they import is written into
the script in place of the ``from cligym.generation.gold.NAME import ...`` statement (the module's text after
its docstring). Inside the container the script is run isolated, or from a directory that holds nothing else
of ours, so it can import nothing from beside it; and one file is what a verifier's digests cover."""

from __future__ import annotations

import ast
from importlib import resources

_PACKAGE = "cligym.generation.gold"


def inlined_script(script_name: str, modules: tuple[str, ...]) -> str:
    """``script_name`` from this package with each of ``modules`` (each imported by it exactly once, each
    starting with a docstring) inlined in place of its import. Inlined modules must be standard library only
    and carry no ``from __future__`` import, as their text lands in the middle of the script."""
    package = resources.files(_PACKAGE)
    script = package.joinpath(script_name).read_text()
    # Replaced from the last import up, so the line numbers of those above it still hold.
    statements = [n for n in ast.parse(script).body if isinstance(n, ast.ImportFrom)]
    for name in reversed(modules):
        module = f"{_PACKAGE}.{name}"
        rules = package.joinpath(f"{name}.py").read_text()
        imports = [n for n in statements if n.module == module]
        docstring = ast.parse(rules).body[0]
        if len(imports) != 1 or not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)):
            raise RuntimeError(f"{script_name} must import {module} once, and that module start with a docstring")
        lines = script.splitlines(keepends=True)
        body = "".join(rules.splitlines(keepends=True)[docstring.end_lineno :]).strip("\n") + "\n\n"
        script = "".join([*lines[: imports[0].lineno - 1], body, *lines[imports[0].end_lineno :]])
    compile(script, script_name, "exec", dont_inherit=True)  # a misplaced import fails here, not in a container
    return script
