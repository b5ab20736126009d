"""The one ``to_dict`` of every metric result."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["MetricResult", "json_value"]


def json_value(x: Any) -> Any:
    """``x`` as JSON-safe Python: arrays and tuples become lists, numpy scalars Python
    numbers, and a non-finite float ``None`` (nothing scored, or a failed prediction:
    the result's counts say which)."""
    if isinstance(x, Mapping):
        return {str(k): json_value(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return [json_value(v) for v in x.tolist()] if x.ndim else json_value(x.item())
    if isinstance(x, (list, tuple)):
        return [json_value(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


class MetricResult:
    """Mixin of the metric result dataclasses: :meth:`to_dict` for logs and JSON.

    A result lists what it reports in :meth:`_dict_items` (by default its fields
    and its ``definition``); every value goes through :func:`json_value`.
    """

    def _dict_items(self) -> Iterable[tuple[str, Any]]:
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        if "definition" not in names and hasattr(self, "definition"):
            names.append("definition")
        return ((name, getattr(self, name)) for name in names)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values; NaN and infinities become ``None``."""
        return {name: json_value(value) for name, value in self._dict_items()}
