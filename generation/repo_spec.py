"""The repository spec (``configs/repos/NAME.yaml``): where a project comes from and how to test it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cligym.errors import ConfigError
from cligym.yaml_config import describe_validation_error, read_yaml_mapping

SPEC_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")
# npm's name@version, scoped names included (@scope/name@1.2.3); exact versions only.
NPM_PACKAGE = re.compile(r"^(?P<name>(?:@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*)@(?P<version>\d[0-9A-Za-z.+-]*)$")
# A Debian source package, optionally pinned to a version of the configured release (gzip, gzip=1.12-1).
DEBIAN_PACKAGE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9.+-]+)(?:=(?P<version>[0-9][A-Za-z0-9.+~:-]*))?$")
# Where the repository is in the gold images cligym builds; a prebuilt image says where its own is.
DEFAULT_REPO_PATH = "/repo"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalSource(_Strict):
    """A directory on this machine; relative paths are relative to the spec file."""

    kind: Literal["local"] = "local"
    path: str


class GitSource(_Strict):
    """A git repository cloned on the host at a fixed ref (commit, tag or branch)."""

    kind: Literal["git"] = "git"
    url: str
    ref: str = "HEAD"


class PypiSource(_Strict):
    """A source distribution from PyPI, pinned as ``name==version``; downloaded inside the build."""

    kind: Literal["pypi"] = "pypi"
    sdist: str

    @field_validator("sdist")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not REQUIREMENT.match(value.strip()):
            raise ValueError(f"{value!r} must be pinned as name==version, e.g. attrs==25.3.0")
        return value.strip()

    @property
    def project(self) -> str:
        match = REQUIREMENT.match(self.sdist)
        assert match
        return match["name"]

    @property
    def version(self) -> str:
        match = REQUIREMENT.match(self.sdist)
        assert match
        return match["version"]


class NpmSource(_Strict):
    """A package from the npm registry, pinned as ``name@version``: its published tarball, as ``npm pack``
    gets it (many carry their tests)."""

    kind: Literal["npm"] = "npm"
    package: str

    @field_validator("package")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not NPM_PACKAGE.match(value.strip()):
            raise ValueError(f"{value!r} must be pinned as name@version, e.g. minimist@1.2.8")
        return value.strip()

    @property
    def project(self) -> str:
        match = NPM_PACKAGE.match(self.package)
        assert match
        return match["name"]

    @property
    def version(self) -> str:
        match = NPM_PACKAGE.match(self.package)
        assert match
        return match["version"]


class DebianSource(_Strict):
    """A Debian source package of the base image's release (upstream source with its ``debian/``
    directory), unpacked as ``dpkg-source -x`` does; its Build-Depends are installed in the gold image."""

    kind: Literal["debian"] = "debian"
    package: str

    @field_validator("package")
    @classmethod
    def _named(cls, value: str) -> str:
        if not DEBIAN_PACKAGE.match(value.strip()):
            raise ValueError(f"{value!r} must be a source package name, optionally =version, e.g. gzip=1.12-1")
        return value.strip()

    @property
    def project(self) -> str:
        match = DEBIAN_PACKAGE.match(self.package)
        assert match
        return match["name"]

    @property
    def version(self) -> str | None:
        match = DEBIAN_PACKAGE.match(self.package)
        assert match
        return match["version"]


class ImageSource(_Strict):
    """A prebuilt image that already is the environment, as SWE-bench and SWE-smith ship one per instance: the
    repository at ``repo_path``, installed with its dependencies, tested by the spec's ``test``. It is used as
    it is (a local image, or pulled once); cligym adds a thin layer on top and never rebuilds it."""

    kind: Literal["image"] = "image"
    image: str
    repo_path: str = "/testbed"
    python: str | None = Field(
        None,
        description="The environment's interpreter (a conda or venv one, e.g. /opt/miniconda3/envs/testbed/bin/"
        "python): its directory goes first on PATH, as activating the environment would put it.",
    )

    @field_validator("image")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value.strip()):
            raise ValueError(f"{value!r} must be an image reference such as swebench/sweb.eval.x86_64.astropy:latest")
        return value.strip()

    @field_validator("repo_path", "python")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = value.rstrip("/")
        if not path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")[1:]):
            raise ValueError(f"{value!r} must be an absolute path inside the image, e.g. /testbed")
        return path


SOURCE_KINDS = ("local", "git", "pypi", "npm", "debian", "image")
Source = Annotated[
    LocalSource | GitSource | PypiSource | NpmSource | DebianSource | ImageSource, Field(discriminator="kind")
]
# How a suite's per-test outcomes are read: pytest's own (exact node ids, our plugin), a TAP stream, JUnit
# XML, or automake's ``make check`` result lines (generation/runners/runner_report.py reads the last three).
RUNNERS = ("pytest", "tap", "junit", "automake")
Runner = Literal["pytest", "tap", "junit", "automake"]


class RepoSpec(_Strict):
    """What a gold environment is built from. Only ``name`` and ``source`` are required; the rest is
    auto-detected for Python projects and can be overridden here."""

    name: str = Field(description="Lower-case name; the gold image is cligym/gold-NAME.")
    source: Source
    base_image: str | None = Field(None, description="Image to build FROM instead of the configured base.")
    system_packages: list[str] = Field(default_factory=list, description="Debian packages to apt-get install.")
    install: list[str] | None = Field(
        None, description="Shell steps run in the repository; default: auto-detected (none for an image source)."
    )
    test_requirements: list[str] = Field(default_factory=list, description="Extra pip requirements for tests.")
    runner: Runner = Field("pytest", description="How per-test outcomes are read: pytest, tap, junit or automake.")
    test: str | None = Field(
        None,
        description="The test command, run in the repository. pytest: our report options are appended (default: "
        "detected). tap/automake: its standard output is the stream. junit: it writes `report`.",
    )
    report: str | None = Field(
        None,
        description="junit: the XML file the test command writes (relative to the repository); tap/automake: a "
        "file the command writes its stream to, instead of standard output.",
    )
    test_paths: list[str] | None = Field(None, description="Test files or directories, relative to the repo.")
    pytest_args: list[str] = Field(default_factory=list, description="Extra pytest arguments, e.g. --deselect.")
    timeout: int = Field(1800, gt=0, description="Seconds allowed for one run of the whole test suite.")
    max_image_mb: int = Field(4000, gt=0, description="Fail the build when the gold image is larger.")

    @property
    def repo_path(self) -> str:
        """Where the repository is in the gold image (and every task image built from it)."""
        return self.source.repo_path if isinstance(self.source, ImageSource) else DEFAULT_REPO_PATH

    @field_validator("name")
    @classmethod
    def _name_is_a_tag(cls, value: str) -> str:
        if not SPEC_NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits, '.', '_' or '-' (it names an image)")
        return value

    @model_validator(mode="after")
    def _test_fits_runner(self) -> RepoSpec:
        if self.runner == "pytest":
            if self.test is not None and "pytest" not in self.test:
                raise ValueError(
                    "test: must run pytest (our report options are appended); unittest suites run under pytest "
                    "too; for another runner set runner: tap, junit or automake"
                )
            if self.report is not None:
                raise ValueError("report: only for runner tap, junit or automake (pytest's report is ours)")
            return self
        if not self.test:
            raise ValueError(f"test: runner {self.runner} needs the command that runs the suite, e.g. `make check`")
        if self.runner == "junit" and not self.report:
            raise ValueError("report: runner junit needs the XML file the test command writes")
        if self.test_paths is not None or self.pytest_args:
            raise ValueError(f"test_paths and pytest_args are pytest's: with runner {self.runner} put them in test")
        return self

    @model_validator(mode="after")
    def _image_is_its_own_base(self) -> RepoSpec:
        if isinstance(self.source, ImageSource) and self.base_image is not None:
            raise ValueError("base_image: a source image is the base itself; leave base_image out")
        return self

    @model_validator(mode="before")
    @classmethod
    def _source_shorthand(cls, data: object) -> object:
        # Accept `source: {sdist: x==1}`, `{path: ..}`, `{git: url, ref: ..}` without spelling out `kind`.
        if isinstance(data, dict) and isinstance(data.get("source"), dict) and "kind" not in data["source"]:
            source = dict(data["source"])
            if "sdist" in source:
                source["kind"] = "pypi"
            elif "path" in source:
                source["kind"] = "local"
            elif "git" in source or "url" in source:
                source["kind"] = "git"
                if "git" in source:
                    source["url"] = source.pop("git")
            elif "image" in source:
                source["kind"] = "image"
            elif "npm" in source or "debian" in source:
                kind = "npm" if "npm" in source else "debian"
                source = {"kind": kind, "package": source.pop(kind), **source}
            else:
                raise ValueError(
                    "source must have one of: sdist (PyPI name==version), path (local), git (URL), "
                    "npm (name@version), debian (source package), image (a prebuilt image)"
                )
            data = {**data, "source": source}
        return data


def load_repo_spec(path: Path) -> tuple[RepoSpec, Path]:
    """Read and validate a spec file; returns the spec and the directory relative paths resolve against."""
    data = read_yaml_mapping(path, "repo spec", "pass a file such as configs/repos/attrs.yaml")
    try:
        spec = RepoSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"repo spec {path}: {describe_validation_error(exc, union_tags=SOURCE_KINDS)}",
            "see configs/repos/README.md for every field",
        ) from None
    return spec, path.resolve().parent
