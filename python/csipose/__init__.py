"""csipose: human pose from WiFi channel state information (CSI).

The top level holds the dependency-light tools (numpy + the Rust core):
subcarrier resampling and phase sanitising. Model, losses and training live in
submodules that import PyTorch lazily; ``import csipose`` never imports torch.
"""

from __future__ import annotations

from csipose import errors
from csipose._core import __version__, get_num_threads, set_num_threads
from csipose.config import TrainingConfig
from csipose.matching import match_persons, match_persons_batch
from csipose.subcarrier import (
    HT20_TONES,
    HT40_TONES,
    PLANS,
    Resampler,
    SubcarrierPlan,
    interpolate_subcarriers,
    sanitize_phase,
    select_subcarriers_by_variance,
    subcarrier_variance,
    unwrap_phase,
)

__all__ = [
    "HT20_TONES",
    "HT40_TONES",
    "PLANS",
    "Resampler",
    "SubcarrierPlan",
    "TrainingConfig",
    "__version__",
    "errors",
    "get_num_threads",
    "interpolate_subcarriers",
    "match_persons",
    "match_persons_batch",
    "sanitize_phase",
    "select_subcarriers_by_variance",
    "set_num_threads",
    "subcarrier_variance",
    "unwrap_phase",
]
