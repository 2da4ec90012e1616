"""Default configuration files shipped with cligym (YAML), readable after a non-editable install."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_SETTINGS_FILE = CONFIG_DIR / "cligym.yaml"

__all__ = ["CONFIG_DIR", "DEFAULT_SETTINGS_FILE"]
