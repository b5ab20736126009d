"""Exporting a trained model to ONNX, in fp32, fp16 or int8, with its preprocessing recorded.

    csipose export --checkpoint runs/default/best.pt --out model.onnx --precision int8

The ONNX graph maps ``csi: float32[batch, W, C, S, P]`` (preprocessed windows, the batch axis
dynamic) to ``keypoints: float32[batch, J, D]`` in metres; the model's
:class:`~csipose.data.Preprocess`, skeleton, settings and training config travel in its metadata
(:data:`csipose.infer.METADATA_KEYS`), so :class:`csipose.infer.Predictor` runs it from raw
frames with onnxruntime alone. Precisions:

- ``fp32``: torch's exporter (``torch.export``), checked against torch on export;
- ``fp16``: every float tensor of the fp32 graph stored and computed in half precision, the
  input and output kept float32;
- ``int8-dynamic``: onnxruntime's dynamic quantisation: int8 weights, per output channel,
  activations quantised at run time from their own range;
- ``int8-static``: onnxruntime's static quantisation in QDQ form, int8 weights per channel,
  activation ranges calibrated on ``calibration`` evenly spaced training samples;
- ``int8``: the more accurate of the two on the default model (see :data:`INT8_DEFAULT`).

Needs torch, onnx, onnxscript and onnxruntime: ``pip install 'csipose[export]'``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from csipose.errors import ArgumentError, CheckpointError, CsiposeError

__all__ = ["INT8_DEFAULT", "PRECISIONS", "export_onnx", "graph_outputs"]

PRECISIONS = ("fp32", "fp16", "int8", "int8-static", "int8-dynamic")
#: What ``--precision int8`` means, chosen on accuracy, then size: on the default model dynamic
#: quantisation lost 0.17 points of PCK@20 in 0.91 MB where static QDQ lost 0.74 in 0.98 MB, and
#: it needs no calibration data. Static QDQ is the faster of the two on this CPU (batch-1 p50
#: 0.33 ms against 0.53 ms; ``python benches/bench_export.py runs/default/best.pt``).
INT8_DEFAULT = "int8-dynamic"
#: fp32 export must reproduce torch within this much (metres; presence probabilities alike).
FP32_TOLERANCE = 1e-4
OPSET = 18


def export_onnx(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    precision: str = "fp32",
    calibration: int = 512,
    check_samples: int = 64,
) -> dict[str, Any]:
    """Writes ``checkpoint``'s model to ``out`` as ONNX in ``precision``.

    Args:
        checkpoint: a ``.pt`` file written by ``csipose train``.
        out: the ``.onnx`` file to write (its folder is created).
        precision: one of :data:`PRECISIONS`.
        calibration: training samples that calibrate ``int8-static`` activation ranges.
        check_samples: inputs on which the fp32 graph is compared with torch before anything
            is written.

    Returns:
        What was written: ``path``, ``precision``, ``bytes``, ``fp32_max_error`` (the largest
        difference from torch of any graph output on the check inputs) and, for static int8,
        ``calibration_samples``.

    Raises:
        CheckpointError: an unreadable checkpoint, or one without its preprocessing.
        ArgumentError: an unknown precision, an ``out`` that is not ``.onnx``, or a missing package.
    """
    if precision not in PRECISIONS:
        raise ArgumentError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "int8":
        precision = INT8_DEFAULT
    target = Path(out)
    if target.suffix.lower() != ".onnx":
        raise ArgumentError(f"out: expected a .onnx file name, got {target}")
    for name, value in (("calibration", calibration), ("check_samples", check_samples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArgumentError(f"{name}: expected an integer >= 1, got {value!r}")
    onnx, ort, torch = _packages()
    from csipose.train.state import load_model

    source = Path(checkpoint)
    model, config = load_model(source)
    if model.preprocess is None:
        raise CheckpointError(f"{source}: no preprocessing recorded, so an export could not be run on raw frames")
    if model.film is not None or model.anchor:
        setting = "a geometry-FiLM model (geometry_film)" if model.film is not None else "an anchored model (anchor = link)"
        raise ArgumentError(f"{source}: {setting} takes the room geometry, "
                            "which the exported graph has no input for; predict with the .pt checkpoint")
    target.parent.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"path": str(target), "precision": precision}
    with tempfile.TemporaryDirectory(prefix="csipose-export-") as tmp, _quiet_logging():
        fp32 = Path(tmp) / "fp32.onnx"
        _torch_export(model, fp32, torch)
        info["fp32_max_error"] = _check_fp32(model, fp32, check_samples, torch, ort)
        if precision == "fp32":
            graph = onnx.load(os.fspath(fp32))
        elif precision == "fp16":
            from onnxruntime.transformers.float16 import convert_float_to_float16

            graph = convert_float_to_float16(onnx.load(os.fspath(fp32)), keep_io_types=True)
        else:
            from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
            from onnxruntime.quantization.shape_inference import quant_pre_process

            ready = Path(tmp) / "pre.onnx"
            quant_pre_process(os.fspath(fp32), os.fspath(ready))
            quantised = Path(tmp) / "int8.onnx"
            if precision == "int8-dynamic":
                quantize_dynamic(os.fspath(ready), os.fspath(quantised), per_channel=True, weight_type=QuantType.QInt8)
            else:
                samples = _calibration_windows(config, calibration)
                info["calibration_samples"] = len(samples)
                quantize_static(
                    os.fspath(ready), os.fspath(quantised), _Calibration(samples), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                )  # fmt: skip
            graph = onnx.load(os.fspath(quantised))
        _write_metadata(graph, model, config, precision)
        onnx.save(graph, os.fspath(target))
    info["bytes"] = target.stat().st_size
    return info


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Silences log records below ERROR while exporting: torch's exporter logs every optional
    package it does not find (torchvision), and onnxruntime's static quantiser every rank-1
    weight (a norm's scale) that it is asked to quantise per channel."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _packages() -> tuple[Any, Any, Any]:
    try:
        import onnx
        import onnxruntime as ort
        import onnxscript  # noqa: F401  (torch's exporter needs it)
        import torch
    except ImportError as err:
        raise ArgumentError(
            f"export needs torch, onnx, onnxscript and onnxruntime ({err.name} is missing): "
            "pip install 'csipose[export]'"
        ) from None
    return onnx, ort, torch


def graph_outputs(persons: int) -> tuple[str, ...]:
    """The outputs of an exported model: ``keypoints``, and with person slots ``persons`` and
    ``presence`` (probabilities)."""
    return ("keypoints", "persons", "presence") if persons else ("keypoints",)


def _exported_outputs(model: Any, torch: Any) -> Any:
    """The model's forward reduced to the graph's outputs (:func:`graph_outputs`)."""

    class Outputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, csi: Any) -> Any:
            out = self.model(csi)
            if not self.model.persons:
                return out["keypoints"]
            return out["keypoints"], out["persons"], torch.sigmoid(out["presence"])

    return Outputs().eval()


def _torch_export(model: Any, path: Path, torch: Any) -> None:
    example = torch.zeros(2, *model.shape)
    wrapped = _exported_outputs(model.float().eval(), torch)
    try:
        torch.onnx.export(
            wrapped, (example,), os.fspath(path), input_names=["csi"], output_names=list(graph_outputs(model.persons)),
            dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=OPSET, dynamo=True,
            external_data=False, verbose=False,
        )  # fmt: skip
    except Exception as err:
        raise CsiposeError(f"torch.onnx.export failed on the {model.settings.get('model')} model: {err}") from None


def _check_fp32(model: Any, path: Path, samples: int, torch: Any, ort: Any) -> float:
    """Largest |ONNX - torch| over every graph output (:func:`graph_outputs`: metres, and
    presence probabilities with person slots) on inputs drawn around the model's input statistics."""
    generator = torch.Generator().manual_seed(0)
    x = model.norm.mean + model.norm.scale * torch.randn(max(samples, 1), *model.shape, generator=generator)
    with torch.no_grad():
        expected = _exported_outputs(model, torch)(x)
    expected = [e.numpy() for e in (expected if isinstance(expected, tuple) else (expected,))]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    names = list(graph_outputs(model.persons))
    got = session.run(names, {"csi": x.numpy()})
    errors = {name: float(np.abs(g - e).max()) for name, g, e in zip(names, got, expected)}
    worst = max(errors, key=lambda name: errors[name])
    if not errors[worst] <= FP32_TOLERANCE:
        raise CsiposeError(f"the fp32 ONNX graph's {worst} differs from torch by {errors[worst]:.2e} (> {FP32_TOLERANCE:g})")
    return errors[worst]


