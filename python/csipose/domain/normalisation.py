"""Test-time normalisation: every room's input standardised by that room's own statistics.

A room changes the CSI's static part (walls, furniture, link length, the receiver's gain and
antenna phase offsets) while the body's effect rides on top. With ``test_time_norm`` every
window is standardised per input feature ``(channel, subcarrier, packet)`` by the mean and
standard deviation of **its room's** frames, ``(csi - mean_room) / std_room``:

- in training, each training room's statistics come from that room's training frames, and the
  model keeps them (``PoseModel.room_statistics``, saved in its checkpoints): the calibration of
  the rooms it was installed in;
- at evaluation, a training room keeps those statistics, and every other room's are
  re-estimated from that room's frames of the evaluated split alone, without their labels (for
  an unseen room: its unlabelled test frames).

What is re-estimated is exactly this per-room mean and standard deviation ``float[C, S, P]``;
the model's own :class:`~csipose.models.InputNorm` (fitted once, on room-standardised training
windows) and its BatchNorm statistics stay as trained. No torch here: the datasets are built
without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csipose.errors import ConfigError, DatasetError

__all__ = ["RoomNormalised", "room_statistics", "stack_rooms", "unstack_rooms"]

_CHUNK = 512


def room_statistics(csi: np.ndarray, environment: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{environment: (mean float32[C, S, P], std float32[C, S, P])}`` of frames ``csi: float[F, C, S, P]``
    in rooms ``environment: int[F]``; a constant feature gets std 1 (it is only centred)."""
    csi = np.asarray(csi)
    env = np.asarray(environment).reshape(-1)
    if csi.ndim != 4 or len(env) != len(csi):
        raise DatasetError(f"room statistics: expected csi [F, C, S, P] and environment [F], got "
                           f"{list(csi.shape)} and {list(env.shape)}")
    return {int(e): _moments([csi[env == e]]) for e in np.unique(env)}


