"""Typed settings for every component, loaded from YAML defaults, a user file and ``key=value`` overrides."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cligym.configs import DEFAULT_SETTINGS_FILE
from cligym.errors import ConfigError
from cligym.yaml_config import describe_validation_error, read_yaml_mapping

CA_BUNDLE_ENV_VARS = ("CLIGYM_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseImageSettings(_Strict):
    """Which image gold environments start FROM, and how to make it when it cannot be pulled."""

    name: str = Field("python:3.11-slim", description="Image reference every gold environment is built FROM.")
    extra_ca_bundle: str | None = Field(
        "auto", description='PEM bundle copied into images; "auto" reads the host environment; null disables.'
    )
    debian_suite: str = Field("bookworm", description="Debian suite for the local fallback build.")
    debian_mirror: str = Field("http://deb.debian.org/debian", description="Debian mirror for debootstrap.")

    def resolved_ca_bundle(self) -> Path | None:
        """The CA bundle file to inject, or None. ``auto`` takes the first host variable naming a file."""
        if self.extra_ca_bundle is None or self.extra_ca_bundle == "":
            return None
        if self.extra_ca_bundle == "auto":
            for var in CA_BUNDLE_ENV_VARS:
                value = os.environ.get(var)
                if value and Path(value).is_file():
                    return Path(value)
            return None
        path = Path(self.extra_ca_bundle).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"base_image.extra_ca_bundle: {path} is not a file",
                "point it at a PEM bundle such as /etc/ssl/certs/ca-certificates.crt, or set it to null",
            )
        return path


class SandboxSettings(_Strict):
    """Resource limits and command budgets for every container cligym starts."""

    memory: str = Field("4g", description="Memory limit (docker syntax: 512m, 4g); swap is disabled.")
    pids: int = Field(2048, gt=0, description="Maximum number of processes in the container.")
    cpus: float = Field(2.0, gt=0, description="CPU quota in cores.")
    network: bool = Field(True, description="False starts containers with no network at all.")
    exec_timeout: float = Field(600, gt=0, description="Seconds before a command is killed.")
    output_cap_bytes: int = Field(1_000_000, ge=1024, description="Bytes kept per stream (head + tail).")

    @field_validator("memory")
    @classmethod
    def _memory_has_docker_syntax(cls, value: str) -> str:
        number = value.lower().rstrip("bkmg")
        if not number.isdigit():
            raise ValueError(f"{value!r} is not a docker memory size such as 512m or 4g")
        return value


class DoctorSettings(_Strict):
    """Thresholds used by ``cligym doctor``."""

    min_free_disk_gb: float = Field(20, ge=0, description="Free space needed where Docker keeps images.")


class ModelSettings(_Strict):
    """The model endpoint (any OpenAI-compatible server) used by the agent inverter, statements and rollout."""

    base_url: str | None = Field(
        "http://127.0.0.1:8000/v1", description="OpenAI-compatible base URL, usually ending in /v1."
    )
    model: str | None = Field(None, description="Model name as the server knows it; null: no model configured.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description='Environment variable holding the API key; when unset, "EMPTY" is sent.'
    )
    temperature: float | None = Field(0.6, ge=0, description="Sampling temperature; null: the server's default.")
    top_p: float | None = Field(0.95, gt=0, le=1, description="Nucleus sampling mass; null: the server's default.")
    max_tokens: int | None = Field(8192, gt=0, description="Most tokens one reply may generate; null: no limit.")
    seed: int | None = Field(None, description="Sampling seed sent with each request (servers may ignore it).")
    request_timeout: float = Field(300, gt=0, description="Seconds one request may take before it is retried.")
    max_retries: int = Field(4, ge=0, description="Retries on 429, 5xx, timeouts and connection errors.")
    retry_backoff: float = Field(2.0, gt=0, description="Seconds before the first retry; doubles each time.")

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000/v1")
        return value


class AgentInverterSettings(_Strict):
    """Budgets of the agent inverter: an LLM breaking a gold environment through a shell tool loop."""

    max_steps: int = Field(30, gt=0, description="Model turns per proposal, malformed tool calls included.")
    max_total_tokens: int = Field(1_000_000, gt=0, description="Prompt + completion tokens per proposal.")
    max_seconds: float = Field(1800, gt=0, description="Wall-clock seconds per proposal.")
    command_timeout: float = Field(120, gt=0, description="Seconds before one bash command is killed.")
    observation_bytes: int = Field(8000, ge=256, description="Bytes of command output shown to the model.")
    test_timeout: float | None = Field(None, gt=0, description="Seconds for run_tests; null: the repo's timeout.")
    categories: list[str] | None = Field(
        None, description="Categories to aim at (e.g. [shared-library]); null: all of them."
    )
    check_submission_breaks: bool = Field(
        True, description="Run the gold tests on a fresh replay of a submission and refuse one that breaks none."
    )
    max_proposals: int | None = Field(
        10, gt=0, description="Proposals per repository and run; then the inverter has nothing left to try."
    )
    seed: int = Field(0, description="Orders the categories and seeds the sampling.")


class ActionFormat(StrEnum):
    """How the model acts: tool calls (bash, submit), or one fenced command per reply for servers without a
    tool-call parser."""

    TOOL = "tool"
    TEXT = "text"


class RolloutSettings(_Strict):
    """How an agent works on a task: its action format and the limits of one episode."""

    action_format: Literal["tool", "text"] = Field(
        "tool", description="tool: bash/submit tool calls; text: one fenced command per reply (no tool parser)."
    )
    tool_call_parser: str | None = Field(
        None, description="vLLM's tool-call parser when cligym starts vLLM; unset: the model family's."
    )
    max_steps: int = Field(50, gt=0, description="Model turns per episode, malformed ones included.")
    max_total_tokens: int = Field(1_000_000, gt=0, description="Prompt + completion tokens per episode.")
    max_seconds: float = Field(1800, gt=0, description="Wall-clock seconds per episode, verifier excluded.")
    command_timeout: float = Field(180, gt=0, description="Seconds before one command is killed.")
    observation_bytes: int = Field(10_000, ge=256, description="Bytes of command output shown to the model.")
    repeated_failure_limit: int = Field(
        4, ge=2, description="Stop after the same command failed this many times in a row."
    )
    verifier_timeout: float | None = Field(None, gt=0, description="Seconds for the verifier; null: task.toml's.")


class GenerationSettings(_Strict):
    """How candidates are judged and which valid ones are kept as tasks."""

    fast_reject: bool = Field(
        True, description="Run the tests a candidate is expected to break first; none fails: rejected there."
    )
    max_tasks_per_failing_set: int = Field(
        3, ge=1, description="Tasks of one repository with exactly the same failing tests (different causes)."
    )
    max_share_failing_every_test: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Share of a repository's wanted tasks that may fail every gold test (nothing imports, nothing "
        "runs); at least one when above 0.",
    )
    depth_sweep: bool = Field(
        True, description="Try the diagnosis-free repair sweep on each valid task; what it repairs is shallow."
    )


class Settings(_Strict):
    """All cligym settings."""

    base_image: BaseImageSettings = Field(default_factory=BaseImageSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    doctor: DoctorSettings = Field(default_factory=DoctorSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    agent_inverter: AgentInverterSettings = Field(default_factory=AgentInverterSettings)
    rollout: RolloutSettings = Field(default_factory=RolloutSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)


def merge_mappings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``sandbox.memory=2g`` into ``{"sandbox": {"memory": "2g"}}``; the value is parsed as YAML."""
    key_path, sep, raw_value = text.partition("=")
    if not sep or not key_path.strip():
        raise ConfigError(f"override {text!r} is not of the form key.path=value", "e.g. -o sandbox.memory=2g")
    value = yaml.safe_load(raw_value) if raw_value.strip() else None
    nested: dict[str, Any] = {}
    cursor = nested
    keys = key_path.strip().split(".")
    for key in keys[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[keys[-1]] = value
    return nested


def load_settings(config_file: Path | None = None, overrides: list[str] | None = None) -> Settings:
    """Defaults from ``configs/cligym.yaml``, then the user's file (or ``$CLIGYM_CONFIG``), then overrides."""
    data = read_yaml_mapping(DEFAULT_SETTINGS_FILE, "settings file", "reinstall cligym")
    source = "configs/cligym.yaml"
    if config_file is None and os.environ.get("CLIGYM_CONFIG"):
        config_file = Path(os.environ["CLIGYM_CONFIG"])
    if config_file is not None:
        data = merge_mappings(data, read_yaml_mapping(config_file, "config file", "check the path given to --config"))
        source = str(config_file)
    for override in overrides or []:
        data = merge_mappings(data, parse_override(override))
    if overrides:
        source += " with -o overrides"

    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: setting {describe_validation_error(exc)}",
            "see configs/cligym.yaml for every setting and its meaning",
        ) from None
