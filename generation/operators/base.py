"""Fault operators: small declarative units that break one thing the gold tests use, and say how to repair it.

An operator names its category and explains itself; ``targets`` is its precondition on the gold record's
probe (no targets: it does not apply); ``break_steps`` become Dockerfile instructions on top of the gold
image; ``repair_commands`` are the oracle, run in the broken container.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

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


class TargetBase(BaseModel):
    """What an operator aims at, taken from the probe: one model per kind (``Target`` is their union)."""

    model_config = ConfigDict(frozen=True)

    def label(self) -> str:
        raise NotImplementedError


class Installed(TargetBase):
    """A target a Python distribution installed: pip reinstalls it at gold's version."""

    distribution: str | None = None
    version: str | None = None

    def installed_by(self) -> str:
        """The distribution, which the repair reinstalls or the break removes."""
        if self.distribution is None:
            raise ValueError(f"{self.label()}: no Python distribution installed it")
        return self.distribution

    def release(self) -> str:
        """The version gold had installed."""
        if self.version is None:
            raise ValueError(f"{self.label()}: the version of its distribution is unknown")
        return self.version

    def pinned(self) -> str:
        """``distribution==version``, which the repair reinstalls."""
        return f"{self.installed_by()}=={self.release()}"


class PackagedPath(TargetBase):
    path: str
    # The Debian package that owns the file (dpkg -S), when one does.
    debian_package: str | None = None

    def label(self) -> str:
        return self.path

    def owner(self) -> str:
        """The owning Debian package, which the repair reinstalls (operators aim only at owned files)."""
        if self.debian_package is None:
            raise ValueError(f"{self.path}: no Debian package owns it, so no reinstall repairs it")
        return self.debian_package


class SharedLibraryTarget(PackagedPath, Installed):
    kind: Literal["shared_library"] = "shared_library"
    # An extension module's import name, when a Python distribution installed the library.
    name: str | None = None


class FileTarget(PackagedPath):
    kind: Literal["file"] = "file"


class ExecutableTarget(PackagedPath, Installed):
    """A program; a console script also names the distribution that installed it."""

    kind: Literal["executable"] = "executable"


class ModuleTarget(Installed):
    kind: Literal["module"] = "module"
    name: str
    # The file it was loaded from (None: a module aimed at by name only, to shadow or block it).
    path: str | None = None
    # A function of the module (``Class.method`` included), for operators that stub one.
    attribute: str | None = None
    # Where a stray module of that name would shadow it (the tests' working directory), for operators that
    # plant one. Not part of a candidate's key (catalog.LEGACY_TARGET_FIELDS).
    shadow_dir: str | None = None

    def label(self) -> str:
        return f"{self.name}:{self.attribute}" if self.attribute else self.name

    def file(self) -> str:
        if self.path is None:
            raise ValueError(f"module {self.name}: the probe saw no file for it")
        return self.path

    def function(self) -> str:
        if self.attribute is None:
            raise ValueError(f"module {self.name}: no function of it is named")
        return self.attribute

    def stray_file(self) -> str:
        if self.shadow_dir is None:
            raise ValueError(f"module {self.name}: no directory to shadow it from is named")
        return f"{self.shadow_dir}/{self.name.replace('.', '/')}.py"


class DistributionTarget(Installed):
    kind: Literal["distribution"] = "distribution"
    name: str  # the import name the tests use
    path: str | None = None

    def label(self) -> str:
        return self.name


class NodePackageTarget(TargetBase):
    kind: Literal["node_package"] = "node_package"
    path: str  # its directory under node_modules
    package: str
    project: str  # the repository whose package.json depends on it

    def label(self) -> str:
        return self.path


class ResourceLimitTarget(TargetBase):
    """A limit measured on the gold suite: the value travels in the target, so the candidate carries it."""

    kind: Literal["resource_limit"] = "resource_limit"
    where: str  # what applies it: a .pth start-up hook, the BASH_ENV file
    resource: str  # RLIMIT_NOFILE, RLIMIT_AS, ...
    limit: int

    def label(self) -> str:
        return f"{self.where}:{self.resource}={self.limit}"


