"""Reading user-written YAML files into typed models, with one-line errors that name the file and field."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cligym.errors import ConfigError


def read_yaml_mapping(path: Path, what: str, missing_hint: str) -> dict[str, Any]:
    """The mapping in ``path`` ({} for an empty file); ConfigError when it is missing, not YAML, or not a mapping."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist", missing_hint) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping, not a {type(data).__name__}")
    return data


def describe_validation_error(exc: ValidationError, union_tags: Collection[str] = ()) -> str:
    """``field.path: message`` for the first error; ``union_tags`` are dropped from the path
    (pydantic puts the chosen member of a tagged union in it: source.pypi.sdist -> source.sdist)."""
    first = exc.errors()[0]
    parts = [str(part) for part in first["loc"] if str(part) not in union_tags]
    message = first["msg"].removeprefix("Value error, ")
    return f"{'.'.join(parts) or 'file'}: {message}"
