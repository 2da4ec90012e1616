"""The catalog of fault operators, registered by name (``cligym operators`` lists them)."""

from cligym.generation.operators import (  # noqa: F401  (importing registers the operators)
    bytecode,
    compatibility,
    file_system,
    home_directories,
    interpreter,
    locale_time,
    network_security,
    node_packages,
    process_environment,
    python_packages,
    python_stdlib,
    resource_limits,
    runtime_config,
    runtime_state,
    shared_libraries,
    system_files,
    system_packages,
    test_toolchain,
    toolchain,
)
from cligym.generation.operators.base import OPERATORS, BreakStep, Category, FaultOperator, Target

__all__ = ["OPERATORS", "BreakStep", "Category", "FaultOperator", "Target"]
