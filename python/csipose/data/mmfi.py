"""``MMFiDataset``: windows of MM-Fi WiFi CSI with their 3D keypoints.

Reads either the raw tree (one ``loadmat`` per frame, as the official toolbox
does) or a cache made by :func:`~csipose.data.prepare_mmfi`; both give identical
samples. A sample is a dict of numpy values:

    csi         float32[W, C, S, P]  W frames, C = 3 amplitude (+ 3 phase) channels,
                                     S = 114 subcarriers (or ``subcarriers``), P = 10 packets
    keypoints   float32[17, 3]       Human3.6M-17 joints of the label frame, metres
    visibility  float32[17]          all ones (MM-Fi has no visibility flag)
    subject, action, environment, frame   int64 scalars (frame: 1-based label frame number)

Windows hold W consecutive frames of one sequence and never span a skipped
(0-byte) or missing frame file.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from csipose._checks import positive_int
from csipose.data.cache import MMFiCache, _code, _load_keypoints, open_cache
from csipose.data.cleaning import phase_feature
from csipose.data.layout import CsiSequence, discover
from csipose.data.matfile import FRAME_SHAPE, read_csi_frame
from csipose.data.preprocess import FEATURES, Preprocess
from csipose.data.splits import Split, mmfi_split
from csipose.errors import ArgumentError, DatasetError

__all__ = ["MMFiDataset"]

Sample = dict[str, np.ndarray]


def _window_starts(numbers: np.ndarray, seq_id: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Positions ``p`` such that rows ``p .. p+window-1`` are consecutive frames of one sequence.

    Args:
        numbers: ``int64[N]`` frame numbers, sorted within each sequence.
        seq_id: ``int64[N]`` sequence of each row.
    """
    n = len(numbers)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.flatnonzero((np.diff(numbers) != 1) | (np.diff(seq_id) != 0)) + 1
    bounds = np.concatenate([[0], breaks, [n]])
    starts = [np.arange(a, b - window + 1, stride, dtype=np.int64) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


class MMFiDataset:
    """WiFi-CSI windows of one MM-Fi split, ``torch.utils.data.Dataset``-compatible.

    Args:
        root: the MM-Fi root (``E01..E04/S??/A??/wifi-csi``); ``None`` with ``cache``
            reads the cache alone (no walk of the tree and no freshness check, so
            the cache can live on a machine without the ~320k source files).
        protocol: ``"p1"`` (daily actions), ``"p2"`` (rehabilitation) or ``"p3"`` (all).
        scheme: ``"random"``, ``"cross_subject"``, ``"cross_environment"`` or ``"manual"``
            (see :func:`~csipose.data.mmfi_split`).
        split: ``"train"`` or ``"val"``.
        ratio, seed: the random scheme's train fraction and seed.
        train, val: subject -> actions mappings for the manual scheme.
        window: frames per sample (W).
        stride: frames between the starts of consecutive windows.
        label: which frame of the window gives the keypoints: ``"last"``, ``"center"``
            (index ``W // 2``) or an index into the window (negative counts from the end).
        features: ``("amplitude",)``, ``("phase",)`` or both; amplitude channels come first.
        cleaning: ``"official"`` (the MM-Fi toolbox's NaN/inf fill and per-frame
            min-max to [0, 1]), ``"raw"`` (amplitude as stored, NaN/inf included) or ``"log"``
            (the fill, then the log amplitude: :func:`~csipose.data.cleaning.log_amplitude`).
        subcarriers: resample the 114 subcarriers to this many (None keeps 114);
            phase is sanitised before resampling, never interpolated wrapped.
        subcarrier_mode: :class:`~csipose.Resampler` mode (``"linear"``, ``"area"``, ``"subband"``).
        cache: a folder made by :func:`~csipose.data.prepare_mmfi` from this ``root``.

    Attributes:
        preprocess: the :class:`~csipose.data.Preprocess` these options describe (recorded in
            the checkpoints of models trained on this dataset).
        keys: ``"E??/S??/A??"`` of the chosen recordings, sorted.
        sequences: their :class:`~csipose.data.CsiSequence` as found in the tree
            (empty in cache-only mode).
        skipped: the 0-byte frame files of the chosen recordings, skipped as the
            official toolbox does (in cache-only mode, as recorded by the cache).

    Raises:
        DatasetError: a missing root, missing or misshapen ground truth, a stale or
            foreign cache, or a split with no windows. Frame files are read lazily in
            direct mode, so a corrupt one raises when its sample is fetched.
        ArgumentError: an option outside its allowed values.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None,
        *,
        protocol: str = "p1",
        scheme: str = "random",
        split: Literal["train", "val"] = "train",
        ratio: float = 0.8,
        seed: int = 0,
        train: Mapping[str, Sequence[str]] | None = None,
        val: Mapping[str, Sequence[str]] | None = None,
        window: int = 1,
        stride: int = 1,
        label: Literal["last", "center"] | int = "last",
        features: Sequence[str] = FEATURES,
        cleaning: Literal["official", "raw", "log"] = "official",
        subcarriers: int | None = None,
        subcarrier_mode: Literal["linear", "area", "subband"] = "linear",
        cache: str | os.PathLike[str] | None = None,
    ) -> None:
        if root is None and cache is None:
            raise ArgumentError("root: give the MM-Fi folder, or root=None with cache= to read a cache alone")
        self.window = positive_int(window, "window")
        self.stride = positive_int(stride, "stride")
        self.label_offset = _label_offset(label, self.window)
        self.preprocess = Preprocess(
            features=tuple(features) if not isinstance(features, str) else (features,),
            cleaning=cleaning,
            antennas=FRAME_SHAPE[0],
            packets=FRAME_SHAPE[2],
            source_subcarriers=FRAME_SHAPE[1],
            subcarriers=FRAME_SHAPE[1] if subcarriers is None else positive_int(subcarriers, "subcarriers"),
            subcarrier_mode=subcarrier_mode,
            window=self.window,
        )
        self.features = self.preprocess.features
        self.cleaning = cleaning
        if split not in ("train", "val"):
            raise ArgumentError(f"split: expected 'train' or 'val', got {split!r}")
        self.split = split
        parts = mmfi_split(protocol, scheme, ratio=ratio, seed=seed, train=train, val=val)
        self.selection: Split = parts[0] if split == "train" else parts[1]
        wanted = {(s, a) for s, acts in self.selection.items() for a in acts}

        self._cache: MMFiCache | None = None
        self._paths: list[str] = []
        self._keypoints: np.ndarray | None = None
        chosen: list[CsiSequence] = []
        if root is None:  # cache-only
            self._cache = open_cache(cache)  # type: ignore[arg-type]  # checked above
            self.root = Path(self._cache.manifest["root"])
            self.keys = self._index_cached(self._cache, wanted)
            chosen_keys = set(self.keys)
            self.skipped = [
                self.root / rel for rel in self._cache.manifest["skipped"] if rel.rsplit("/", 2)[0] in chosen_keys
            ]
        elif cache is None:
            self.root = Path(root)
            chosen = discover(self.root, subjects=self.selection.keys(), pairs=wanted)
            self._index_direct(chosen)
            self.keys = [s.key for s in chosen]
            self.skipped = [f.path for s in chosen for f in s.skipped]
        else:
            self.root = Path(root)
            sequences = discover(self.root)
            self._cache = open_cache(cache, self.root, sequences=sequences)
            chosen = [s for s in sequences if (s.subject, s.action) in wanted]
            self.keys = self._index_cached(self._cache, wanted)
            self.skipped = [f.path for s in chosen for f in s.skipped]
        self.sequences: list[CsiSequence] = chosen
        self._starts = _window_starts(self._numbers, self._seq_id, self.window, self.stride)
        if len(self._starts) == 0:
            raise DatasetError(
                f"{self.root}: the {split} split of protocol {protocol!r}, scheme {scheme!r} has no windows of "
                f"{self.window} frame(s): {len(self.keys)} matching sequence(s), {len(self._numbers)} readable frame(s); "
                "expected E??/S??/A??/wifi-csi/frameNNN.mat for the split's subjects and actions"
            )

    def _index_direct(self, chosen: list[CsiSequence]) -> None:
        rows: list[tuple[int, int, int, int, int]] = []
        keypoints = []
        for k, seq in enumerate(chosen):
            kept = [f for f in seq.frames if f.size > 0]
            keypoints.append(_load_keypoints(seq, [f.number for f in kept]))
            codes = (_code(seq.environment), _code(seq.subject), _code(seq.action))
            for f in kept:
                rows.append((*codes, f.number, k))
                self._paths.append(os.fspath(f.path))
        table = np.array(rows, dtype=np.int64).reshape(-1, 5)
        self._codes = table[:, :3]
        self._numbers = table[:, 3]
        self._seq_id = table[:, 4]
        self._rows = np.arange(len(table), dtype=np.int64)
        self._keypoints = np.concatenate(keypoints) if keypoints else np.zeros((0, 17, 3), np.float32)

    def _index_cached(self, cache: MMFiCache, wanted: set[tuple[str, str]]) -> list[str]:
        """Indexes the cache rows of the ``wanted`` (subject, action) pairs; returns their keys."""
        frames = np.asarray(cache.array("frames"))
        keep = np.zeros(len(frames), dtype=bool)
        seq_id = np.full(len(frames), -1, dtype=np.int64)
        keys = []
        for k, entry in enumerate(cache.manifest["sequences"]):
            _, subject, action = entry["key"].split("/")
            if (subject, action) in wanted:
                keep[entry["start"] : entry["start"] + entry["count"]] = True
                keys.append(entry["key"])
            seq_id[entry["start"] : entry["start"] + entry["count"]] = k
        self._rows = np.flatnonzero(keep).astype(np.int64)
        self._codes = frames[self._rows, :3]
        self._numbers = frames[self._rows, 3]
        self._seq_id = seq_id[self._rows]
        return keys

    # -- sizes -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def num_channels(self) -> int:
        """C: 3 per feature (amplitude, phase)."""
        return self.preprocess.channels

    @property
    def num_subcarriers(self) -> int:
        """S: 114, or the resampled count."""
        return self.preprocess.subcarriers

    @property
    def num_frames(self) -> int:
        """Readable frames of the chosen sequences."""
        return len(self._rows)

    @property
    def sample_shape(self) -> tuple[int, int, int, int]:
        """``(W, C, S, P)`` of ``sample["csi"]``."""
        return (self.window, self.num_channels, self.num_subcarriers, FRAME_SHAPE[2])

    def __repr__(self) -> str:
        source = f"cache={os.fspath(self._cache.path)!r}" if self._cache is not None else "direct"
        return (
            f"MMFiDataset({os.fspath(self.root)!r}, split={self.split!r}, {len(self)} windows of "
            f"{self.sample_shape}, {len(self.keys)} sequences, {len(self.skipped)} skipped, {source})"
        )

    # -- reading -----------------------------------------------------------------------

    def _frames(self, rows: np.ndarray) -> np.ndarray:
        """``float32[len(rows), C, 114, 10]``: raw amplitude then sanitised phase channels of table rows."""
        f = len(rows)
        want_amp = "amplitude" in self.features
        want_phase = "phase" in self.features
        out = np.empty((f, self.num_channels, *FRAME_SHAPE[1:]), dtype=np.float32)
        phase_at = FRAME_SHAPE[0] if want_amp else 0
        if self._cache is not None:
            where = _selector(self._rows[rows])
            if want_amp:
                _gather(self._cache.array("amplitude"), where, out[:, :phase_at])
            if want_phase:
                _gather(self._cache.array("phase"), where, out[:, phase_at:])
            return out
        for i, r in enumerate(rows.tolist()):
            amp, phase = read_csi_frame(self._paths[r])
            if want_amp:
                out[i, :phase_at] = amp
            if want_phase:
                out[i, phase_at:] = phase
        if want_phase:
            out[:, phase_at:] = phase_feature(out[:, phase_at:])
        return out

    def _keypoints_of(self, rows: np.ndarray) -> np.ndarray:
        if self._cache is not None:
            # a copy: samples must be writeable and must not pin the map
            return np.array(self._cache.array("keypoints")[_selector(self._rows[rows])])
        assert self._keypoints is not None
        return self._keypoints[rows]

    def _features(self, rows: np.ndarray) -> np.ndarray:
        """``float32[len(rows), C, S, P]``: the finished features of table rows (the
        :attr:`preprocess` steps after phase sanitising, which the cache has done already)."""
        return self.preprocess.finish(self._frames(rows))

    def label_keypoints(self) -> np.ndarray:
        """``float32[N, 17, 3]``: every sample's label keypoints, without reading any CSI."""
        return self._keypoints_of(self._starts + self.label_offset).astype(np.float32, copy=False)

    def label_environments(self) -> np.ndarray:
        """``int64[N]``: every sample's environment id, without reading any CSI."""
        return self._codes[self._starts + self.label_offset, 0].astype(np.int64)

    def read_batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """The samples at ``indices`` already stacked: one vectorised read and cleaning.

        Returns what stacking the samples would give: ``csi: float32[B, W, C, S, P]``,
        ``keypoints: float32[B, 17, 3]``, ``visibility: float32[B, 17]``, and
        ``subject``, ``action``, ``environment``, ``frame``: ``int[B]``. This is what
        :func:`~csipose.data.make_loader` asks for each batch (no per-sample dicts).
        """
        idx = _indices(indices, len(self))
        b, w = len(idx), self.window
        starts = self._starts[idx]
        rows = starts if w == 1 else (starts[:, None] + np.arange(w)).reshape(-1)
        csi = self._features(rows).reshape(b, w, *self.sample_shape[1:])
        label_rows = starts + self.label_offset
        keypoints = self._keypoints_of(label_rows).astype(np.float32, copy=False)
        environment, subject, action = self._codes[label_rows].T
        return {
            "csi": csi, "keypoints": keypoints, "visibility": np.ones(keypoints.shape[:2], dtype=np.float32),
            "subject": subject, "action": action, "environment": environment, "frame": self._numbers[label_rows],
        }  # fmt: skip

    def __getitems__(self, indices: Sequence[int]) -> list[Sample]:
        """Samples for many indices at once (views into one :meth:`read_batch`).

        ``torch.utils.data.DataLoader`` calls this with a batch's indices when present.
        """
        return self._split(self.read_batch(indices))

    @staticmethod
    def _split(batch: dict[str, np.ndarray]) -> list[Sample]:
        """The per-sample dicts of a stacked batch (iterating whole arrays yields the
        per-sample views and int scalars at C speed)."""
        keys = tuple(batch)
        return [dict(zip(keys, values)) for values in zip(*batch.values())]

    def __getitem__(self, index: int) -> Sample:
        try:
            i = operator.index(index)
        except TypeError:
            raise ArgumentError(f"index: expected an integer, got {type(index).__name__}") from None
        n = len(self._starts)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a dataset of {n} windows")
        return self._split(self.read_batch(np.array([i % n])))[0]


def _gather(source: np.ndarray, where: slice | np.ndarray, out: np.ndarray) -> None:
    """``out[:] = source[where]`` with one copy out of the map where numpy allows it.

    A slice (consecutive rows) is one contiguous read; row indices go straight into a
    contiguous ``out`` with ``np.take`` (``mode="clip"`` skips the bounds buffer: the
    rows come from the dataset's own index), or through numpy's fancy index otherwise.
    """
    if isinstance(where, slice):
        np.copyto(out, source[where])
    elif out.flags.c_contiguous:
        np.take(source, where, axis=0, out=out, mode="clip")
    else:
        out[...] = source[where]


def _selector(rows: np.ndarray) -> slice | np.ndarray:
    """A slice when ``rows`` are consecutive (one window: one contiguous read), else ``rows``."""
    first = int(rows[0])
    n = len(rows)
    if n == 1 or (int(rows[-1]) - first == n - 1 and n <= 64 and rows.tolist() == list(range(first, first + n))):
        return slice(first, first + n)
    return rows


def _indices(indices: Any, n: int) -> np.ndarray:
    """``int64[B]`` window indices in ``[0, n)``; negative ones count from the end."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ArgumentError(f"index: expected integers, got {np.asarray(indices).dtype} values of shape {idx.shape}")
    idx = idx.astype(np.int64, copy=False)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"index {int(idx[bad][0])} is out of range for a dataset of {n} windows")
    return np.where(idx < 0, idx + n, idx)


def _label_offset(label: Any, window: int) -> int:
    if label == "last":
        return window - 1
    if label == "center":
        return window // 2
    if isinstance(label, str) or isinstance(label, bool):
        raise ArgumentError(f"label: expected 'last', 'center' or a frame index, got {label!r}")
    try:
        k = operator.index(label)
    except TypeError:
        raise ArgumentError(f"label: expected 'last', 'center' or a frame index, got {label!r}") from None
    if not -window <= k < window:
        raise ArgumentError(f"label: index {k} is outside a window of {window} frame(s)")
    return k + window if k < 0 else k
