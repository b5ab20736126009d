"""The synthetic dataset: generated once in memory, indexed like MM-Fi."""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import numpy as np

from csipose.data.synthetic.config import SyntheticConfig
from csipose.data.synthetic.generate import Sequence, render
from csipose.densepose.render import PinholeCamera, render_iuv, stage_camera
from csipose.errors import ArgumentError, DatasetError

__all__ = ["SyntheticCsiDataset"]


class SyntheticCsiDataset:
    """Synthetic MM-Fi-like samples of one split, generated at construction.

    Training subjects are ``config.train_subjects``, validation subjects
    ``config.val_subjects``; both splits share the generator, so the val split
    is held-out people doing the same actions. ``dataset[i]`` is the shared
    sample contract:

    - ``"csi"``: ``float32[W, C, S, P]``; channels are the ``3 * receivers`` antennas' amplitude
      (min-max normalised per frame, MM-Fi's cleaning; or as ``cleaning`` says) then their phase
      (sanitised: unwrapped along tones, least-squares line removed).
    - ``"keypoints"``: ``float32[17, 3]`` H36M-17 joints of the label frame
      (the window's last) in metres, camera frame (x right, y down, z depth).
    - ``"visibility"``: ``float32[17]`` ones.
    - ``"subject"``, ``"action"``, ``"environment"``, ``"frame"``: int64 scalars;
      ``frame`` is the 1-based label frame within its sequence.
    - with ``config.persons > 1`` also ``"persons"``: ``float32[K, 17, 3]``, every
      person in the room (person ``config.labelled_person``, 0 by default, is ``"keypoints"``).
    - with ``config.people`` (every person labelled) a person axis instead: ``"keypoints":
      float32[m, 17, 3]`` and ``"visibility": float32[m, 17]`` of the ``m`` people of the
      scene (0 to ``max(config.people)``), and ``"person_ids": int64[m]``, an identity that
      stays with a person through the frames of a sequence (unique in the dataset);
      :func:`csipose.data.collate` pads them to a batch's most people with ``"person_mask"``.

    - with ``config.room_variation`` (rooms that differ) also the room's geometry, camera
      frame, metres: ``"tx": float32[3]`` (the transmit antenna), ``"rx": float32[R, 3]``
      (the receive antennas, R = 3) and ``"floor": float32`` (the floor's ``y``: the camera's
      height above it, as an installer measures antenna heights from the floor); the default
      samples keep their keys.

    - with ``config.densepose`` also ``"densepose": float32[3, H, W]`` (H = W =
      ``config.densepose_size``), DensePose's IUV layout: channel 0 the part index (0
      background, 1-24, as a float), channels 1 and 2 the chart coordinates U and V in [0, 1]
      (0 on background), of every person in the room (occluding each other) at the label
      frame, seen by the room's fixed virtual camera
      (:func:`~csipose.densepose.render.stage_camera`). U and V are stored as ``uint8``
      steps of 1/255 (rounded: off by at most 1/510).

    With ``config.val_environments`` the val split holds every subject of those rooms too
    (leave-room-out); no subject of theirs is ever in the train split.

    Whole-split arrays for batch work (``F`` frames, ``N`` samples):
    ``csi: float32[F, C, S, P]``, ``keypoints: float32[F, 17, 3]``,
    ``persons: float32[F, K, 17, 3]``, ``subject``/``action``/``environment``/
    ``frame``: ``int64[F]``, and ``label_index: int64[N]``, the row of each
    sample's label frame (its window is rows ``label_index - W + 1 ..
    label_index``). With ``window = 1`` samples and rows coincide. With ``room_variation``,
    ``geometry``: ``{environment: (tx float32[3], rx float32[R, 3], floor float32)}`` of the split's rooms.
    With ``densepose``, per sample: ``densepose_parts: uint8[N, H, W]`` and ``densepose_uv:
    uint8[N, 2, H, W]`` (U, V times 255).
    """

    def __init__(self, config: SyntheticConfig | None = None, split: str = "train", *,
                 cleaning: str = "official") -> None:
        """``cleaning``: the amplitude cleaning of ``csi`` (:class:`~csipose.data.Preprocess`):
        ``"official"`` (MM-Fi's), ``"raw"`` or ``"log"``."""
        self.config = config if config is not None else SyntheticConfig()
        self.split = split
        subjects = self.config.split_subjects(split)
        if not subjects:
            raise DatasetError(f"split {split!r} has no subjects (config.val_subjects is empty)")
        #: the steps from the generator's raw frames to ``csi`` (recorded with trained models)
        self.preprocess = dataclasses.replace(self.config.preprocess, cleaning=cleaning)
        self.multi_person = bool(self.config.people)
        if self.multi_person and self.config.max_people == 0:
            raise DatasetError("people: every scene would be empty; a data set needs a count >= 1")
        m = self.config.max_people
        csi, persons, counts, ids, dp_parts, dp_uv = [], [], [], [], [], []
        #: ``{environment: (tx float32[3], rx float32[R, 3], floor float32)}``, camera frame (with
        #: ``room_variation``; else empty)
        self.geometry: dict[int, tuple[np.ndarray, np.ndarray, np.float32]] = {}
        #: ``{environment: camera}``, the fixed camera each room's DensePose labels are drawn through
        #: (with ``config.densepose``; else empty)
        self.densepose_cameras: dict[int, PinholeCamera] = {}
        for number, seq in enumerate(render(self.config, subjects)):
            if self.config.room_variation and seq.environment not in self.geometry:
                self.geometry[seq.environment] = (np.asarray(seq.tx, np.float32), np.asarray(seq.rx, np.float32),
                                                  np.float32(np.asarray(seq.stage)[1]))  # the stage floor point: y = floor
            csi.append(self.preprocess.frames(seq.amplitude, seq.phase))
            t = seq.amplitude.shape[0]
            kp = seq.keypoints.astype(np.float32)
            if self.multi_person:  # pad every scene to M people (NaN), and keep each one's count
                kp = np.concatenate([kp, np.full((t, m - kp.shape[1], 17, 3), np.nan, np.float32)], axis=1)
                counts.append(np.full(t, seq.labelled))
            persons.append(kp)
            if self.config.densepose:
                parts, uv = self._densepose(seq)
                dp_parts.append(parts)
                dp_uv.append(uv)
            ids.append(np.stack([np.full(t, seq.subject), np.full(t, seq.action),
                                 np.full(t, seq.environment), np.arange(1, t + 1), np.full(t, number)], axis=1))
        self.csi: np.ndarray = np.concatenate(csi)
        self.persons: np.ndarray = np.concatenate(persons)
        #: ``int64[F]``: the labelled people of each frame (with ``config.people``; else ones)
        self.counts: np.ndarray = np.concatenate(counts) if counts else np.ones(len(self.persons), np.int64)
        self.keypoints: np.ndarray = np.ascontiguousarray(self.persons[:, self.config.labelled_person])
        table = np.concatenate(ids).astype(np.int64)
        self.subject, self.action, self.environment, self.frame, self.sequence = (
            np.ascontiguousarray(c) for c in table.T
        )
        self.label_index: np.ndarray = np.flatnonzero(self.frame >= self.config.window).astype(np.int64)
        #: ``uint8[N, H, W]`` each sample's DensePose part image (with ``config.densepose``; else None)
        self.densepose_parts: np.ndarray | None = np.concatenate(dp_parts) if dp_parts else None
        #: ``uint8[N, 2, H, W]`` each sample's U and V times 255, rounded (with ``config.densepose``; else None)
        self.densepose_uv: np.ndarray | None = np.concatenate(dp_uv) if dp_uv else None

    def _densepose(self, seq: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """``(parts uint8[L, H, W], uv uint8[L, 2, H, W])`` of the ``L`` label frames of ``seq``
        (its frames from the ``window``-th on), every person of the room rendered."""
        assert seq.stage is not None  # render_sequence records every sequence's stage
        camera = stage_camera(seq.stage, self.config.densepose_size)
        self.densepose_cameras.setdefault(seq.environment, camera)
        image = render_iuv(seq.keypoints[self.config.window - 1 :], camera)
        uv = np.rint(np.stack([image.u, image.v], axis=1) * 255.0).astype(np.uint8)
        return image.parts, uv

    def label_keypoints(self) -> np.ndarray:
        """``float32[N, 17, 3]``: every sample's label keypoints (person ``labelled_person``'s;
        NaN where a scene of several people is empty)."""
        return self.keypoints[self.label_index]

    def label_geometry(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tx float32[N, 3], rx float32[N, R, 3], floor float32[N])``: every sample's room
        geometry, without reading any CSI (``room_variation`` only)."""
        if not self.geometry:
            raise DatasetError("label_geometry: these samples carry no room geometry (synthetic.room_variation = false)")
        rooms = self.environment[self.label_index]
        tx, rx, floor = (np.stack([self.geometry[int(e)][k] for e in rooms]) for k in range(3))
        return tx.astype(np.float32), rx.astype(np.float32), floor.astype(np.float32)

    def label_people(self) -> tuple[np.ndarray, np.ndarray]:
        """``(keypoints float32[N, M, 17, 3], counts int64[N])``: every sample's people, padded
        with NaN past its count."""
        return self.persons[self.label_index], self.counts[self.label_index]

    def __len__(self) -> int:
        return int(self.label_index.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Sample ``index``; negative indices count from the end, as in a sequence.

        Raises:
            IndexError: ``index`` outside ``-len(self) .. len(self) - 1`` (so ``for s in ds`` stops).
            ArgumentError: ``index`` is not an integer.
        """
        try:
            i = operator.index(index)
        except TypeError:
            raise ArgumentError(f"index: expected an integer, got {type(index).__name__}") from None
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a dataset of {n} samples")
        row = int(self.label_index[i])
        w = self.config.window
        sample: dict[str, Any] = {
            "csi": self.csi[row - w + 1 : row + 1],
            "keypoints": self.keypoints[row],
            "visibility": np.ones(self.keypoints.shape[1], dtype=np.float32),
            "subject": np.int64(self.subject[row]),
            "action": np.int64(self.action[row]),
            "environment": np.int64(self.environment[row]),
            "frame": np.int64(self.frame[row]),
        }
        if self.multi_person:
            m = int(self.counts[row])
            sample["keypoints"] = self.persons[row, :m]
            sample["visibility"] = np.ones((m, self.persons.shape[2]), dtype=np.float32)
            sample["person_ids"] = (int(self.sequence[row]) * 8 + np.arange(m)).astype(np.int64)
        elif self.config.persons > 1:
            sample["persons"] = self.persons[row]
        if self.geometry:
            tx, rx, floor = self.geometry[int(self.environment[row])]
            sample["tx"], sample["rx"], sample["floor"] = tx.copy(), rx.copy(), np.float32(floor)
        if self.densepose_parts is not None and self.densepose_uv is not None:
            iuv = np.empty((3, *self.densepose_parts.shape[1:]), np.float32)
            iuv[0] = self.densepose_parts[i]
            iuv[1:] = self.densepose_uv[i] / np.float32(255.0)
            sample["densepose"] = iuv
        return sample

    def __repr__(self) -> str:
        return (f"SyntheticCsiDataset(split={self.split!r}, samples={len(self)}, "
                f"csi={tuple(self.csi.shape[1:])}, seed={self.config.seed})")
