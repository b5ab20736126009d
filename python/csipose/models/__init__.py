"""Pose models (PyTorch): the compact default network and its optional heads."""

from __future__ import annotations

from csipose.models.csinet import CsiPoseNet, build_model, count_parameters, parameter_table

__all__ = ["CsiPoseNet", "build_model", "count_parameters", "parameter_table"]
