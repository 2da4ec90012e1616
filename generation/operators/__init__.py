"""The catalog of fault operators, registered by name (``cligym operators`` lists them)."""

from cligym.generation.operators import (  # noqa: F401  (importing registers the operators)
    process_environment,
    python_packages,
    runtime_config,
    shared_libraries,
    system_files,
)
from cligym.generation.operators.base import OPERATORS, BreakStep, Category, FaultOperator, Target

__all__ = ["OPERATORS", "BreakStep", "Category", "FaultOperator", "Target"]
