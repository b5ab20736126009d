"""Your own labelled recordings: captures from a card plus keypoints from a camera, as a dataset.

A recording is one folder::

    RECORDING/
      *.dat | *.csv | ...      one or more captures of one card (:func:`~csipose.io.read_capture`),
                               read in name order and joined in time
      keypoints.npz            times: float64[K] seconds, on the capture's clock (see clock_offset)
                               keypoints: float32[K, 17, 3] Human3.6M-17 joints in metres, from a
                               3-D camera pose estimator; optional visibility: float32[K, 17]
      or keypoints.json        COCO-17 2-D keypoints, COCO style: {"annotations": [{"keypoints":
                               [x, y, v] * 17, "timestamp": s} or {..., "image_id": i}], "images":
                               [{"id": i, "timestamp": s}]}; v > 0 is visible; x, y in pixels
      recording.toml           optional: clock_offset = seconds added to the keypoint times,
                               format = the capture format, tx = the transmit stream (default 0),
                               chip and bandwidth (MHz) for nexmon captures

``recording_root`` is such a folder, or a folder of them (one per subfolder), all labelled the
same way: Human3.6M-17 3-D recordings train the default ``skeleton = "h36m17"``; COCO-17 2-D ones
train ``skeleton = "coco17"`` with ``keypoint_dims = 2`` (keypoints stored as ``(x, y, 0)``). A
frame with several COCO annotations takes the first. Packets become
frames of ``packets`` consecutive packets (MM-Fi's layout, ``[A, S, P]``), each stamped with
its last packet's time; a run of frames breaks where two frames are more than three median frame
intervals apart (lost packets). A frame is labelled by the keypoints nearest in time when they
are at most ``tolerance`` seconds (default 0.05) away; windows end on a labelled frame. Frames are
then cleaned exactly as MM-Fi frames (:class:`~csipose.data.Preprocess`, with the card's
subcarriers resampled by index onto the model's tones).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from csipose.data.preprocess import FEATURES, Preprocess
from csipose.errors import ArgumentError, DatasetError
from csipose.io.capture import CsiRecording, read_capture

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = ["CAPTURE_SUFFIXES", "CaptureFrames", "RecordingDataset", "capture_frames", "find_recordings"]

#: File suffixes read as captures inside a recording folder.
CAPTURE_SUFFIXES = (".dat", ".csv", ".pcap", ".csi")
_SETTINGS = {"clock_offset": float, "format": str, "tx": int, "chip": str, "bandwidth": int}


@dataclass
class CaptureFrames:
    """A capture cut into MM-Fi-shaped frames.

    Attributes:
        amplitude, phase: ``float32[F, rx, S, P]`` raw amplitude and wrapped phase.
        times: ``float64[F]`` seconds, each frame's last packet.
        runs: ``int64[F]``, the run of consecutive frames each frame belongs to.
        tones: ``int64[S]`` signed subcarrier indices.
    """

    amplitude: np.ndarray
    phase: np.ndarray
    times: np.ndarray
    runs: np.ndarray
    tones: np.ndarray


def capture_frames(recording: CsiRecording, packets: int, *, tx: int = 0) -> CaptureFrames:
    """Frames of ``packets`` consecutive packets of transmit stream ``tx`` (trailing packets that
    fill no frame are left out)."""
    if not 0 <= tx < recording.tx:
        raise ArgumentError(f"tx: {recording.path} has {recording.tx} transmit stream(s), got tx = {tx}")
    f = recording.packets // packets
    if f == 0:
        raise DatasetError(f"{recording.path}: {recording.packets} packets, fewer than one frame of {packets}")
    csi = recording.csi[: f * packets, tx]  # [F*P, rx, S]
    frames = csi.reshape(f, packets, *csi.shape[1:]).transpose(0, 2, 3, 1)  # [F, rx, S, P]
    times = recording.timestamps[packets - 1 : f * packets : packets].astype(np.float64)
    gaps = np.diff(times)
    limit = 3 * float(np.median(gaps)) if len(gaps) else np.inf
    runs = np.concatenate([[0], np.cumsum(gaps > limit)]).astype(np.int64)
    return CaptureFrames(np.abs(frames).astype(np.float32), np.angle(frames).astype(np.float32), times, runs,
                         recording.subcarriers)  # fmt: skip


def find_recordings(root: str | os.PathLike[str]) -> list[Path]:
    """The recording folders under ``root``: ``root`` itself when it holds captures, else its
    subfolders that do, sorted by name."""
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: recording folder not found")

    def has_capture(folder: Path) -> bool:
        return any(p.suffix.lower() in CAPTURE_SUFFIXES and p.is_file() for p in folder.iterdir())

    if has_capture(base):
        return [base]
    found = sorted(p for p in base.iterdir() if p.is_dir() and has_capture(p))
    if not found:
        raise DatasetError(
            f"{base}: no recording; expected captures ({', '.join(CAPTURE_SUFFIXES)}) and keypoints.npz "
            "in this folder or in its subfolders"
        )
    return found


def _settings(folder: Path) -> dict[str, Any]:
    path = folder / "recording.toml"
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise DatasetError(f"{path}: not a readable TOML file ({err})") from None
    for key, value in values.items():
        kind = _SETTINGS.get(key)
        if kind is None:
            raise DatasetError(f"{path}: unknown setting {key!r}; known: {', '.join(_SETTINGS)}")
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is float and not isinstance(value, (int, float))):
            raise DatasetError(f"{path}: {key} must be a {kind.__name__}, got {value!r}")
    return values


def _keypoints(folder: Path, offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``(times[K], keypoints[K, 17, 3], visibility[K, 17], skeleton)`` of a recording, on the capture clock."""
    npz, coco = folder / "keypoints.npz", folder / "keypoints.json"
    if npz.is_file():
        times, keypoints, visibility = _npz_keypoints(npz)
        skeleton = "h36m17"
    elif coco.is_file():
        times, keypoints, visibility = _coco_keypoints(coco)
        skeleton = "coco17"
    else:
        raise DatasetError(
            f"{folder}: no keypoints.npz (times [K], Human3.6M-17 keypoints [K, 17, 3] in metres) or "
            "keypoints.json (COCO-17 2-D) beside the captures"
        )
    order = np.argsort(times, kind="stable")
    return times[order] + offset, keypoints[order], visibility[order], skeleton


