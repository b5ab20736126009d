"""The settings of the synthetic CSI + pose generator."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from csipose.data.preprocess import Preprocess
from csipose.data.synthetic.body import ACTIONS
from csipose.data.synthetic.families import FAMILIES
from csipose.errors import ArgumentError, ConfigError
from csipose.subcarrier import RESAMPLE_MODES

__all__ = ["FEATURE_SETS", "NATIVE_SUBCARRIERS", "SUBCARRIER_MODES", "SyntheticConfig"]

#: The allowed ``features`` tuples; channels are always amplitude first (``("conjugate",)``: the
#: antenna pairs' conjugate products, see :class:`~csipose.data.Preprocess`).
FEATURE_SETS = (("amplitude", "phase"), ("amplitude",), ("phase",), ("conjugate",))
#: The allowed ``subcarrier_mode`` values: :class:`~csipose.Resampler` modes, as for MM-Fi.
SUBCARRIER_MODES = RESAMPLE_MODES
#: Subcarriers the generator renders (MM-Fi's HT40 tones).
NATIVE_SUBCARRIERS = 114


def _held_out(values: Any, name: str, count: int, what: str) -> list[int]:
    """Checks ``values``, the held-out numbers among ``1..count`` ``what``s: a tuple, no repeats, one
    left for training; returns them as a list."""
    if not isinstance(values, tuple):
        raise ConfigError(f"{name}: expected a tuple of {what} numbers, got {values!r}")
    held = [_int(v, name, 1, count) for v in values]
    if len(set(held)) != len(held):
        raise ConfigError(f"{name}: {what}s must not repeat, got {values}")
    if len(held) >= count:
        raise ConfigError(f"{name}: at least one of the {count} {what}s must remain for training, got {values}")
    return held


def _int(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ConfigError(f"{name}: expected an integer, got {type(value).__name__} {value!r}") from None
    if n < minimum or (maximum is not None and n > maximum):
        bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ConfigError(f"{name}: expected an integer {bound}, got {n}")
    return n


def _float(value: Any, name: str, *, positive: bool = False, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(f"{name}: expected a finite number, got {x}")
    if positive and x <= 0:
        raise ConfigError(f"{name}: expected a number > 0, got {x}")
    if minimum is not None and x < minimum:
        raise ConfigError(f"{name}: expected a number >= {minimum}, got {x}")
    return x


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """What to generate. The default is about 4800 training and 1200 validation frames.

    Subjects are numbered 1..``subjects``; subject ``s`` lives in environment
    ``(s - 1) // subjects_per_environment + 1`` (a room of its own: wall
    reflectivities and clutter differ), so by default, like MM-Fi, S01-S10 are
    in E01, S11-S20 in E02, and so on. With ``environments`` set, the subjects
    are split into that many consecutive blocks instead (see :meth:`environment_of`).
    Each (subject, action) pair is one sequence of ``frames`` frames.

    With ``room_variation`` the rooms also differ physically (size, wall materials,
    furniture, transmitter and receiver placement and orientation, receiver gain and
    antenna phase offsets; see :func:`~csipose.data.synthetic.scenes.make_varied_scene`);
    without it every room is the same 6 x 5 x 3 m box with the same link, and every
    existing seed keeps its bytes. ``val_environments`` holds whole rooms out.
    """

    seed: int = 0
    """Root of every random draw: same seed, same bytes."""
    family: str = "physics"
    """How CSI is made from the pose: ``"physics"`` (the room's radio channel) or one of the
    random-map families ``"dense_map"``, ``"subcarrier_mix"`` (see
    :mod:`~csipose.data.synthetic.families`); people, actions and splits are the same."""
    subjects: int = 10
    """Number of subjects (heights 1.62-1.88 m)."""
    subjects_per_environment: int = 10
    """Subjects sharing one room (MM-Fi: 10, four rooms for its 40 subjects)."""
    val_subjects: tuple[int, ...] = (5, 10)
    """Subjects held out for the ``"val"`` split (1-based); the rest train.
    The default matches MM-Fi's cross-subject protocol pattern (every fifth)."""
    actions: tuple[str, ...] = tuple(ACTIONS)
    """Actions every subject performs, by name (see ``body.ACTIONS``)."""
    frames: int = 75
    """Frames per sequence (MM-Fi has 297)."""
    frame_rate_hz: float = 10.0
    """Frames per second (MM-Fi's WiFi stream runs at 10 Hz)."""
    packets: int = 10
    """Packets per frame, ``P``."""
    packet_rate_hz: float = 100.0
    """Packets per second within a frame; ``packets / packet_rate_hz`` must not
    exceed the frame interval."""
    window: int = 1
    """Frames per sample, ``W``; a window ends at its label frame and never
    crosses a sequence boundary."""
    features: tuple[str, ...] = ("amplitude", "phase")
    """Per-antenna features: one of ``FEATURE_SETS``; ``C = 3 * len(features)``."""
    subcarriers: int = NATIVE_SUBCARRIERS
    """Subcarriers ``S``; other than 114 resamples the cleaned features with
    ``Resampler(114, subcarriers, subcarrier_mode)``, exactly as ``MMFiDataset`` does."""
    subcarrier_mode: str = "linear"
    """How 114 tones become ``subcarriers``: ``"linear"`` (align-corners interpolation),
    ``"area"`` (bin means) or ``"subband"`` (the first ``subcarriers`` native tones, so
    at most 114); see :class:`~csipose.Resampler`. Unused when ``subcarriers`` is 114."""
    snr_db: float = 40.0
    """Signal-to-noise ratio of the measured CSI, dB relative to the frame's mean power."""
    persons: int = 1
    """People in the room: the subject (person 0) and bystanders of random size doing random
    actions beside them, at the spots of :attr:`people`'s scenes; one is labelled
    (:attr:`labelled_person`)."""
    labelled_person: int = 0
    """The person of the room the label follows: 0 the subject (default), ``k`` (up to
    ``persons - 1``) the ``k``-th bystander, the others unlabelled; so each person of a scene of
    several can be learned and scored alone."""
    people: tuple[int, ...] = ()
    """Several labelled people: each sequence draws its count of people, uniformly, from these
    counts (0-4; e.g. (1, 2, 3)), and every one of them is labelled: the subject (person 0,
    when the count is at least 1) and bystanders of random size doing random actions at
    stated spots beside them (1 m to either side across the link, 1.1 m towards the
    transmitter), who shadow each other. Samples then carry a person axis. Empty: one
    labelled subject, and ``persons - 1`` unlabelled bystanders."""
    receivers: int = 1
    """Receivers (NICs of three antennas each, 1-3) sharing the one transmitter, as in
    multi-receiver set-ups (Person-in-WiFi-3D has three): the first at the link's far end as
    MM-Fi has it, the second and third facing the stage from the side walls (see
    :func:`~csipose.data.synthetic.scenes.with_receivers`), or with ``room_variation`` from
    either side of the link (:func:`~csipose.data.synthetic.scenes.make_varied_scene`: 1 or 3,
    since a second receiver alone would pull the link anchor off the link); each has its own
    noise, packet phase offsets and timing slopes. Samples' ``csi`` then holds ``3 * receivers``
    antennas, receiver by receiver. Only with family ``"physics"`` and per-antenna features:
    conjugate products pair antennas of one clock. 1 keeps every byte, and more keep the first
    receiver's."""
    scatterers: int = 40
    """Static point scatterers (furniture, clutter) per environment; with ``room_variation``
    the mean count, each room drawing 0.5-1.5 times as many."""
    room_variation: bool = False
    """Rooms differ physically: each room (drawn from ``seed`` and its environment id alone)
    has its own size (5-8 x 4-7 x 2.6-3.4 m), wall materials (drywall, glass, concrete),
    furniture, transmitter-receiver link (length, position, rotation of up to 30 degrees in
    the floor plane, antenna heights and spacing), stage on the link's middle, and hardware
    (receive gain, a fixed phase offset per receive antenna). Samples then also carry the
    room's ``"tx"`` and ``"rx"`` positions (camera frame). Off: the fixed room of every
    existing config, byte for byte."""
    environments: int | None = None
    """Number of rooms (1..``subjects``); the subjects fill them in consecutive, near-equal
    blocks (40 subjects in 4 rooms: S01-S10 in E01, ...). Overrides ``subjects_per_environment``
    when set."""
    random_rooms: int = 0
    """Domain randomisation (with ``room_variation``): the training split's sequences are spread
    over this many randomised virtual rooms instead of their subjects' rooms, sequence ``k``
    (subject-major, then action) in room ``environment_count + 1 + k mod random_rooms``: every
    one drawn like the real rooms from its own number, which no real (and so no validation)
    room has. The validation split is unchanged. 0 = off."""
    random_room_share: float = 1.0
    """With ``random_rooms``: the share (0, 1] of the training sequences moved to randomised
    rooms, spread evenly (sequence ``k`` moves when ``floor((k + 1) * share)`` passes an
    integer); the others stay in their subjects' rooms, which then keep some training frames
    (and so an in-room figure). 1 = every one."""
    val_environments: tuple[int, ...] = ()
    """Rooms held out whole (1-based; leave-room-out): every subject of these rooms is in the
    ``"val"`` split, together with ``val_subjects`` (held-out people of the training rooms,
    so one run measures both; set ``val_subjects = ()`` for rooms alone). At least one
    room must remain for training."""
    position_jitter: float = 0.1
    """Half-width (m) of the uniform random offset of each sequence's standing
    point from the stage centre."""
    sway: float = 0.0
    """Amplitude (m) of each person's slow drift about their standing point
    within a sequence (weight shifts, small steps): a sum of three slow
    sinusoids per floor axis, never farther than ``sway`` from the point."""
    densepose: bool = False
    """DensePose labels: every sample also carries ``"densepose"``, the part index and
    (U, V) image of every person in the room, rendered by
    :func:`~csipose.densepose.render.render_iuv` through the room's fixed virtual camera
    (:func:`~csipose.densepose.render.stage_camera`). Draws no random numbers: every other
    array keeps its bytes."""
    densepose_size: int = 56
    """Side (pixels, 8-512) of the square DensePose label images."""

    def __post_init__(self) -> None:
        _int(self.seed, "seed", 0)
        if self.family not in FAMILIES:
            raise ConfigError(f"family: expected one of {', '.join(FAMILIES)}, got {self.family!r}")
        subjects = _int(self.subjects, "subjects", 2, 99)
        _int(self.subjects_per_environment, "subjects_per_environment", 1)
        _held_out(self.val_subjects, "val_subjects", subjects, "subject")
        if not isinstance(self.actions, tuple) or not self.actions:
            raise ConfigError(f"actions: expected a non-empty tuple of action names, got {self.actions!r}")
        for a in self.actions:
            if a not in ACTIONS:
                raise ConfigError(f"actions: unknown action {a!r}; known: {', '.join(ACTIONS)}")
        if len(set(self.actions)) != len(self.actions):
            raise ConfigError(f"actions: actions must not repeat, got {self.actions}")
        frames = _int(self.frames, "frames", 1, 9999)
        frame_rate = _float(self.frame_rate_hz, "frame_rate_hz", positive=True)
        packets = _int(self.packets, "packets", 1)
        packet_rate = _float(self.packet_rate_hz, "packet_rate_hz", positive=True)
        if packets / packet_rate > 1.0 / frame_rate + 1e-12:
            raise ConfigError(
                f"packet_rate_hz: {packets} packets at {packet_rate} Hz last longer than one frame "
                f"at frame_rate_hz = {frame_rate}"
            )
        _int(self.window, "window", 1, frames)
        if self.features not in FEATURE_SETS:
            raise ConfigError(f"features: expected one of {FEATURE_SETS}, got {self.features!r}")
        subcarriers = _int(self.subcarriers, "subcarriers", 2)
        if self.subcarrier_mode not in SUBCARRIER_MODES:
            raise ConfigError(
                f"subcarrier_mode: expected one of {', '.join(SUBCARRIER_MODES)}, got {self.subcarrier_mode!r}"
            )
        if self.subcarrier_mode == "subband" and subcarriers > NATIVE_SUBCARRIERS:
            raise ConfigError(
                f"subcarrier_mode: 'subband' keeps a block of the {NATIVE_SUBCARRIERS} native tones, so subcarriers "
                f"must be <= {NATIVE_SUBCARRIERS}, got {subcarriers}"
            )
        _float(self.snr_db, "snr_db")
        _int(self.persons, "persons", 1, 4)
        if self.persons > 1 and self.family != "physics":
            raise ConfigError(f"persons: bystanders change the CSI only in family 'physics', got {self.family!r}")
        _int(self.labelled_person, "labelled_person", 0)
        if not isinstance(self.people, tuple):
            raise ConfigError(f"people: expected a tuple of person counts, got {self.people!r}")
        if self.labelled_person and self.people:
            raise ConfigError("labelled_person: with people every person of a scene is labelled; it picks the "
                              "labelled one of the persons in a room of unlabelled bystanders")
        if self.labelled_person >= self.persons:
            raise ConfigError(
                f"labelled_person: a room of persons = {self.persons} has people 0..{self.persons - 1}, "
                f"got {self.labelled_person}"
            )
        if self.people:
            for count in self.people:
                _int(count, "people", 0, 4)
            if self.persons != 1:
                raise ConfigError("people: labels every person of a scene; leave persons at 1 (it adds unlabelled ones)")
            if self.family != "physics":
                raise ConfigError(f"people: scenes of several people need family 'physics', got {self.family!r}")
        if _int(self.receivers, "receivers", 1, 3) > 1:
            if self.family != "physics":
                raise ConfigError(f"receivers: several receivers need family 'physics', got {self.family!r}")
            if self.receivers == 2 and self.room_variation:
                raise ConfigError("receivers: 2 receivers in a varied room stand on one side of the link and pull the "
                                  "antennas' mean, and with it the link anchor, off the link; use 1 or 3")
            if self.features == ("conjugate",):
                raise ConfigError("receivers: conjugate products pair antennas of one receiver's clock; with "
                                  f"{self.receivers} receivers use per-antenna features (amplitude, phase)")
        _int(self.scatterers, "scatterers", 0)
        if not isinstance(self.room_variation, bool):
            raise ConfigError(f"room_variation: expected true or false, got {self.room_variation!r}")
        if self.environments is not None:
            _int(self.environments, "environments", 1, subjects)
        held = _held_out(self.val_environments, "val_environments", self.environment_count, "room")
        if held and not self.train_subjects:
            raise ConfigError(
                f"val_subjects: with val_environments {self.val_environments} no training subject remains, "
                f"got {self.val_subjects}"
            )
        if _int(self.random_rooms, "random_rooms", 0, 9999) and not self.room_variation:
            raise ConfigError("random_rooms: randomised rooms are drawn by room_variation; set room_variation = true")
        share = _float(self.random_room_share, "random_room_share")
        if not 0 < share <= 1:
            raise ConfigError(f"random_room_share: expected a share in (0, 1], got {share}")
        _float(self.position_jitter, "position_jitter", minimum=0.0)
        _float(self.sway, "sway", minimum=0.0)
        if not isinstance(self.densepose, bool):
            raise ConfigError(f"densepose: expected true or false, got {self.densepose!r}")
        _int(self.densepose_size, "densepose_size", 8, 512)

    @property
    def max_people(self) -> int:
        """M: the most labelled people a sample can hold (1 without :attr:`people`)."""
        return max(self.people) if self.people else 1

    @property
    def environment_count(self) -> int:
        """The number of rooms: ``environments``, else enough rooms of ``subjects_per_environment``."""
        if self.environments is not None:
            return self.environments
        return self.environment_of(self.subjects)

    @property
    def held_out_subjects(self) -> tuple[int, ...]:
        """Subjects of the ``"val"`` split, ascending: ``val_subjects`` and every subject of
        ``val_environments``."""
        return tuple(s for s in range(1, self.subjects + 1)
                     if s in self.val_subjects or self.environment_of(s) in self.val_environments)

    @property
    def train_subjects(self) -> tuple[int, ...]:
        """Subjects of the ``"train"`` split, ascending (never one of a held-out room)."""
        held = self.held_out_subjects
        return tuple(s for s in range(1, self.subjects + 1) if s not in held)

    def environment_of(self, subject: int) -> int:
        """The 1-based environment (room) of ``subject``: ``(subject - 1) * environments // subjects + 1``
        with ``environments`` set, else ``(subject - 1) // subjects_per_environment + 1``."""
        if self.environments is not None:
            return (subject - 1) * self.environments // self.subjects + 1
        return (subject - 1) // self.subjects_per_environment + 1

    def room_of(self, subject: int, action: str) -> int:
        """The room of ``subject``'s sequence of ``action``: :meth:`environment_of`, or with
        ``random_rooms`` for a training subject a virtual room numbered after every real one
        (see ``random_rooms`` and ``random_room_share``)."""
        train = self.train_subjects
        if not self.random_rooms or subject not in train:
            return self.environment_of(subject)
        k = train.index(subject) * len(self.actions) + self.actions.index(action)
        moved = math.floor((k + 1) * self.random_room_share)  # sequences 0..k that move
        if moved == math.floor(k * self.random_room_share):
            return self.environment_of(subject)
        return self.environment_count + 1 + (moved - 1) % self.random_rooms

    def split_subjects(self, split: str) -> tuple[int, ...]:
        """Subjects of ``split`` (``"train"`` or ``"val"``), ascending."""
        if split == "train":
            return self.train_subjects
        if split == "val":
            return self.held_out_subjects
        raise ArgumentError(f"split: expected 'train' or 'val', got {split!r}")

    @property
    def channels(self) -> int:
        """``C``: ``3 * receivers`` per feature (amplitude, phase), 6 for the conjugate products of 3 antennas."""
        return self.preprocess.channels

    @property
    def preprocess(self) -> Preprocess:
        """The :class:`~csipose.data.Preprocess` from the generator's raw frames (``3 * receivers``
        antennas, 114 tones, ``packets``) to the samples' ``csi``, with MM-Fi's official cleaning."""
        return Preprocess(
            features=self.features, cleaning="official", antennas=3 * self.receivers, packets=self.packets,
            source_subcarriers=NATIVE_SUBCARRIERS, subcarriers=self.subcarriers,
            subcarrier_mode=self.subcarrier_mode, window=self.window,
        )  # fmt: skip
