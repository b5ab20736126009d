"""Running a trained pose model on new CSI: :class:`Predictor` for checkpoints and ONNX exports.

    >>> from csipose.infer import Predictor
    >>> predictor = Predictor.load("runs/default/best.pt")          # doctest: +SKIP
    >>> keypoints = predictor.predict(amplitude, phase)               # doctest: +SKIP
    >>> keypoints.shape                                               # doctest: +SKIP
    (297, 17, 3)

A predictor holds the model and the :class:`~csipose.data.Preprocess` it was trained with, so
raw frames go in (``amplitude, phase: float[F, A, S, P]`` or complex CSI) and keypoints in
metres come out, one pose per window of ``window`` consecutive frames. ``.pt`` checkpoints run
in torch; exported ``.onnx`` models (:mod:`csipose.export`) run in onnxruntime alone, so
``pip install 'csipose[onnx]'`` predicts without torch. :meth:`Predictor.stream` takes one frame
at a time, keeps the last ``window`` preprocessed frames in a ring buffer, and gives the poses
the batch form gives.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from csipose.data.preprocess import Preprocess
from csipose.errors import ArgumentError, CheckpointError, CsiposeError, DatasetError, NonFiniteError, ShapeError

__all__ = ["METADATA_KEYS", "Predictions", "Predictor", "Stream", "predict_source", "read_onnx_metadata"]

#: The metadata an exported ONNX model carries (``metadata_props``), each a JSON value.
METADATA_KEYS = {
    "csipose.format": "layout version of this metadata (1)",
    "csipose.preprocess": "the Preprocess from raw frames to the input 'csi' (Preprocess.to_dict)",
    "csipose.skeleton": "name, joint names and bones of the output 'keypoints'; units: metres",
    "csipose.model_settings": "the settings that built the model (csipose.models.build_model)",
    "csipose.config": "the training config, for evaluating on its recorded validation split",
    "csipose.precision": "fp32, fp16, int8-static or int8-dynamic",
    "csipose.room_statistics": "a test_time_norm model's training rooms' input statistics: environments, the "
                               "[C, S, P] shape, and each room's float32 mean and std, little-endian, base64",
    "csipose.version": "the csipose that exported the model",
}
METADATA_FORMAT = 1
_REQUIRED_METADATA = ("csipose.format", "csipose.preprocess", "csipose.skeleton")


class Predictor:
    """A trained pose model with its preprocessing; see the module docstring.

    Build one with :meth:`load`. Attributes:

    - ``preprocess``: the :class:`~csipose.data.Preprocess` of the model's training data;
    - ``window``, ``joints``, ``dims``: W input frames per pose, J joints of D coordinates;
    - ``skeleton``: the joints' skeleton name (``"h36m17"`` or ``"coco17"``);
    - ``config``: the training config as a dict (None when not recorded);
    - ``persons``: person slots (0: one person per window; else :meth:`predict_people`);
    - ``densepose_size``: side of the DensePose maps of a ``.pt`` model with the DensePose head
      (:meth:`predict_densepose_windows`; 0: none);
    - ``path``, ``runtime`` (``"torch"`` or ``"onnxruntime"``), ``precision``, ``device``;
    - :attr:`adapter`: the adapters applied to a ``.pt`` model (None: none);
    - :attr:`new_room_floor`: where a person of a room the model was not trained in stands (settable).
    """

    def __init__(
        self,
        backend: Any,
        preprocess: Preprocess,
        *,
        path: Path,
        runtime: str,
        precision: str,
        device: str,
        skeleton: str,
        config: dict[str, Any] | None,
        joints: int,
        dims: int,
        persons: int = 0,
        densepose_size: int = 0,
    ) -> None:
        self._backend = backend
        self.persons = persons
        self.densepose_size = densepose_size
        self.preprocess = preprocess
        self.path = path
        self.runtime = runtime
        self.precision = precision
        self.device = device
        self.skeleton = skeleton
        self.config = config
        self.joints = joints
        self.dims = dims
        self.adapter = None

    @property
    def adapter(self) -> Any:
        """The :class:`~csipose.domain.adapters.Adapters` (or
        :class:`~csipose.domain.adapters.AdapterEnsemble`, whose members' predictions are averaged)
        on a ``.pt`` model (None: none). Set it to adapters attached to this predictor's model."""
        return self._adapter

    @adapter.setter
    def adapter(self, adapters: Any) -> None:
        if adapters is not None:
            first = getattr(adapters, "members", [adapters])[0]
            if getattr(first, "_model", [None])[0] is not getattr(self._backend, "model", None):
                raise ArgumentError(f"adapter: expected adapters attached to this predictor's .pt model ({self.path})")
        self._adapter = adapters
        self._backend.adapter = adapters

    @property
    def window(self) -> int:
        """W: frames per input window."""
        return self.preprocess.window

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str = "cpu",
        preprocess: Preprocess | None = None,
        threads: int = 0,
        adapter: str | os.PathLike[str] | None = None,
        new_room_floor: str | None = None,
    ) -> Predictor:
        """A predictor of a ``.pt`` checkpoint (needs torch) or an exported ``.onnx`` model.

        Args:
            path: the model file.
            device: ``"cpu"`` or ``"cuda"``.
            preprocess: replaces the recorded preprocessing (needed only for a model trained on
                a dataset that recorded none).
            threads: intra-op threads of the runtime; 0 keeps its default. For a ``.pt`` this is
                ``torch.set_num_threads``, which holds for the whole process.
            adapter: an adapter file of ``csipose adapt`` (:mod:`csipose.domain.adapters`) fitted
                on this ``.pt`` checkpoint, applied to every prediction.
            new_room_floor: ``"anchor"`` or ``"model"`` (:attr:`new_room_floor`); None keeps what
                the checkpoint was trained to do.

        Raises:
            CheckpointError: a missing, truncated or foreign model file, or one without its
                preprocessing and ``preprocess`` not given; a bad adapter file, or one fitted on
                another checkpoint.
            ArgumentError: another suffix, an unknown device, or a runtime that is not installed;
                a ``new_room_floor`` the model cannot take (:attr:`new_room_floor`).
        """
        file = Path(path)
        if device not in ("cpu", "cuda"):
            raise ArgumentError(f"device: expected 'cpu' or 'cuda', got {device!r}")
        suffix = file.suffix.lower()
        if suffix not in (".pt", ".onnx"):
            raise ArgumentError(f"{file}: expected a .pt checkpoint or an exported .onnx model")
        if not file.is_file():
            kind = "checkpoint" if suffix == ".pt" else "ONNX model"
            raise CheckpointError(f"{file}: {kind} file not found")
        if suffix == ".pt":
            predictor = cls._load_torch(file, device, preprocess, threads)
            if adapter is not None:
                from csipose.domain.adapters import load_adapters

                predictor.adapter = load_adapters(adapter, predictor._backend.model)
        else:
            if adapter is not None:
                raise ArgumentError(f"adapter: applies to a .pt checkpoint, not the exported model {file}")
            predictor = cls._load_onnx(file, device, preprocess, threads)
        if new_room_floor is not None:
            predictor.new_room_floor = new_room_floor
        return predictor

    @classmethod
    def _load_torch(cls, file: Path, device: str, preprocess: Preprocess | None, threads: int) -> Predictor:
        try:
            import torch
        except ImportError:
            raise ArgumentError(
                f"{file}: a .pt checkpoint needs torch (pip install 'csipose[train]'); "
                "an exported .onnx model needs only onnxruntime"
            ) from None
        from csipose.train.state import load_model

        if device == "cuda" and not torch.cuda.is_available():
            raise ArgumentError("device: 'cuda' asked for, but no CUDA device is available here")
        if threads:
            torch.set_num_threads(threads)
        model, config = load_model(file, device)
        recorded = _recorded(model.preprocess, preprocess, file)
        if tuple(recorded.input_shape) != tuple(model.shape):
            raise CheckpointError(
                f"{file}: the preprocessing makes windows of {list(recorded.input_shape)}, "
                f"the model takes {list(model.shape)}"
            )
        backend = _TorchBackend(model, torch.device(device), config.amp)
        return cls(backend, recorded, path=file, runtime="torch", precision="fp32", device=device,
                   skeleton=config.skeleton, config=config.to_dict(), joints=model.joints, dims=model.dims,
                   persons=model.persons,
                   densepose_size=model.densepose_head.size if model.densepose_head is not None else 0)

    @classmethod
    def _load_onnx(cls, file: Path, device: str, preprocess: Preprocess | None, threads: int) -> Predictor:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ArgumentError(f"{file}: an .onnx model needs onnxruntime: pip install 'csipose[onnx]'") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ArgumentError(
                    "device: 'cuda' asked for, but this onnxruntime has no CUDAExecutionProvider "
                    "(pip install onnxruntime-gpu)"
                )
            providers.insert(0, "CUDAExecutionProvider")
        meta = read_onnx_metadata(file, ort)
        if meta.get("csipose.precision") == "fp16" and device == "cpu":
            # onnxruntime's CPU provider crashed (SIGSEGV) on fp16 graphs at ORT_ENABLE_ALL, the
            # default, in the measured 1.32.0; the extended level runs them and agrees with torch
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        try:
            session = ort.InferenceSession(os.fspath(file), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own types for corrupt graphs
            raise CheckpointError(f"{file}: onnxruntime cannot load the model ({_first_line(err)})") from None
        recorded = _recorded(meta.get("csipose.preprocess"), preprocess, file)
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != ["csi"] or "keypoints" not in [o.name for o in outputs]:
            raise CheckpointError(f"{file}: expected an input 'csi' and an output 'keypoints' (csipose export writes them)")
        shape = outputs[[o.name for o in outputs].index("keypoints")].shape
        skeleton = meta["csipose.skeleton"]
        joints = len(skeleton.get("joints", ())) or int(shape[1])
        config = meta.get("csipose.config")
        rooms = decode_rooms(meta["csipose.room_statistics"], file) if "csipose.room_statistics" in meta else None
        return cls(_OnnxBackend(session, rooms), recorded, path=file, runtime="onnxruntime",
                   precision=str(meta.get("csipose.precision", "fp32")), device=device,
                   skeleton=str(skeleton.get("name", "h36m17")), config=config if isinstance(config, dict) else None,
                   joints=joints, dims=int(shape[2]), persons=int(meta.get("csipose.model_settings", {}).get("persons", 0)))

    # -- prediction ----------------------------------------------------------------------

    def frames(
        self, amplitude: Any, phase: Any = None, *, phase_sanitised: bool = False, tones: Any = None,
        numbers: np.ndarray | None = None,
    ) -> np.ndarray:
        """Preprocessed frames ``float32[F, C, S, P]`` of raw frames (see :meth:`predict`;
        ``phase_sanitised`` and ``tones`` as :meth:`csipose.data.Preprocess.frames`); a frame left
        non-finite (NaN/inf that ``cleaning = "raw"`` does not fill) is refused by its index, or by
        its number in ``numbers`` (the input's 1-based frame numbers) when given."""
        x = self.preprocess.frames(amplitude, phase, phase_sanitised=phase_sanitised, tones=tones)
        _check_finite(x, numbers)
        return x

    def predict(self, amplitude: Any, phase: Any = None, *, batch_size: int = 256, geometry: Any = None) -> np.ndarray:
        """Keypoints ``float32[F - W + 1, J, D]`` in metres of ``F`` consecutive raw frames.

        Pose ``i`` belongs to the window of frames ``i .. i + W - 1``, labelled by its last
        frame, as in training; ``F < W`` frames give no pose. A model trained with
        ``test_time_norm`` standardises the frames by their own statistics: give one room's frames.

        Args:
            amplitude: ``float[F, A, S, P]`` raw amplitude, or complex CSI (then no ``phase``).
            phase: ``float[F, A, S, P]`` wrapped phase, when the model uses phase.
            batch_size: windows per runtime call.
            geometry: ``(tx, rx)``, the room's antenna positions in the camera frame (metres),
                which a model trained with ``geometry_film`` needs: ``tx: float[3]``, ``rx: float[R, 3]``
                for the whole input, or ``tx: float[N, 3]``, ``rx: float[N, R, 3]`` per window; an
                anchored model (``anchor``, :mod:`csipose.domain.anchor`) needs ``(tx, rx, floor)``,
                ``floor`` the floor's camera-frame ``y`` (the camera's height above it; a number, or
                ``float[N]``).
        """
        windows = self.preprocess.windows(self._room_standardised(self.frames(amplitude, phase)))
        return self.predict_windows(windows, batch_size=batch_size, geometry=geometry)

    @property
    def geometry_inputs(self) -> tuple[str, ...]:
        """The sample entries of the room geometry this model needs to predict (the ``geometry``
        argument, in order): ``("tx", "rx", "floor")`` for an anchored model, ``("tx", "rx")`` for a
        geometry-FiLM one, ``()`` for others."""
        from csipose.domain import GEOMETRY

        settings = getattr(getattr(self._backend, "model", None), "settings", None) or {}
        return GEOMETRY if settings.get("anchor") else GEOMETRY[:2] if settings.get("geometry_film") else ()

    @property
    def room_statistics(self) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
        """A :attr:`room_normalised` model's training rooms' input statistics
        ``{environment: (mean, std)}`` (:mod:`csipose.domain.normalisation`; recorded in its
        checkpoints and in its ONNX export); None otherwise."""
        return self._backend.room_statistics  # type: ignore[no-any-return]

    @property
    def new_room_floor(self) -> str:
        """Where the person of a room the model was not trained in stands (the training setting
        ``new_room_floor``, :mod:`csipose.domain.anchor`): ``"anchor"``, on the anchored mean pose's
        floor position, as a ``.pt`` model on the link anchor with 3-D joints does by default;
        ``"model"``, where the model places them, as every other model does (and an adapted one, in
        its room). Set it to ``"model"`` to see the same weights' own placement, and back.

        Raises (when set):
            ArgumentError: a value other than those two; ``"anchor"`` for a model that records no
                training rooms to tell a new room by (one trained with ``new_room_floor = model``,
                off the link anchor, with 2-D joints, or an ONNX export), or that an adapter is on.
        """
        model = getattr(self._backend, "model", None)
        places = model is not None and model.new_room_root and model.seen_rooms is not None and not model.adapted
        return "anchor" if places else "model"

    @new_room_floor.setter
    def new_room_floor(self, value: str) -> None:
        if value not in ("anchor", "model"):
            raise ArgumentError(f"new_room_floor: expected 'anchor' or 'model', got {value!r}")
        rooms = getattr(self._backend, "seen_rooms", None)  # as the checkpoint recorded them
        if value == "anchor" and rooms is None:
            raise ArgumentError(
                f"new_room_floor: {self.path} records no training rooms to tell a new room by (a .pt model on the "
                "link anchor with 3-D joints trained with new_room_floor = auto or anchor does); it places the "
                "person itself: 'model'"
            )
        if value == "anchor" and self._backend.model.adapted:
            raise ArgumentError("new_room_floor: an adapter is on the model, which places the person in its own "
                                "room itself; 'anchor' applies without one")
        if rooms is not None:
            self._backend.model.seen_rooms = rooms if value == "anchor" else None

    @property
    def room_normalised(self) -> bool:
        """True for a model trained with test-time normalisation (``test_time_norm``, by default on
        the link anchor): its windows are standardised by their room's statistics, which
        :meth:`predict` estimates on the frames it is given (one room's) and a :meth:`stream` takes
        from its ``room`` calibration. (Models of csipose versions that recorded
        ``test_time_norm = true`` without their training rooms' statistics are room-normalised too.)"""
        return bool(self.room_statistics) or (self.config or {}).get("test_time_norm") is True

    def _room_standardised(self, frames: np.ndarray) -> np.ndarray:
        """``frames: float32[F, C, S, P]`` of one room, standardised by their own statistics for a
        :attr:`room_normalised` model (unchanged otherwise)."""
        if not self.room_normalised:
            return frames
        mean, std = _frame_statistics(frames)
        return (frames - mean) / std

    def _calibration(self, room: Any) -> tuple[np.ndarray, np.ndarray]:
        """A :meth:`stream`'s room statistics ``(mean, std)``, each ``float32[C, S, P]``, from its ``room`` argument."""
        if room is None:
            raise ArgumentError(f"room: {self.path} standardises its frames by their room's statistics (test_time_norm); "
                                "give stream(room=...) raw frames of the room, or a training room's environment id")
        if isinstance(room, (int, np.integer)) and not isinstance(room, bool):
            known = self.room_statistics or {}
            if int(room) not in known:
                raise ArgumentError(f"room: environment {int(room)} is not one of {self.path}'s training rooms "
                                    f"{sorted(known)}; give raw frames of the room instead")
            return known[int(room)]
        amplitude, phase = room if isinstance(room, tuple) else (room, None)
        try:
            frames = self.frames(amplitude, phase)
        except CsiposeError as err:
            raise type(err)(f"room: the calibration frames: {err}") from None
        if len(frames) < 2:
            raise ArgumentError(f"room: expected at least 2 frames of the room for its statistics, got {len(frames)}")
        return _frame_statistics(frames)

    def predict_windows(self, windows: Any, *, batch_size: int = 256, geometry: Any = None) -> np.ndarray:
        """Keypoints ``float32[N, J, D]`` of already preprocessed windows ``float32[N, W, C, S, P]``
        (what the datasets' ``csi`` holds); ``geometry`` as :meth:`predict`."""
        x = self._windows(windows, batch_size)
        return self._run(x, ("keypoints",), batch_size, _geometry(geometry, len(x)))[0]

    def predict_people(self, amplitude: Any, phase: Any = None, *, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """A person-slot model's ``(persons float32[F - W + 1, S, J, D], presence float32[F - W + 1, S])``
        of raw frames (as :meth:`predict`); presence is a probability."""
        return self.predict_people_windows(self.preprocess.windows(self.frames(amplitude, phase)), batch_size=batch_size)

    def predict_people_windows(self, windows: Any, *, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_people` of already preprocessed windows ``float32[N, W, C, S, P]``."""
        return self.predict_pose_and_people_windows(windows, batch_size=batch_size)[1:]

    def predict_pose_and_people_windows(self, windows: Any, *, batch_size: int = 256
                                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A person-slot model's ``(keypoints float32[N, J, D], persons, presence)`` of already
        preprocessed windows in one pass (as :meth:`predict_windows` and
        :meth:`predict_people_windows`; ``keypoints`` is the most present slot)."""
        if not self.persons:
            raise ArgumentError(f"{self.path}: a model of one person per window has no person slots; use predict")
        x = self._windows(windows, batch_size)
        keypoints, persons, presence = self._run(x, ("keypoints", "persons", "presence"), batch_size)
        return keypoints, persons, presence

    def predict_densepose_windows(self, windows: Any, *, batch_size: int = 256, geometry: Any = None
                                  ) -> tuple[np.ndarray, np.ndarray]:
        """A DensePose model's ``(iuv float32[N, 3, H, W], score float32[N])`` of already preprocessed
        windows (:func:`~csipose.models.densepose_head.iuv_from_outputs`: part 0-24, U, V; the mean
        body probability over the predicted body); ``geometry`` as :meth:`predict`."""
        return self.predict_pose_and_densepose_windows(windows, batch_size=batch_size, geometry=geometry)[1:]

    def predict_pose_and_densepose_windows(self, windows: Any, *, batch_size: int = 256, geometry: Any = None
                                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A DensePose model's ``(keypoints float32[N, J, D], iuv, score)`` of already preprocessed
        windows in one pass of the model (as :meth:`predict_windows` and :meth:`predict_densepose_windows`)."""
        if not self.densepose_size:
            raise ArgumentError(
                f"{self.path}: no DensePose head here (a .pt checkpoint trained with densepose = true has one; "
                "exported ONNX graphs carry the keypoints only)"
            )
        x = self._windows(windows, batch_size)
        keypoints, iuv, score = self._run(x, ("keypoints", "iuv", "densepose_score"), batch_size,
                                          _geometry(geometry, len(x)))
        return keypoints, iuv, score

    def _windows(self, windows: Any, batch_size: int) -> np.ndarray:
        x = np.asarray(windows, dtype=np.float32)
        expected = self.preprocess.input_shape
        if x.ndim != 5 or tuple(x.shape[1:]) != expected:
            raise ShapeError(f"windows: expected [N, {', '.join(map(str, expected))}], got {list(x.shape)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ArgumentError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        return x

    def _run(self, x: np.ndarray, outputs: tuple[str, ...], batch_size: int,
             geometry: tuple[np.ndarray, ...] | None = None) -> list[np.ndarray]:
        shapes = {"keypoints": (self.joints, self.dims), "persons": (self.persons, self.joints, self.dims),
                  "presence": (self.persons,), "iuv": (3, self.densepose_size, self.densepose_size),
                  "densepose_score": ()}  # fmt: skip
        if len(x) == 0:
            return [np.zeros((0, *shapes[name]), dtype=np.float32) for name in outputs]
        parts = [self._backend.run(np.ascontiguousarray(x[i : i + batch_size]), outputs,
                                   None if geometry is None else tuple(g[i : i + batch_size] for g in geometry))
                 for i in range(0, len(x), batch_size)]  # fmt: skip
        return [np.concatenate([p[k] for p in parts]).astype(np.float32, copy=False) for k in range(len(outputs))]

    def stream(self, *, geometry: Any = None, tracker: Any = None, room: Any = None) -> Stream:
        """A :class:`Stream` for frame-by-frame prediction with this model, in the room of
        ``geometry`` (as :meth:`predict` takes it, for the whole stream); a person-slot model's
        people are tracked by ``tracker`` (a :class:`csipose.track.Tracker`; None: one with its
        defaults).

        ``room``: the calibration a :attr:`room_normalised` model needs (and no other model
        takes): raw frames of the room, unlabelled (``amplitude``, or ``(amplitude, phase)``, as
        :meth:`predict` takes them, e.g. a minute of the room's capture), whose per-feature
        statistics standardise every frame of the stream, or one of its training rooms'
        environment ids (:attr:`room_statistics`). A stream calibrated on frames predicts what
        :meth:`predict` does on those same frames."""
        statistics = None
        if self.room_normalised:
            statistics = self._calibration(room)
        elif room is not None:
            raise ArgumentError(f"room: {self.path} was not trained with test_time_norm; it takes no room calibration")
        return Stream(self, geometry=_geometry(geometry, 1), tracker=tracker, room=statistics)

    def __repr__(self) -> str:
        return (f"Predictor({os.fspath(self.path)!r}, {self.runtime} {self.precision} on {self.device}, "
                f"{self.joints} joints x {self.dims}, {self.preprocess.describe()})")


class Stream:
    """Frame-by-frame prediction: :meth:`push` one raw frame, get the pose of the window it ends
    (a person-slot model's people, with their identities: :meth:`push_people`).

    The last ``window`` preprocessed frames live in a ring buffer; every frame is preprocessed
    on its own (all steps work frame by frame), so the poses equal :meth:`Predictor.predict` on
    the same frames (for a room-normalised model, when the stream is calibrated on those frames).
    """

    def __init__(self, predictor: Predictor, *, geometry: tuple[np.ndarray, ...] | None = None,
                 tracker: Any = None, room: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.predictor = predictor
        self.geometry = geometry  # one window's room geometry, or None
        self.room = room  # a room-normalised model's room (mean, std), each float32[C, S, P], or None
        w = predictor.window
        self._ring = np.zeros((w, *predictor.preprocess.frame_shape), dtype=np.float32)
        self._seen = 0
        if tracker is None and predictor.persons:
            from csipose.track import Tracker

            tracker = Tracker(skeleton=predictor.skeleton)
        #: the :class:`csipose.track.Tracker` of a person-slot model's people (None for others)
        self.tracker = tracker

    @property
    def frames_seen(self) -> int:
        """Frames pushed since the start (or the last :meth:`reset`)."""
        return self._seen

    def reset(self) -> None:
        """Forgets the buffered frames (e.g. at a gap in the capture); the tracker keeps its tracks,
        which end by its own ``death`` rule."""
        self._seen = 0

    def push(self, amplitude: Any, phase: Any = None) -> np.ndarray | None:
        """The pose ``float32[J, D]`` of the window ending at this frame, or None while fewer than
        ``window`` frames have arrived.

        Args:
            amplitude: ``float[A, S, P]`` raw amplitude of one frame, or complex CSI.
            phase: ``float[A, S, P]`` wrapped phase, when the model uses phase.
        """
        window = self._window(amplitude, phase, "push")
        return None if window is None else self.predictor.predict_windows(window, geometry=self.geometry)[0]

    def push_people(self, amplitude: Any, phase: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A person-slot model's people of the window ending at this frame, as :meth:`push`:
        ``(persons float32[S, J, D], presence float32[S], ids int64[S])``, ``ids`` the stream's
        tracker's (online: ``-1`` for an absent slot and for a person's first ``birth - 1``
        frames; :meth:`csipose.track.Tracker.update`), or None while fewer than ``window``
        frames have arrived."""
        if self.tracker is None:
            raise ArgumentError(f"{self.predictor.path}: push_people takes a person-slot model's people; this model "
                                "predicts one person per window: use push")
        window = self._window(amplitude, phase, "push_people")
        if window is None:
            return None
        persons, presence = (a[0] for a in self.predictor.predict_people_windows(window))
        return persons, presence, self.tracker.update(persons, presence)

    def _window(self, amplitude: Any, phase: Any, method: str) -> np.ndarray | None:
        """Buffers one raw frame; the window ``float32[1, W, C, S, P]`` it ends, or None before ``W`` frames."""
        one = [None if v is None else np.asarray(v)[None] for v in (amplitude, phase)]
        if one[0] is None or one[0].ndim != 4:
            shape = None if one[0] is None else list(np.shape(amplitude))
            raise ShapeError(f"amplitude: {method} takes one frame [A, S, P], got shape {shape}")
        frame = self.predictor.frames(one[0], one[1])[0]
        if self.room is not None:
            frame = (frame - self.room[0]) / self.room[1]
        w = len(self._ring)
        self._ring[self._seen % w] = frame
        self._seen += 1
        if self._seen < w:
            return None
        order = (np.arange(w) + self._seen) % w  # oldest first
        return self._ring[order][None]


def _frame_statistics(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-feature ``(mean, std)``, each ``float32[C, S, P]``, of one room's ``frames: float32[F, C, S, P]``."""
    from csipose.domain.normalisation import room_statistics

    return room_statistics(frames, np.zeros(len(frames), np.int64))[0]


@dataclass
class Predictions:
    """The poses of an input, one per window, in input order.

    Attributes:
        keypoints: ``float32[N, J, D]`` in metres.
        ids: ``int64[N, 4]``: environment, subject, action and 1-based frame number of each
            pose's label frame (the last of its window).
        ground_truth: ``float32[N, J, 3]`` of those frames when the input has it (several people's
            ``[N, M, J, 3]``), else None.
        person_mask: with several people's ground truth, ``bool[N, M]``: who is in each frame.
        person_ids: with several people's ground truth whose input names them through the frames,
            ``int64[N, M]``: who each is; else None.
        frames: raw frames read.
        times: ``float64[N]`` seconds of each label frame for a capture, else None.
        persons: a person-slot model's ``float32[N, S, J, D]`` (``keypoints`` is its most present
            slot), else None.
        presence: a person-slot model's ``float32[N, S]`` presence probabilities, else None.
    """

    keypoints: np.ndarray
    ids: np.ndarray
    ground_truth: np.ndarray | None
    frames: int
    times: np.ndarray | None = None
    persons: np.ndarray | None = None
    presence: np.ndarray | None = None
    person_mask: np.ndarray | None = None
    person_ids: np.ndarray | None = None


def predict_source(predictor: Predictor, source: Any, *, progress: bool = False, geometry: Any = None) -> Predictions:
    """Runs ``predictor`` over every run of consecutive frames of an opened input
    (:func:`csipose.data.sources.open_frames`); windows never span two runs. A
    :attr:`~Predictor.room_normalised` model standardises each run by its own statistics.

    Args:
        progress: a tqdm bar on stderr (when tqdm is installed and stderr is a terminal).
        geometry: the room geometry of the whole input, as :meth:`Predictor.predict` takes it.
    """
    bar = _bar(source.frames, progress)
    w = predictor.window
    keypoints, people, ids, truth, masks, who, times, read = [], [], [], [], [], [], [], 0
    try:
        for run in source.runs():
            read += len(run)
            if len(run) >= w:
                try:
                    x = predictor.frames(run.amplitude, run.phase, phase_sanitised=run.phase_sanitised,
                                         tones=run.tones, numbers=run.ids[:, 3])
                except CsiposeError as err:
                    raise type(err)(f"{source.path} ({run.name}): {err}") from None
                windows = predictor.preprocess.windows(predictor._room_standardised(x))
                if predictor.persons:  # every slot and its presence, beside the most present slot
                    pose, *slots = predictor.predict_pose_and_people_windows(windows)
                    keypoints.append(pose)
                    people.append(slots)
                else:
                    keypoints.append(predictor.predict_windows(windows, geometry=geometry))
                ids.append(run.ids[w - 1 :])
                if run.keypoints is not None:
                    truth.append(run.keypoints[w - 1 :])
                if run.person_mask is not None:
                    masks.append(run.person_mask[w - 1 :])
                if run.person_ids is not None:
                    who.append(run.person_ids[w - 1 :])
                if run.times is not None:
                    times.append(run.times[w - 1 :])
            if bar is not None:
                bar.update(len(run))
    finally:
        if bar is not None:
            bar.close()
    if not keypoints:
        raise DatasetError(f"{source.path}: no run of {w} consecutive frames, so no window to predict from")
    persons, presence = (np.concatenate(p) for p in zip(*people)) if people else (None, None)
    return Predictions(
        keypoints=np.concatenate(keypoints), ids=np.concatenate(ids),
        ground_truth=np.concatenate(truth) if source.has_keypoints else None, frames=read,
        times=np.concatenate(times) if len(times) == len(keypoints) else None, persons=persons, presence=presence,
        person_mask=np.concatenate(masks) if masks else None,
        person_ids=np.concatenate(who) if who and len(who) == len(masks) else None,
    )  # fmt: skip


def _bar(total: int, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="frame", desc="csipose: predicting", file=sys.stderr)


# ---------------------------------------------------------------------------- backends
class _TorchBackend:
    def __init__(self, model: Any, device: Any, amp: str) -> None:
        self.model, self.device, self.amp = model, device, amp
        self.adapter: Any = None  # an AdapterEnsemble's members each run the model, and their outputs are averaged
        # the training rooms the checkpoint recorded, for a model that places new rooms' people
        self.seen_rooms = model.seen_rooms if getattr(model, "new_room_root", None) else None

    @property
    def room_statistics(self) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
        return getattr(self.model, "room_statistics", None)

    def run(self, x: np.ndarray, outputs: tuple[str, ...] = ("keypoints",), geometry: Any = None) -> list[np.ndarray]:
        import torch

        enabled = self.device.type == "cuda" and self.amp != "off"
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        room = None if geometry is None else tuple(torch.from_numpy(g).to(self.device) for g in geometry)
        inputs = torch.from_numpy(x).to(self.device)
        average = getattr(self.adapter, "average", None)
        with torch.no_grad(), torch.autocast(device_type=self.device.type, dtype=dtype, enabled=enabled):
            def forward() -> dict[str, Any]:
                return self.model(inputs, **({} if room is None else {"geometry": room}))  # type: ignore[no-any-return]

            out = forward() if average is None else average(forward)
        if "presence" in out:
            out["presence"] = torch.sigmoid(out["presence"].float())
        if "iuv" in outputs:
            from csipose.models.densepose_head import iuv_from_outputs

            out["iuv"], out["densepose_score"] = iuv_from_outputs(out["dp_parts"], out["dp_uv"])
        return [out[name].float().cpu().numpy() for name in outputs]


class _OnnxBackend:
    def __init__(self, session: Any, room_statistics: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.session, self.room_statistics = session, room_statistics

    def run(self, x: np.ndarray, outputs: tuple[str, ...] = ("keypoints",), geometry: Any = None) -> list[np.ndarray]:
        if geometry is not None:
            raise ArgumentError("geometry: exported ONNX models take no room geometry")
        return [np.asarray(a, dtype=np.float32) for a in self.session.run(list(outputs), {"csi": x})]


# ------------------------------------------------------------------------------ helpers
def encode_rooms(rooms: dict[int, tuple[Any, Any]]) -> dict[str, Any]:
    """The ``csipose.room_statistics`` metadata of rooms' statistics ``{environment: (mean
    float32[C, S, P], std float32[C, S, P])}``: plain JSON, the arrays' bytes in base64."""
    from csipose.domain.normalisation import stack_rooms

    ids, mean, std = stack_rooms(rooms)
    text = [base64.b64encode(np.asarray(a, "<f4").tobytes()).decode("ascii") for a in (mean, std)]
    return {"environments": ids, "shape": list(mean.shape[1:]), "mean": text[0], "std": text[1]}


def decode_rooms(value: Any, file: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """:func:`encode_rooms` read back.

    Raises:
        CheckpointError: metadata of another layout.
    """
    from csipose.domain.normalisation import unstack_rooms

    try:
        ids, shape = list(value["environments"]), tuple(int(n) for n in value["shape"])
        mean, std = (np.frombuffer(base64.b64decode(value[k], validate=True), "<f4").reshape(len(ids), *shape)
                     for k in ("mean", "std"))
        return unstack_rooms(ids, mean, std)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise CheckpointError(f"{file}: metadata csipose.room_statistics is not the layout csipose export writes") from None


def _geometry(geometry: Any, n: int) -> tuple[np.ndarray, ...] | None:
    """``(tx float32[n, 3], rx float32[n, R, 3])``, and ``floor float32[n]`` when given, of
    ``geometry = (tx, rx[, floor])`` given for the whole input (``[3]``, ``[R, 3]``, a number) or
    per window; None stays None."""
    if geometry is None:
        return None
    if not isinstance(geometry, (tuple, list)) or len(geometry) not in (2, 3):
        raise ArgumentError("geometry: expected (tx, rx) or (tx, rx, floor), the room's antenna positions "
                            "(and the floor's camera-frame y)")
    tx, rx = (np.asarray(g, dtype=np.float32) for g in geometry[:2])
    floor = np.asarray(geometry[2], dtype=np.float32) if len(geometry) == 3 else None
    for name, value in (("tx", tx), ("rx", rx), ("floor", floor)):
        if value is not None and not np.all(np.isfinite(value)):
            raise ArgumentError(f"geometry: {name} holds a NaN or infinite coordinate; give positions in metres")
    if tx.shape == (3,) and rx.ndim == 2 and rx.shape[1] == 3 and (floor is None or floor.shape == ()):
        whole = [np.broadcast_to(tx, (n, 3)).copy(), np.broadcast_to(rx, (n, *rx.shape)).copy()]
        return tuple(whole + ([] if floor is None else [np.full(n, floor, dtype=np.float32)]))
    if (tx.shape != (n, 3) or rx.ndim != 3 or rx.shape[0] != n or rx.shape[2] != 3
            or (floor is not None and floor.shape != (n,))):
        raise ShapeError(
            f"geometry: expected tx [3], rx [R, 3] (and a number, the floor), or tx [{n}, 3], rx [{n}, R, 3] "
            f"(and floor [{n}]; one per window), got {list(tx.shape)}, {list(rx.shape)}"
            + ("" if floor is None else f" and {list(floor.shape)}")
        )
    return (tx, rx) if floor is None else (tx, rx, floor)


def read_onnx_metadata(path: str | os.PathLike[str], ort: Any = None) -> dict[str, Any]:
    """The ``csipose.*`` metadata of an exported model, JSON-decoded.

    Raises:
        CheckpointError: an unreadable file, or an ONNX model without csipose's metadata.
    """
    if ort is None:
        import onnxruntime

        ort = onnxruntime
    file = Path(path)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        raw = ort.InferenceSession(os.fspath(file), options, providers=["CPUExecutionProvider"])
        props = raw.get_modelmeta().custom_metadata_map
    except Exception as err:
        raise CheckpointError(f"{file}: not a readable ONNX model ({_first_line(err)})") from None
    missing = [k for k in _REQUIRED_METADATA if k not in props]
    if missing:
        raise CheckpointError(
            f"{file}: an ONNX model without csipose metadata (no {', '.join(missing)}); "
            "export it with csipose export, which records its preprocessing and skeleton"
        )
    meta: dict[str, Any] = {}
    for key, text in props.items():
        if key.startswith("csipose."):
            try:
                meta[key] = json.loads(text)
            except json.JSONDecodeError:
                raise CheckpointError(f"{file}: metadata {key} is not JSON") from None
    if meta["csipose.format"] != METADATA_FORMAT:
        raise CheckpointError(
            f"{file}: csipose metadata format {meta['csipose.format']!r}; this csipose reads {METADATA_FORMAT}"
        )
    return meta


def _recorded(stored: Any, given: Preprocess | None, file: Path) -> Preprocess:
    if given is not None:
        if not isinstance(given, Preprocess):
            raise ArgumentError(f"preprocess: expected a csipose.data.Preprocess, got {type(given).__name__}")
        return given
    if stored is None:
        raise CheckpointError(
            f"{file}: no preprocessing recorded (a model trained on a dataset without one); "
            "pass preprocess=Preprocess(...) to Predictor.load"
        )
    if not isinstance(stored, Mapping):
        raise CheckpointError(f"{file}: its preprocessing record is not a table of settings")
    try:
        return Preprocess.from_dict(stored, source=f"{file} preprocess")
    except ArgumentError as err:
        raise CheckpointError(str(err)) from None


def _check_finite(x: np.ndarray, numbers: np.ndarray | None = None) -> None:
    """Refuses frames of ``x: [F, ...]`` left non-finite, naming the first by index (or by
    ``numbers[index]``, the 1-based frame numbers of the input)."""
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        where = f"frame {bad}" if numbers is None else f"frame number {int(numbers[bad])}"
        raise NonFiniteError(
            f"frames: {where} is not finite after preprocessing ({int((~finite).sum())} such frame(s)); "
            "with cleaning = 'raw' NaN/inf amplitude is kept, so drop or repair those frames"
        )


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]
