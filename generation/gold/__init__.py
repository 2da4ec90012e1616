"""Gold environments: a project installed in an image, its reliably passing tests, and a probe of what
those tests use."""

from cligym.generation.gold.baseline import GoldBuildError
from cligym.generation.gold.build import build_gold
from cligym.generation.gold.record import GoldRecord, Probe

__all__ = ["GoldBuildError", "GoldRecord", "Probe", "build_gold"]
