"""DensePose from WiFi: the body surface, its rendered labels and their scoring."""

from csipose.densepose.render import (
    DensePoseImage,
    PinholeCamera,
    body_scale,
    chart_point,
    render_iuv,
    stage_camera,
)
from csipose.densepose.surface import CANONICAL, KINDS, PART_NAMES, PARTS, Part, canonical_arrays

__all__ = [
    "CANONICAL",
    "DensePoseImage",
    "KINDS",
    "PART_NAMES",
    "PARTS",
    "Part",
    "PinholeCamera",
    "body_scale",
    "canonical_arrays",
    "chart_point",
    "render_iuv",
    "stage_camera",
]