class EnvVarTarget(TargetBase):
    kind: Literal["env_var"] = "env_var"
    name: str

    def label(self) -> str:
        return self.name


class FixtureTarget(Installed):
    """A fixture; ``distribution`` is the plugin that provides it."""

    kind: Literal["fixture"] = "fixture"
    name: str

    def label(self) -> str:
        return self.name


class HostTarget(TargetBase):
    kind: Literal["host"] = "host"
    name: str

    def label(self) -> str:
        return self.name


Target = Annotated[
    SharedLibraryTarget
    | FileTarget
    | ExecutableTarget
    | ModuleTarget
    | DistributionTarget
    | NodePackageTarget
    | ResourceLimitTarget
    | EnvVarTarget
    | FixtureTarget
    | HostTarget,
    Field(discriminator="kind"),
]
TargetT = TypeVar("TargetT", bound=TargetBase)


class BreakStep(BaseModel):
    """One Dockerfile instruction of the break: a shell command (RUN) or an image variable (ENV)."""

    model_config = ConfigDict(frozen=True)

    instruction: Literal["RUN", "ENV"]
    argument: str

    def render(self) -> str:
        return f"{self.instruction} {self.argument}"

    def variable(self) -> tuple[str, str] | None:
        """(name, value) of an ENV step (the value as written), None for a RUN step."""
        if self.instruction != "ENV" or "=" not in self.argument:
            return None
        name, value = self.argument.split("=", 1)
        return name.strip(), value


def run(command: str) -> BreakStep:
    return BreakStep(instruction="RUN", argument=command)


def env(name: str, value: str) -> BreakStep:
    return BreakStep(instruction="ENV", argument=f"{name}={value}")


class FaultOperator(ABC, Generic[TargetT]):
    """Subclasses declare ``name``, ``category`` and ``description`` and implement the three methods."""

    name: ClassVar[str]
    category: ClassVar[Category]
    description: ClassVar[str]
    # The exception importing a broken module (or a module linking a broken library) raises, when it is one
    # an ``except`` clause can catch: imports guarded against it do not spread the failure. None: the break
    # raises nothing an import guard would catch (a shadowing module, bytecode that runs), so guards are moot.
    raises: ClassVar[Raising | None] = None

    @abstractmethod
    def targets(self, gold: GoldRecord) -> list[TargetT]:
        """Everything in this gold environment the operator can aim at (empty: it does not apply)."""

    @abstractmethod
    def break_steps(self, target: TargetT, rng: random.Random) -> list[BreakStep]:
        """Dockerfile instructions that break ``target``; ``rng`` chooses the parameters (seeded)."""

    @abstractmethod
    def repair_commands(self, target: TargetT) -> list[str]:
        """Shell commands that repair the break from inside the broken container (the oracle)."""

    def expected_failures(self, gold: GoldRecord, target: TargetT) -> frozenset[str] | None:
        """The gold tests this break should fail: the tests the per-test probe saw using ``target``.
        None: unknown (the whole suite decides); operators that break something every process meets
        (a start-up file, /tmp, the loader's preload list) say None."""
        return predicted_failures(gold, target, self.raises)


class EveryProcessFault(FaultOperator[TargetT]):
    """An operator breaking something every process meets: which tests fail is up to the whole suite."""

    def expected_failures(self, gold: GoldRecord, target: TargetT) -> frozenset[str] | None:
        return None


OPERATORS: dict[str, FaultOperator[Any]] = {}


def register(cls: type[FaultOperator[Any]]) -> type[FaultOperator[Any]]:
    """Class decorator adding an operator to the catalog under its name."""
    if cls.name in OPERATORS:
        raise ValueError(f"two fault operators are named {cls.name!r}")
    OPERATORS[cls.name] = cls()
    return cls