def stack_rooms(rooms: dict[int, tuple[Any, Any]]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """``(environments, mean float32[K, C, S, P], std float32[K, C, S, P])``: rooms' statistics
    ``{environment: (mean, std)}`` as arrays, in room order (how checkpoints and exports store them)."""
    ids = sorted(int(e) for e in rooms)
    mean, std = (np.stack([np.asarray(rooms[e][k], np.float32) for e in ids]) for k in (0, 1))
    return ids, mean, std


def unstack_rooms(environments: Any, mean: np.ndarray, std: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """:func:`stack_rooms` read back.

    Raises:
        ValueError: the lengths or shapes differ.
    """
    ids = [int(e) for e in environments]
    if not (len(ids) == len(mean) == len(std) and mean.shape == std.shape):
        raise ValueError("their lengths or shapes differ")
    return {e: (np.asarray(mean[i], np.float32), np.asarray(std[i], np.float32)) for i, e in enumerate(ids)}


def _moments(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over the first axis of the concatenated ``parts``, accumulated in float64."""
    n = sum(len(p) for p in parts)
    total = sum(p.sum(axis=0, dtype=np.float64) for p in parts)
    squares = sum(np.square(p, dtype=np.float64).sum(axis=0) for p in parts)
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - mean**2, 0.0))
    floor = 1e-6 * max(float(std.max()), 1e-12)
    return mean.astype(np.float32), np.where(std > floor, std, 1.0).astype(np.float32)


class RoomNormalised:
    """``dataset`` whose windows ``csi: float32[W, C, S, P]`` are standardised by the statistics of
    their sample's room (``"environment"``): a room's of ``known`` (``{environment: (mean, std)}``,
    e.g. a model's training rooms), else estimated from this dataset's own frames of the room.

    Everything else (keypoints, ids, geometry, ``preprocess``, ``label_keypoints`` ...) is the
    wrapped dataset's. Datasets that hold their frames as whole-split arrays (``csi: [F, C, S, P]``
    with ``environment: [F]``, the synthetic one) are read at once; others sample by sample or
    batch by batch (``read_batch``).

    Raises:
        ConfigError: the samples carry no ``"environment"`` id.
    """

    def __init__(self, dataset: Any, known: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.dataset = dataset
        if "environment" not in dataset[0]:
            raise ConfigError("test_time_norm: the samples carry no 'environment' id, so rooms cannot be told apart")
        known = dict(known or {})
        frames, rooms = getattr(dataset, "csi", None), getattr(dataset, "environment", None)
        if isinstance(frames, np.ndarray) and frames.ndim == 4 and isinstance(rooms, np.ndarray):
            present = [int(e) for e in np.unique(rooms)]
            estimated = {e: _moments([frames[rooms == e]]) for e in present if e not in known}
        else:
            present, estimated = self._gathered(known)
        #: ``{environment: (mean float32[C, S, P], std float32[C, S, P])}`` of every room here
        self.statistics = {e: known[e] if e in known else estimated[e] for e in present}

    def _gathered(self, known: dict[int, Any]) -> tuple[list[int], dict[int, tuple[np.ndarray, np.ndarray]]]:
        """The rooms of the samples, and the statistics of those not ``known``, read batch by
        batch (a dataset with ``label_environments()`` is read in its unknown rooms only)."""
        labels = getattr(self.dataset, "label_environments", None)
        ids = np.asarray(labels(), dtype=np.int64) if callable(labels) else None
        index = np.arange(len(self.dataset)) if ids is None else np.flatnonzero(~np.isin(ids, list(known)))
        present = set() if ids is None else {int(e) for e in np.unique(ids)}
        parts: dict[int, list[np.ndarray]] = {}
        for start in range(0, len(index), _CHUNK):
            batch = self._raw_batch(index[start : start + _CHUNK])
            csi = np.asarray(batch["csi"])
            env = np.asarray(batch["environment"]).reshape(-1)
            for e in np.unique(env):
                present.add(int(e))
                if int(e) not in known:
                    parts.setdefault(int(e), []).append(csi[env == e].reshape(-1, *csi.shape[2:]))
        return sorted(present), {e: _moments(p) for e, p in sorted(parts.items())}

    def _raw_batch(self, index: np.ndarray) -> dict[str, Any]:
        if callable(getattr(self.dataset, "read_batch", None)):
            return dict(self.dataset.read_batch(index))
        samples = [self.dataset[int(i)] for i in index]
        return {"csi": np.stack([s["csi"] for s in samples]),
                "environment": np.array([s["environment"] for s in samples])}

    def standardise(self, csi: np.ndarray, environment: Any) -> np.ndarray:
        """``csi: float[..., C, S, P]`` of one room, or ``[B, W, C, S, P]`` with ``environment: int[B]``."""
        env = np.asarray(environment)
        if env.ndim == 0:
            mean, std = self.statistics[int(env)]
            return ((np.asarray(csi) - mean) / std).astype(np.float32)
        out = np.empty(np.shape(csi), dtype=np.float32)
        for i, e in enumerate(env.reshape(-1).tolist()):
            mean, std = self.statistics[int(e)]
            out[i] = (csi[i] - mean) / std
        return out

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = dict(self.dataset[index])
        sample["csi"] = self.standardise(sample["csi"], sample["environment"])
        return sample

    def __getattr__(self, name: str) -> Any:
        # the raw frames and dunders stay hidden; a batch reader is offered only when the wrapped
        # dataset has one (loaders read batches through it)
        if name in ("csi", "dataset", "statistics") or name.startswith("__"):
            raise AttributeError(name)
        inner = getattr(self.__dict__["dataset"], name)
        if name == "read_batch":
            return self._read_batch
        return inner

    def _read_batch(self, indices: Any) -> dict[str, Any]:
        """The wrapped dataset's stacked batch (``read_batch``) with room-standardised ``csi``."""
        batch = dict(self.dataset.read_batch(indices))
        batch["csi"] = self.standardise(batch["csi"], batch["environment"])
        return batch

    def __repr__(self) -> str:
        return f"RoomNormalised({self.dataset!r}, rooms={sorted(self.statistics)})"