def _calibration_windows(config: Any, count: int) -> np.ndarray:
    """``float32[n, W, C, S, P]``: ``count`` evenly spaced windows of the run's training split."""
    from csipose.train.data import load_split

    train = load_split(config, "train")
    index = np.unique(np.linspace(0, len(train) - 1, min(count, len(train))).round().astype(np.int64))
    if hasattr(train, "read_batch"):
        return np.asarray(train.read_batch(index)["csi"], dtype=np.float32)
    return np.stack([np.asarray(train[int(i)]["csi"], dtype=np.float32) for i in index])


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over windows, 32 at a time."""

    def __init__(self, windows: np.ndarray, batch: int = 32) -> None:
        self._batches = iter([{"csi": windows[i : i + batch]} for i in range(0, len(windows), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _write_metadata(graph: Any, model: Any, config: Any, precision: str) -> None:
    from csipose import __version__
    from csipose.infer import METADATA_FORMAT, encode_rooms
    from csipose.skeletons import get_skeleton

    joints = get_skeleton(config.skeleton)
    units = "metres" if config.skeleton == "h36m17" else "the training keypoints' (image pixels for COCO-17)"
    skeleton = {"name": joints.name, "joints": list(joints.joint_names), "bones": [list(b) for b in joints.bones],
                "units": units}  # fmt: skip
    values = {
        "csipose.format": METADATA_FORMAT,
        "csipose.preprocess": model.preprocess,
        "csipose.skeleton": skeleton,
        "csipose.model_settings": model.settings,
        "csipose.config": config.to_dict(),
        "csipose.precision": precision,
        "csipose.version": str(__version__),
    }
    if getattr(model, "room_statistics", None):  # a test_time_norm model's training rooms
        values["csipose.room_statistics"] = encode_rooms(model.room_statistics)
    del graph.metadata_props[:]
    for key, value in values.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    graph.producer_name = "csipose"
    graph.producer_version = str(__version__)
