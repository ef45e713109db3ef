"""Page image preparation before OCR.

:func:`prepare_page` returns the image Tesseract should read plus the geometry
needed to map word boxes back onto the (orientation-corrected) input image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from pipeline.settings import OcrSettings

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass
class PreparedPage:
    image: Image.Image  # what Tesseract reads
    dpi: int | None  # resolution of ``image`` when known
    rotation: int = 0  # clockwise quarter turns applied to the input, in degrees (0/90/180/270)
    oriented_size: tuple[int, int] = (0, 0)  # input size after that rotation
    # 2x3 affine map from ``image`` pixels to oriented-input pixels (undoes deskew, scale, crop)
    to_oriented: np.ndarray = field(default_factory=lambda: IDENTITY.copy())
    steps: list[str] = field(default_factory=list)  # what was done, for logs and the benchmark


def prepare_page(image: Image.Image, settings: OcrSettings, dpi: int | None = None) -> PreparedPage:
    """Identity preparation (placeholder until the preparation steps land)."""
    return PreparedPage(image=image, dpi=dpi, oriented_size=image.size)
