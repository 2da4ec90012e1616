"""Export validated tasks as Harbor task directories."""

from cligym.generation.export.harbor import export_harbor_task

__all__ = ["export_harbor_task"]
