"""Raw CSI frames from whatever a user points ``csipose predict`` at, one run of consecutive frames at a time.

:func:`open_frames` reads:

- an MM-Fi tree (``ROOT/E??/S??/A??/wifi-csi/frameNNN.mat``), every sequence in order;
- one sequence folder (``.../A01`` holding ``wifi-csi/`` and ``ground_truth.npy``, or its
  ``wifi-csi`` folder);
- a prepared cache (``csipose data prepare``), every sequence in order;
- a ``.npy`` of complex CSI ``[F, A, S, P]`` (or real amplitude, for amplitude-only models);
- a ``.npz`` with ``amplitude`` and ``phase`` (or complex ``csi``) ``[F, A, S, P]`` and optionally
  ``keypoints`` ``[F, J, 3]`` in metres, or several people's ``[F, M, J, 3]`` with ``person_mask``
  ``bool[F, M]`` saying which of the ``M`` are in each frame (absent: all of them) and
  ``person_ids`` ``int[F, M]`` saying who each is through the frames (absent: unknown);
- a real capture (Intel 5300 or Atheros ``.dat``, ESP32-CSI-Tool ``.csv``, nexmon_csi ``.pcap``;
  :func:`csipose.io.read_capture`),
  cut into frames of ``packets`` packets of its first transmit stream, on the card's own tones.

Each :class:`FrameRun` holds consecutive frames only: a sequence is split where a frame file is
missing or empty, so no window spans a gap. Nothing here needs torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from csipose.data.cache import CACHE_FORMAT, _code, _load_keypoints, open_cache
from csipose.data.layout import CsiSequence, discover, sequence_at
from csipose.data.matfile import read_csi_frame
from csipose.errors import DatasetError

__all__ = ["FrameRun", "FrameSource", "open_frames"]


@dataclass
class FrameRun:
    """Consecutive raw frames of one recording.

    Attributes:
        name: where they come from (``"E01/S01/A01"`` or the file name).
        amplitude: ``float32[F, A, S, P]`` raw amplitude (or complex CSI, ``phase`` None).
        phase: ``float32[F, A, S, P]`` wrapped phase, sanitised already when ``phase_sanitised``
            (a prepared cache stores it so); None for amplitude-only input.
        ids: ``int64[F, 4]``: environment, subject, action and 1-based frame number of each frame
            (0, 0, 0 and the position in the file for array files).
        keypoints: ``float32[F, J, 3]`` ground truth in metres (several people's ``[F, M, J, 3]``), or None.
        person_mask: with a person axis, ``bool[F, M]``: the people in each frame; else None.
        person_ids: with a person axis, ``int64[F, M]``: who each person is, the same id through
            the frames (where the input says so); else None.
        tones: ``int64[S]`` the signed subcarrier indices of a capture's card (None: the
            frames are on the model's own tones).
        times: ``float64[F]`` seconds of each frame (captures), or None.
    """

    name: str
    amplitude: np.ndarray
    phase: np.ndarray | None
    ids: np.ndarray
    keypoints: np.ndarray | None = None
    phase_sanitised: bool = False
    tones: np.ndarray | None = None
    times: np.ndarray | None = None
    person_mask: np.ndarray | None = None
    person_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class FrameSource:
    """An opened input: ``kind`` (``"mmfi"``, ``"sequence"``, ``"cache"``, ``"npy"``, ``"npz"``),
    ``frames`` (how many readable frames), ``has_keypoints``, and :meth:`runs`."""

    path: Path
    kind: str
    frames: int
    has_keypoints: bool
    _runs: Any

    def runs(self) -> Iterator[FrameRun]:
        """The runs of consecutive frames, in input order, read lazily."""
        return iter(self._runs())


def open_frames(path: str | os.PathLike[str], *, packets: int = 10, **capture: Any) -> FrameSource:
    """Opens ``path`` (see the module docstring for what it may be); ``packets`` per frame of a capture,
    whose reading takes the ``capture`` options of :func:`csipose.io.read_capture` (nexmon's chip, bandwidth).

    Raises:
        DatasetError: a missing path, a folder of no known layout, an array file of the wrong
            keys or rank, or an input with no frames.
    """
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: input not found; expected an MM-Fi tree, sequence folder, prepared cache, .npy or .npz")
    if p.is_file() and p.suffix.lower() in _CAPTURES:
        source = _capture(p, packets, capture)
    elif p.is_file():
        source = _array_file(p)
    elif (p / "manifest.json").is_file() and _is_cache(p / "manifest.json"):
        source = _cache(p)
    elif (p / "wifi-csi").is_dir() or (p.name == "wifi-csi" and (p.parent / "ground_truth.npy").is_file()):
        source = _sequences(p, [sequence_at(p if p.name != "wifi-csi" else p.parent)], "sequence")
    elif any(child.is_dir() and child.name[:1] == "E" and child.name[1:].isdigit() for child in p.iterdir()):
        source = _sequences(p, discover(p), "mmfi")
    else:
        raise DatasetError(
            f"{p}: not an input csipose reads; expected an MM-Fi tree (E??/S??/A??/wifi-csi), a sequence folder "
            "(wifi-csi/ and ground_truth.npy), a prepared cache (manifest.json), a .npy or a .npz"
        )
    if source.frames == 0:
        raise DatasetError(f"{p}: no frames to predict from ({source.kind} input)")
    return source


# --------------------------------------------------------------------------- folders
def _consecutive(numbers: np.ndarray) -> list[slice]:
    """Slices of ``numbers`` (sorted) where each step is +1."""
    if len(numbers) == 0:
        return []
    breaks = np.flatnonzero(np.diff(numbers) != 1) + 1
    bounds = [0, *breaks.tolist(), len(numbers)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _sequences(path: Path, sequences: list[CsiSequence], kind: str) -> FrameSource:
    count = sum(1 for s in sequences for f in s.frames if f.size > 0)

    def runs() -> Iterator[FrameRun]:
        for seq in sequences:
            kept = [f for f in seq.frames if f.size > 0]
            if not kept:
                continue
            numbers = np.array([f.number for f in kept], dtype=np.int64)
            keypoints = _load_keypoints(seq, numbers.tolist())
            codes = (_code(seq.environment), _code(seq.subject), _code(seq.action))
            for part in _consecutive(numbers):
                files = kept[part]
                read = [read_csi_frame(f.path) for f in files]
                ids = np.column_stack([np.tile(codes, (len(files), 1)), numbers[part]]).astype(np.int64)
                yield FrameRun(seq.key, np.stack([a for a, _ in read]), np.stack([ph for _, ph in read]), ids,
                               keypoints[part].astype(np.float32))  # fmt: skip

    return FrameSource(path, kind, count, True, runs)


def _is_cache(manifest: Path) -> bool:
    try:
        return json.loads(manifest.read_text()).get("format") == CACHE_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _cache(path: Path) -> FrameSource:
    cache = open_cache(path)

    def runs() -> Iterator[FrameRun]:
        frames = np.asarray(cache.array("frames"))
        for entry in cache.manifest["sequences"]:
            rows = slice(entry["start"], entry["start"] + entry["count"])
            table = frames[rows]
            for part in _consecutive(table[:, 3]):
                at = slice(rows.start + part.start, rows.start + part.stop)
                yield FrameRun(entry["key"], np.array(cache.array("amplitude")[at]), np.array(cache.array("phase")[at]),
                               table[part].astype(np.int64), np.array(cache.array("keypoints")[at], dtype=np.float32),
                               phase_sanitised=True)  # fmt: skip

    return FrameSource(path, "cache", int(cache.manifest["frames"]), True, runs)


# -------------------------------------------------------------------------- captures
_CAPTURES = (".dat", ".csv", ".pcap", ".csi")


def _capture(path: Path, packets: int, options: dict[str, Any]) -> FrameSource:
    from csipose.io import capture_frames, read_capture

    frames = capture_frames(read_capture(path, **options), packets)
    ids = np.zeros((len(frames.times), 4), dtype=np.int64)
    ids[:, 3] = np.arange(1, len(frames.times) + 1)

    def runs() -> Iterator[FrameRun]:
        for run in _consecutive(frames.runs):
            yield FrameRun(f"{path.name} run {int(frames.runs[run.start])}", frames.amplitude[run], frames.phase[run],
                           ids[run], tones=frames.tones, times=frames.times[run])  # fmt: skip

    return FrameSource(path, "capture", len(frames.times), False, runs)


# ----------------------------------------------------------------------- array files
def _ground_truth(path: Path, loaded: dict[str, np.ndarray], frames: int) -> tuple[Any, Any, Any]:
    """An array file's ``(keypoints float32[F, J, 3] or [F, M, J, 3], person_mask bool[F, M] or None,
    person_ids int64[F, M] or None)``; ``(None, None, None)`` without keypoints."""
    keypoints, mask, who = loaded.get("keypoints"), loaded.get("person_mask"), loaded.get("person_ids")
    if keypoints is None:
        for name, value in (("person_mask", mask), ("person_ids", who)):
            if value is not None:
                raise DatasetError(f"{path}: {name} without keypoints; expected keypoints [{frames}, M, J, 3] beside it")
        return None, None, None
    if keypoints.ndim not in (3, 4) or len(keypoints) != frames or keypoints.shape[-1] != 3:
        raise DatasetError(f"{path}: keypoints has shape {list(keypoints.shape)}; expected [{frames}, J, 3] "
                           f"(one person) or [{frames}, M, J, 3] (several)")
    if keypoints.ndim == 3:
        for name, value in (("person_mask", mask), ("person_ids", who)):
            if value is not None:
                raise DatasetError(f"{path}: {name} goes with several people's keypoints [{frames}, M, J, 3]; "
                                   f"keypoints has shape {list(keypoints.shape)}")
        return keypoints.astype(np.float32), None, None
    people = keypoints.shape[1]
    if mask is None:
        mask = np.ones((frames, people), dtype=bool)
    elif mask.shape != (frames, people) or mask.dtype != np.bool_:
        raise DatasetError(f"{path}: person_mask is {mask.dtype}{list(mask.shape)}; expected bool[{frames}, {people}]")
    if who is not None:
        if who.shape != (frames, people) or who.dtype.kind not in "iu":
            raise DatasetError(f"{path}: person_ids is {who.dtype}{list(who.shape)}; expected int[{frames}, {people}]")
        both = mask[:, :, None] & mask[:, None, :] & ~np.eye(people, dtype=bool)
        twice = np.flatnonzero(((who[:, :, None] == who[:, None, :]) & both).any(axis=(1, 2)))
        if len(twice):
            f = int(twice[0])
            raise DatasetError(f"{path}: person_ids of frame {f} name one person twice: {who[f][mask[f]].tolist()}")
        who = who.astype(np.int64)
    return keypoints.astype(np.float32), mask, who


def _array_file(path: Path) -> FrameSource:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            loaded: Any = {"csi": np.load(path, allow_pickle=False)}
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                loaded = {k: z[k] for k in z.files}
        else:
            raise DatasetError(f"{path}: expected a .npy or .npz of raw frames, an MM-Fi tree or a cache folder")
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: unreadable {suffix} file ({err})") from None
    if "csi" in loaded:
        amplitude, phase = loaded["csi"], None
        if "amplitude" in loaded or "phase" in loaded:
            raise DatasetError(f"{path}: holds csi and amplitude/phase; expected one or the other")
    elif "amplitude" in loaded:
        amplitude, phase = loaded["amplitude"], loaded.get("phase")
    else:
        raise DatasetError(
            f"{path}: expected arrays 'amplitude' and 'phase' (or complex 'csi') of shape [F, A, S, P]; "
            f"found {', '.join(sorted(loaded)) or 'none'}"
        )
    arrays = {"amplitude" if phase is not None or not np.iscomplexobj(amplitude) else "csi": amplitude}
    if phase is not None:
        arrays["phase"] = phase
    for name, a in arrays.items():
        if a.ndim != 4:
            raise DatasetError(f"{path}: {name} has shape {list(a.shape)}; expected [F, A, S, P] (frames first)")
    frames = len(amplitude)
    if phase is not None and phase.shape != amplitude.shape:
        raise DatasetError(f"{path}: phase has shape {list(phase.shape)}; expected amplitude's {list(amplitude.shape)}")
    keypoints, mask, who = _ground_truth(path, loaded, frames)
    ids = np.zeros((frames, 4), dtype=np.int64)
    ids[:, 3] = np.arange(1, frames + 1)

    def runs() -> Iterator[FrameRun]:
        yield FrameRun(path.name, amplitude, phase, ids, keypoints, person_mask=mask, person_ids=who)

    return FrameSource(path, suffix[1:], frames, keypoints is not None, runs)
