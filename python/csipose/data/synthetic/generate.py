"""Renders sequences: a subject performs an action in a room while packets arrive.

Every random draw comes from its own :class:`numpy.random.SeedSequence`
keyed by ``(seed, purpose, ids...)``, so a sequence does not depend on which
other sequences are generated, on their order, or on any global RNG state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from csipose.data.synthetic import body, radio
from csipose.data.synthetic.families import FAMILIES, family_map, render_family
from csipose.data.synthetic.config import SyntheticConfig
from csipose.data.synthetic.scenes import Scene, make_scene, make_varied_scene, with_receivers, world_to_camera

__all__ = ["Sequence", "action_id", "drift", "make_environment", "render", "render_sequence"]

_SCENE, _SUBJECT, _MOTION, _RADIO, _BYSTANDER, _FAMILY, _PEOPLE, _ROOM = range(8)
# Floor offsets (m) of bystanders 1, 2, 3 from the labelled subject.
_BYSTANDER_OFFSETS = np.array([[0.0, 1.0], [0.0, -1.0], [-1.1, 0.0]])


def _rng(config: SyntheticConfig, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, *key]))


def action_id(action: str) -> int:
    """The 1-based id of ``action`` (its place in ``body.ACTIONS``); stable across configs."""
    return list(body.ACTIONS).index(action) + 1


def make_environment(config: SyntheticConfig, environment: int) -> tuple[Scene, radio.StaticPaths]:
    """The room of ``environment`` and its static paths.

    With ``config.room_variation`` the room is :func:`~csipose.data.synthetic.scenes.make_varied_scene`'s,
    drawn from ``config.seed`` and ``environment`` alone (a stream of its own); else
    :func:`~csipose.data.synthetic.scenes.make_scene`'s fixed box (the bytes of every earlier release),
    with ``config.receivers`` receivers (:func:`~csipose.data.synthetic.scenes.with_receivers`; a
    varied room places its own).
    """
    if config.room_variation:
        scene = make_varied_scene(_rng(config, _ROOM, environment), n_scatterers=config.scatterers,
                                  receivers=config.receivers)
        return scene, radio.static_paths(scene)
    scene = make_scene(_rng(config, _SCENE, environment), n_scatterers=config.scatterers)
    if config.receivers > 1:
        scene = with_receivers(scene, config.receivers)
    return scene, radio.static_paths(scene)


@dataclass(frozen=True, eq=False)
class Sequence:
    """One rendered sequence of ``T`` frames.

    Attributes:
        subject, action, environment: 1-based ids.
        amplitude: ``float32[T, R, 114, P]`` raw amplitude ``|H|`` as a NIC reports it, for the
            ``R = 3 * config.receivers`` receive antennas, receiver by receiver.
        phase: ``float32[T, R, 114, P]`` raw wrapped phase in ``(-pi, pi]``.
        keypoints: ``float64[T, K, 17, 3]`` camera-frame joints (metres) of the ``K``
            persons at each frame's middle packet; person 0 is the subject (when ``K`` >= 1).
        labelled: how many of the ``K`` persons are labelled (all with ``config.people``,
            else the subject alone).
        tx: ``float64[3]`` the room's transmit antenna, camera frame (metres).
        rx: ``float64[R, 3]`` its receive antennas, camera frame (metres).
        stage: ``float64[3]`` the floor point under the room's stage centre, camera frame
            (metres): where :func:`~csipose.densepose.render.stage_camera` looks.
    """

    subject: int
    action: int
    environment: int
    amplitude: np.ndarray
    phase: np.ndarray
    keypoints: np.ndarray
    labelled: int = 1
    tx: np.ndarray | None = None
    rx: np.ndarray | None = None
    stage: np.ndarray | None = None


def drift(times: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Slow floor drift ``float64[T, 2]`` at ``times: [T]`` seconds, within ``amplitude`` metres per axis.

    Per axis, three sinusoids with periods of 4-15 s, random phases and random
    weights that sum to one, scaled by ``amplitude``.
    """
    periods = rng.uniform(4.0, 15.0, size=(2, 3))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(2, 3))
    weights = rng.dirichlet(np.ones(3), size=2)
    waves = np.sin(2.0 * np.pi * times[:, None, None] / periods + phases)  # [T, 2, 3]
    return amplitude * np.einsum("tak,ak->ta", waves, weights)