def _npz_keypoints(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable ({err})") from None
    times, keypoints = arrays.get("times"), arrays.get("keypoints")
    if times is None or keypoints is None:
        raise DatasetError(f"{path}: expected arrays 'times' and 'keypoints', found {', '.join(sorted(arrays))}")
    if times.ndim != 1 or keypoints.shape != (len(times), 17, 3):
        raise DatasetError(
            f"{path}: times {list(times.shape)} and keypoints {list(keypoints.shape)}; expected [K] and [K, 17, 3]"
        )
    visibility = arrays.get("visibility", np.ones((len(times), 17), np.float32))
    if visibility.shape != (len(times), 17):
        raise DatasetError(f"{path}: visibility {list(visibility.shape)}; expected [{len(times)}, 17]")
    return times.astype(np.float64), keypoints.astype(np.float32), visibility.astype(np.float32)


def _coco_keypoints(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DatasetError(f"{path}: not readable JSON ({err})") from None
    annotations = document.get("annotations") if isinstance(document, dict) else None
    if not isinstance(annotations, list) or not annotations:
        raise DatasetError(f"{path}: expected a COCO-style object with a non-empty 'annotations' list")
    image_times = {image.get("id"): image.get("timestamp") for image in document.get("images", []) if isinstance(image, dict)}
    seen: dict[float, np.ndarray] = {}
    for i, annotation in enumerate(annotations):
        where = f"{path}: annotations[{i}]"
        if not isinstance(annotation, dict):
            raise DatasetError(f"{where}: expected an object")
        time = annotation.get("timestamp", image_times.get(annotation.get("image_id")))
        if not isinstance(time, (int, float)) or isinstance(time, bool):
            raise DatasetError(f"{where}: no timestamp (in seconds, on it or on its image)")
        values = np.asarray(annotation.get("keypoints", ()), dtype=np.float64)
        if values.shape != (51,):
            raise DatasetError(f"{where}: keypoints must be 17 x (x, y, v) = 51 numbers, got {values.size}")
        seen.setdefault(float(time), values.reshape(17, 3))  # several people in a frame: the first
    times = np.array(sorted(seen), dtype=np.float64)
    triples = np.stack([seen[t] for t in times])
    keypoints = np.concatenate([triples[..., :2], np.zeros_like(triples[..., :1])], axis=-1).astype(np.float32)
    return times, keypoints, (triples[..., 2] > 0).astype(np.float32)


def _nearest(sorted_times: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``int64[Q]``: the index of the time in ``sorted_times: [K]`` (K >= 1) nearest to each of
    ``queries: [Q]``, the earlier one on a tie."""
    right = np.clip(np.searchsorted(sorted_times, queries), 0, len(sorted_times) - 1)
    left = np.maximum(right - 1, 0)
    return np.where(np.abs(sorted_times[left] - queries) <= np.abs(sorted_times[right] - queries), left, right)


class RecordingDataset:
    """Labelled windows of your own recordings, ``torch.utils.data.Dataset``-compatible.

    Samples follow the dataset contract: ``csi: float32[W, C, S, P]``, ``keypoints: float32[17, 3]``,
    ``visibility: float32[17]``, and ``subject`` (the recording's 1-based position), ``action``
    and ``environment`` (0), ``frame`` (1-based frame of its recording) as int64 scalars.
    ``skeleton`` says how the recordings are labelled (``"h36m17"`` or ``"coco17"``).

    Args:
        root: a recording folder or a folder of them (see the module docstring).
        split: ``"train"`` or ``"val"``.
        val: names of the recordings held out for validation; None holds out the last
            ``val_fraction`` of every recording's labelled windows instead (in time order).
        window, features, subcarriers, subcarrier_mode: as for MM-Fi; ``subcarriers`` is the count
            on the 114 HT40 tones (resampled) that the model sees.
        packets: packets per frame (MM-Fi: 10).
        tolerance: seconds between a frame and the keypoints that may label it.
        cleaning: the amplitude cleaning, as for MM-Fi (``"official"``, ``"raw"`` or ``"log"``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        val: list[str] | None = None,
        val_fraction: float = 0.2,
        window: int = 1,
        features: tuple[str, ...] = FEATURES,
        subcarriers: int = 114,
        subcarrier_mode: str = "linear",
        packets: int = 10,
        tolerance: float = 0.05,
        cleaning: str = "official",
    ) -> None:
        if split not in ("train", "val"):
            raise ArgumentError(f"split: expected 'train' or 'val', got {split!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ArgumentError(f"val_fraction: expected a number in (0, 1), got {val_fraction!r}")
        if not tolerance > 0:
            raise ArgumentError(f"tolerance: expected seconds > 0, got {tolerance!r}")
        self.preprocess = Preprocess(features=features, cleaning=cleaning, antennas=3, packets=packets,
                                     source_subcarriers=114, subcarriers=subcarriers,
                                     subcarrier_mode=subcarrier_mode, window=window)  # fmt: skip
        folders = find_recordings(root)
        names = [f.name for f in folders]
        unknown = sorted(set(val or ()) - set(names))
        if unknown:
            raise ArgumentError(f"val: no recording named {unknown[0]!r} under {root}; found {', '.join(names)}")
        self.split, self.recordings = split, names
        self.skeleton = ""
        csi, keypoints, visibility, ids = [], [], [], []
        for number, folder in enumerate(folders, start=1):
            x, labels, vis, frame_ids, ends, skeleton = self._windows(folder, tolerance)
            if self.skeleton and skeleton != self.skeleton:
                raise DatasetError(f"{folder}: {skeleton} keypoints, but {folders[0]} has {self.skeleton}; label all alike")
            self.skeleton = skeleton
            if val is not None:
                chosen = np.full(len(ends), (folder.name in val) == (split == "val"))
            else:
                cut = int(np.floor(len(ends) * (1 - val_fraction)))
                chosen = np.arange(len(ends)) >= cut if split == "val" else np.arange(len(ends)) < cut
            w = window
            csi.append(np.stack([x[e - w + 1 : e + 1] for e in ends[chosen]]) if chosen.any()
                       else np.zeros((0, *self.preprocess.input_shape), np.float32))  # fmt: skip
            keypoints.append(labels[ends[chosen]])
            visibility.append(vis[ends[chosen]])
            ids.append(np.column_stack([np.zeros((chosen.sum(), 1)), np.full((chosen.sum(), 1), number),
                                        np.zeros((chosen.sum(), 1)), frame_ids[ends[chosen]]]).astype(np.int64))
        self.csi = np.concatenate(csi)
        self.keypoints = np.concatenate(keypoints)
        self.visibility = np.concatenate(visibility)
        self.environment, self.subject, self.action, self.frame = np.concatenate(ids).T.copy()

    def _windows(self, folder: Path, tolerance: float) -> tuple[np.ndarray, ...]:
        """Features of every frame of a recording, labels, and the frames that end a labelled window."""
        settings = _settings(folder)
        captures = sorted(p for p in folder.iterdir() if p.suffix.lower() in CAPTURE_SUFFIXES and p.is_file())
        options = {k: settings[k] for k in ("chip", "bandwidth") if k in settings}
        parts = [capture_frames(read_capture(p, settings.get("format"), **options), self.preprocess.packets,
                                tx=int(settings.get("tx", 0))) for p in captures]  # fmt: skip
        for p, part in zip(captures, parts):
            if part.amplitude.shape[1] != self.preprocess.antennas:
                raise DatasetError(
                    f"{p}: {part.amplitude.shape[1]} receive antennas; the model takes {self.preprocess.antennas}"
                )
        times = np.concatenate([p.times for p in parts])
        runs = np.concatenate([p.runs + 1_000_000 * i for i, p in enumerate(parts)])
        x = np.concatenate([self.preprocess.frames(p.amplitude, p.phase, tones=p.tones) for p in parts])
        kp_times, kp, vis, skeleton = _keypoints(folder, float(settings.get("clock_offset", 0.0)))
        nearest = _nearest(kp_times, times)
        labelled = np.abs(kp_times[nearest] - times) <= tolerance
        if not labelled.any():
            raise DatasetError(
                f"{folder}: the keypoints ({kp_times[0]:.3f}..{kp_times[-1]:.3f} s) do not overlap the captures' frames "
                f"({times[0]:.3f}..{times[-1]:.3f} s) within {tolerance} s; set clock_offset in recording.toml"
            )
        w = self.preprocess.window
        start_of_run = np.r_[True, runs[1:] != runs[:-1]]
        run_start = np.maximum.accumulate(np.where(start_of_run, np.arange(len(runs)), 0))
        ends = np.flatnonzero(labelled & (np.arange(len(runs)) - run_start >= w - 1)).astype(np.int64)
        return x, kp[nearest], vis[nearest], np.arange(1, len(times) + 1), ends, skeleton

    # -- the dataset contract ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.csi)

    def label_keypoints(self) -> np.ndarray:
        """``float32[N, 17, 3]``: every sample's label keypoints."""
        return self.keypoints

    def read_batch(self, indices: Any) -> dict[str, np.ndarray]:
        """The samples at ``indices``, stacked (as :meth:`csipose.data.MMFiDataset.read_batch`)."""
        idx = np.asarray(indices, dtype=np.int64)
        return {"csi": self.csi[idx], "keypoints": self.keypoints[idx], "visibility": self.visibility[idx],
                "subject": self.subject[idx], "action": self.action[idx], "environment": self.environment[idx],
                "frame": self.frame[idx]}  # fmt: skip

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= int(index) < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} windows")
        batch = self.read_batch([int(index) % n])
        return {k: v[0] for k, v in batch.items()}

    def __repr__(self) -> str:
        return f"RecordingDataset({self.recordings}, split={self.split!r}, {len(self)} windows of {self.preprocess.input_shape})"
