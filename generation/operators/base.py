"""Fault operators: small declarative units that break one thing the gold tests use, and say how to repair it.

An operator names its category and explains itself; ``targets`` is its precondition on the gold record's
probe (no targets: it does not apply); ``break_steps`` become Dockerfile instructions on top of the gold
image; ``repair_commands`` are the oracle, run in the broken container.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from cligym.generation.gold.footprint import Raising
from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.expected import predicted_failures


class Category(StrEnum):
    SHARED_LIBRARY = "shared-library"
    PYTHON_PACKAGE = "python-package"
    RUNTIME_CONFIG = "runtime-config"
    SYSTEM_PACKAGE = "system-package"
    FILE_SYSTEM = "file-system"
    LOCALE_TIME = "locale-time"
    NETWORK_SECURITY = "network-security"
    TOOLCHAIN = "toolchain"
    PROCESS_ENVIRONMENT = "process-environment"
    COMPATIBILITY = "compatibility"
    PYTHON_STDLIB = "python-stdlib"
    TEST_TOOLCHAIN = "test-toolchain"
    INTERPRETER = "interpreter"
    RESOURCE_LIMIT = "resource-limit"
    BYTECODE = "bytecode"
    NODE_PACKAGE = "node-package"


class Target(BaseModel):
    """What an operator aims at, taken from the probe."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["shared_library", "module", "distribution", "executable", "file", "env_var", "fixture", "host"]
    path: str | None = None
    name: str | None = None
    debian_package: str | None = None
    distribution: str | None = None
    version: str | None = None
    attribute: str | None = None

    def label(self) -> str:
        if self.kind == "module" and self.attribute:
            return f"{self.name}:{self.attribute}"
        if self.kind in ("module", "distribution", "env_var", "fixture", "host"):
            return self.name or self.kind
        return self.path or self.name or self.kind


class BreakStep(BaseModel):
    """One Dockerfile instruction of the break: a shell command (RUN) or an image variable (ENV)."""

    model_config = ConfigDict(frozen=True)

    instruction: Literal["RUN", "ENV"]
    argument: str

    def render(self) -> str:
        return f"{self.instruction} {self.argument}"


def run(command: str) -> BreakStep:
    return BreakStep(instruction="RUN", argument=command)


def env(name: str, value: str) -> BreakStep:
    return BreakStep(instruction="ENV", argument=f"{name}={value}")


class FaultOperator(ABC):
    """Subclasses declare ``name``, ``category`` and ``description`` and implement the three methods."""

    name: ClassVar[str]
    category: ClassVar[Category]
    description: ClassVar[str]
    # The exception importing a broken module (or a module linking a broken library) raises, when it is one
    # an ``except`` clause can catch: imports guarded against it do not spread the failure. None: the break
    # raises nothing an import guard would catch (a shadowing module, bytecode that runs), so guards are moot.
    raises: ClassVar[Raising | None] = None

    @abstractmethod
    def targets(self, gold: GoldRecord) -> list[Target]:
        """Everything in this gold environment the operator can aim at (empty: it does not apply)."""

    @abstractmethod
    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        """Dockerfile instructions that break ``target``; ``rng`` chooses the parameters (seeded)."""

    @abstractmethod
    def repair_commands(self, target: Target) -> list[str]:
        """Shell commands that repair the break from inside the broken container (the oracle)."""

    def expected_failures(self, gold: GoldRecord, target: Target) -> frozenset[str] | None:
        """The gold tests this break should fail: the tests the per-test probe saw using ``target``.
        None: unknown (the whole suite decides); operators that break something every process meets
        (a start-up file, /tmp, the loader's preload list) say None."""
        return predicted_failures(gold, target, self.raises)


class EveryProcessFault(FaultOperator):
    """An operator breaking something every process meets: which tests fail is up to the whole suite."""

    def expected_failures(self, gold: GoldRecord, target: Target) -> frozenset[str] | None:
        return None


OPERATORS: dict[str, FaultOperator] = {}


def register(cls: type[FaultOperator]) -> type[FaultOperator]:
    """Class decorator adding an operator to the catalog under its name."""
    if cls.name in OPERATORS:
        raise ValueError(f"two fault operators are named {cls.name!r}")
    OPERATORS[cls.name] = cls()
    return cls