def _person_joints(config: SyntheticConfig, action: str, size: body.Subject, times: np.ndarray,
                   position: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    facing = -np.pi / 2 + rng.uniform(-0.15, 0.15)  # towards the camera, give or take 9 degrees
    if config.sway > 0:
        position = position + drift(times, config.sway, rng)
    return body.pose_sequence(action, size, times, position, facing, rng)


def render_sequence(config: SyntheticConfig, subject: int, action: str,
                    environment: tuple[Scene, radio.StaticPaths] | None = None) -> Sequence:
    """Renders ``subject`` performing ``action`` for ``config.frames`` frames.

    ``environment``: the sequence's (scene, paths) when already built (see
    :func:`make_environment`); built on the fly otherwise. The sequence's room is
    ``config.room_of(subject, action)``.
    """
    env_id, act_id = config.room_of(subject, action), action_id(action)
    scene, paths = environment if environment is not None else make_environment(config, env_id)
    t, p = config.frames, config.packets
    times = (np.arange(t)[:, None] / config.frame_rate_hz + np.arange(p) / config.packet_rate_hz).ravel()

    size = body.make_subjects(1, _rng(config, _SUBJECT, subject))[0]
    motion = _rng(config, _MOTION, subject, act_id)
    stage = scene.stage + motion.uniform(-config.position_jitter, config.position_jitter, size=2)
    count = config.persons
    if config.people:
        count = config.people[int(_rng(config, _PEOPLE, subject, act_id).integers(len(config.people)))]
    people = [_person_joints(config, action, size, times, stage, motion)] if count else []
    extra = _rng(config, _BYSTANDER, subject, act_id)
    for k in range(1, count):
        other = body.make_subjects(1, extra)[0]
        other_action = config.actions[int(extra.integers(len(config.actions)))]
        people.append(_person_joints(config, other_action, other, times, stage + _BYSTANDER_OFFSETS[k - 1],
                                     extra))
    joints = (np.stack(people, axis=1) if people else np.zeros((t * p, 0, 17, 3))).reshape(t, p, len(people), 17, 3)
    labelled = count if config.people else 1
    keypoints = world_to_camera(joints[:, p // 2], scene)
    geometry = {"tx": world_to_camera(scene.tx, scene), "rx": world_to_camera(scene.rx, scene),
                "stage": world_to_camera(np.array([*scene.stage, 0.0]), scene)}
    noise = _rng(config, _RADIO, subject, act_id)
    if config.family != "physics":
        mapping = family_map(config.family, _rng(config, _FAMILY, FAMILIES.index(config.family)))
        amplitude, phase = render_family(config.family, mapping, joints[:, :, 0], scene.stage, noise)
        return Sequence(subject=subject, action=act_id, environment=env_id, amplitude=amplitude,
                        phase=phase, keypoints=keypoints, labelled=labelled, **geometry)

    points = body.body_points(joints).reshape(t, p, -1, 3)  # [T, P, K * Q, 3]
    weights = np.tile(body.POINT_WEIGHTS, len(people))
    rcs = radio.BODY_RCS * weights / body.POINT_WEIGHTS.sum()
    h = _true_channel(points, weights, rcs, scene, paths, config.receivers)
    measured = radio.impair(h, noise, snr_db=config.snr_db, gain_db=scene.rx_gain_db, antenna_phase=scene.rx_phase,
                            receivers=config.receivers)
    measured = measured.transpose(0, 2, 3, 1)  # [T, R, K, P] as MM-Fi stores a frame
    return Sequence(
        subject=subject, action=act_id, environment=env_id,
        amplitude=np.abs(measured), phase=np.angle(measured), keypoints=keypoints, labelled=labelled, **geometry,
    )


def _true_channel(points: np.ndarray, weights: np.ndarray, rcs: np.ndarray, scene: Scene, paths: radio.StaticPaths,
                  receivers: int) -> np.ndarray:
    """:func:`~csipose.data.synthetic.radio.channel` ``complex64[T, P, 3 * receivers, K]``, receiver
    by receiver: each receiver's three antennas from their own static paths, so receiver 1's CSI is
    the one-receiver room's bit for bit. (One product over every receiver's paths at once rounds as
    the BLAS kernel its shapes pick, which differs between builds.)"""
    freqs = radio.tone_frequencies()
    if receivers == 1:
        return radio.channel(points, weights, rcs, scene, paths, freqs)
    parts = [radio.channel(points, weights, rcs, own, own_paths, freqs)
             for own, own_paths in _receiver_rooms(scene, receivers)]
    return np.concatenate(parts, axis=2)


@lru_cache(maxsize=32)
def _receiver_rooms(scene: Scene, receivers: int) -> tuple[tuple[Scene, radio.StaticPaths], ...]:
    """Each receiver's view of ``scene``: the scene with that receiver's three antennas alone and
    its static paths, built once per room (a scene hashes by identity, and :func:`render` keeps
    one per room)."""
    owns = [replace(scene, rx=scene.rx[3 * r : 3 * r + 3]) for r in range(receivers)]
    return tuple((own, radio.static_paths(own)) for own in owns)


def render(config: SyntheticConfig, subjects: tuple[int, ...]) -> Iterator[Sequence]:
    """Every sequence of ``subjects`` x ``config.actions``, subject-major."""
    environments: dict[int, tuple[Scene, radio.StaticPaths]] = {}
    for subject in subjects:
        for action in config.actions:
            env = config.room_of(subject, action)
            if env not in environments:
                environments[env] = make_environment(config, env)
            yield render_sequence(config, subject, action, environments[env])
