"""Checks of scalar arguments, shared by the modules that take them."""

from __future__ import annotations

import operator
from typing import Any

from csipose.errors import ArgumentError

__all__ = ["positive_int"]


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
