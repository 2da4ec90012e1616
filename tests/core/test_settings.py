"""Settings: defaults, user files, overrides, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.errors import ConfigError
from cligym.settings import BaseImageSettings, load_settings, parse_override


def test_defaults_come_from_the_shipped_yaml() -> None:
    settings = load_settings()
    assert settings.base_image.name == "python:3.11-slim"
    assert settings.sandbox.memory == "4g"


def test_user_file_and_overrides_merge_over_defaults(tmp_path: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("sandbox:\n  memory: 2g\n")
    settings = load_settings(config, ["sandbox.pids=99", "base_image.name=python:3.12-slim"])
    assert (settings.sandbox.memory, settings.sandbox.pids) == ("2g", 99)
    assert settings.sandbox.cpus == 2.0  # untouched default survives the merge
    assert settings.base_image.name == "python:3.12-slim"


def test_unknown_key_is_an_error_naming_the_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("sandbox:\n  memroy: 2g\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: setting sandbox.memroy"):
        load_settings(config)


def test_malformed_yaml_and_missing_file_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("sandbox: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML") as info:
        load_settings(broken)
    assert "\n" not in info.value.message
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.yaml")


def test_override_without_equals_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        parse_override("sandbox.memory")


def test_bad_memory_size_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"sandbox\.memory"):
        load_settings(overrides=["sandbox.memory=lots"])


def test_auto_ca_bundle_takes_the_first_host_variable_naming_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for var in ("CLIGYM_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)
    assert BaseImageSettings(extra_ca_bundle="auto").resolved_ca_bundle() is None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert BaseImageSettings(extra_ca_bundle="auto").resolved_ca_bundle() == bundle
    assert BaseImageSettings(extra_ca_bundle=None).resolved_ca_bundle() is None


def test_explicit_ca_bundle_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="extra_ca_bundle"):
        BaseImageSettings(extra_ca_bundle=str(tmp_path / "nope.pem")).resolved_ca_bundle()
