"""The exceptions csipose raises, from Python and from its Rust core alike.

Every class derives from :class:`CsiposeError`; those about argument values
also derive from the builtin a caller would expect (``ShapeError`` is a
``ValueError``, ``DTypeError`` a ``TypeError``), so ``except ValueError`` keeps
working. The Rust core raises these same classes (``rust/src/py/errors.rs``).
"""

from __future__ import annotations

__all__ = [
    "CsiposeError",
    "ShapeError",
    "ArgumentError",
    "NonFiniteError",
    "DTypeError",
    "ConfigError",
    "DatasetError",
    "CheckpointError",
    "TrainingError",
]


class CsiposeError(Exception):
    """Base class of every error csipose raises on purpose."""


class ShapeError(CsiposeError, ValueError):
    """An array has the wrong rank, length or size; the message names it."""


class ArgumentError(CsiposeError, ValueError):
    """A scalar argument or option is outside its allowed set or range."""


class NonFiniteError(CsiposeError, ValueError):
    """NaN or infinity where finite values are required."""


class DTypeError(CsiposeError, TypeError):
    """An array of a dtype the operation does not accept."""


class ConfigError(CsiposeError, ValueError):
    """A configuration field breaks a rule; the message names field and rule."""


class DatasetError(CsiposeError):
    """A dataset file or folder is missing, corrupt or of the wrong layout."""


class CheckpointError(CsiposeError):
    """A checkpoint is missing, corrupt or incompatible."""


class TrainingError(CsiposeError):
    """A training run cannot go on (e.g. its loss became NaN); the message names the step and epoch."""
