"""Shared test settings.

Hypothesis profiles: ``CSIPOSE_HYPOTHESIS_PROFILE=dev`` (few examples, fast),
``ci`` (the default) or ``thorough``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("CSIPOSE_HYPOTHESIS_PROFILE", "ci"))
