"""DensePose from WiFi: the body surface, its rendered labels and their scoring."""

from csipose.densepose.surface import CANONICAL, KINDS, PART_NAMES, PARTS, Part, canonical_arrays

__all__ = ["CANONICAL", "KINDS", "PART_NAMES", "PARTS", "Part", "canonical_arrays"]
