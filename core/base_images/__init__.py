"""Base images: use, pull, or build locally the image gold environments start FROM."""

from cligym.base_images.resolve import BaseImage, ensure_base_image

__all__ = ["BaseImage", "ensure_base_image"]
