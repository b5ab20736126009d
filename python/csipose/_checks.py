"""Checks of scalar arguments, shared by the modules that take them."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from csipose.errors import ArgumentError

__all__ = ["check_share", "is_real", "is_share", "positive_int"]


def positive_int(value: Any, arg: str) -> int:
    """``value`` as an int >= 1 (a bool is refused); else ArgumentError naming ``arg``."""
    if isinstance(value, bool):
        raise ArgumentError(f"{arg}: expected an integer >= 1, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ArgumentError(f"{arg}: expected an integer >= 1, got {type(value).__name__}") from None
    if n < 1:
        raise ArgumentError(f"{arg}: expected an integer >= 1, got {n}")
    return n


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (a Python or numpy int or float, not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def is_share(value: Any) -> bool:
    """Whether ``value`` is a real number in [0, 1]."""
    return is_real(value) and math.isfinite(value) and 0 <= value <= 1


def check_share(value: Any, arg: str, error: type[Exception] = ArgumentError) -> float:
    """``value`` as a float in [0, 1] (:func:`is_share`); else ``error`` naming ``arg``."""
    if not is_share(value):
        raise error(f"{arg}: expected a share, a number in [0, 1], got {value!r}")
    return float(value)
