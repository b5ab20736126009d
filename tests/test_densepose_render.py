"""DensePose labels by ray casting: coverage, charts, occlusion, halves, scale, the dataset key.

The scripted people stand in the renderer's frame (x right, y down, z forward, metres) with
the camera at the origin and 1 m above their floor; facing the camera their left is +x and
their front -z. Points on the surface are built here by hand from surface.py's charts.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csipose.data.collate import collate
from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset
from csipose.densepose import PART_NAMES, PinholeCamera, body_scale, chart_point, render_iuv, stage_camera
from csipose.errors import ArgumentError, ConfigError, NonFiniteError, ShapeError

PART = {name: k for k, name in enumerate(PART_NAMES)}
# Heights (m above the floor) and sideways offsets (+ = the body's left) of an A-pose, 1.75 m body.
_A_POSE = np.array([
    [0.0, 0.96], [-0.13, 0.96], [-0.13, 0.51], [-0.13, 0.08], [0.13, 0.96], [0.13, 0.51], [0.13, 0.08],
    [0.0, 1.18], [0.0, 1.43], [0.0, 1.57], [0.0, 1.70], [0.18, 1.40], [0.40, 1.20], [0.58, 1.02],
    [-0.18, 1.40], [-0.40, 1.20], [-0.58, 1.02],
])  # fmt: skip
ORIGIN = PinholeCamera(np.zeros(3), fov_deg=40.0, size=96)


def standing(x: float = 0.0, depth: float = 3.0, size: float = 1.0, facing_camera: bool = True) -> np.ndarray:
    """``float64[17, 3]`` joints of an A-pose ``size`` times the reference body, at (x, depth)."""
    side = _A_POSE[:, 0] * size * (1.0 if facing_camera else -1.0)
    return np.stack([x + side, 1.0 - _A_POSE[:, 1] * size, np.full(17, depth)], axis=1)


def pixel(camera: PinholeCamera, point: np.ndarray) -> tuple[int, int]:
    row, col = camera.project(point)
    return int(row), int(col)


def torso_point(joints: np.ndarray, u: float, v: float, front: bool, left_x: float = 1.0) -> np.ndarray:
    """A point of the torso half at (U, V), built from surface.py's chart for an upright torso
    whose left is ``left_x`` times +x: angle pi U from the left edge, through the front (or back)."""
    pelvis, neck = joints[0], joints[9]
    axis = (neck - pelvis) / np.linalg.norm(neck - pelvis)
    left = np.array([left_x, 0.0, 0.0])
    ahead = np.cross(left, axis)  # the body's front
    sign = 1.0 if front else -1.0
    return pelvis + v * (neck - pelvis) + 0.15 * (np.cos(np.pi * u) * left + sign * np.sin(np.pi * u) * ahead)


def aimed_camera(point: np.ndarray, row: int = 40, col: int = 50, size: int = 96) -> PinholeCamera:
    """A camera 2.5 m away whose pixel ``(row, col)`` centre ray passes exactly through ``point``."""
    probe = PinholeCamera(np.zeros(3), fov_deg=40.0, size=size)
    ray = probe.rays()[row * size + col]
    return PinholeCamera(point - 2.5 * ray, fov_deg=40.0, size=size)


def test_the_front_of_every_limb_carries_its_part_at_its_projection() -> None:
    joints = standing()
    img = render_iuv(joints[None], ORIGIN)
    expected = {
        "torso_front": (0.5, 0.5), "upper_leg_right_front": (0.5, 0.5), "upper_leg_left_front": (0.5, 0.5),
        "lower_leg_right_front": (0.5, 0.5), "lower_leg_left_front": (0.5, 0.5),
        "upper_arm_right_front": (0.5, 0.5), "upper_arm_left_front": (0.5, 0.5),
        "lower_arm_right_front": (0.5, 0.5), "lower_arm_left_front": (0.5, 0.5),
        "right_hand": (0.0, 0.5), "left_hand": (0.0, 0.5),  # longitude zero: the forearm's front
        "right_foot": (0.0, 0.8), "left_foot": (0.0, 0.8),  # towards the toes and the knee
        "head_right": (0.3, 0.5), "head_left": (0.3, 0.5),
    }  # fmt: skip
    for name, (u, v) in expected.items():
        point = chart_point(joints, PART[name], u, v)
        row, col = pixel(ORIGIN, point)
        assert img.parts[row, col] == PART[name], name
        assert img.person[row, col] == 0
    # a grid over the front of every limb and the torso, away from the ends and the silhouette
    for name in [n for n in PART_NAMES if n.endswith("_front")]:
        for u in (0.35, 0.5, 0.65):
            for v in (0.2, 0.5, 0.8):
                row, col = pixel(ORIGIN, chart_point(joints, PART[name], u, v))
                assert img.parts[row, col] == PART[name], (name, u, v)
    # the hand-built torso point agrees with chart_point's
    by_hand = torso_point(joints, 0.3, 0.6, True)
    assert np.allclose(chart_point(joints, PART["torso_front"], 0.3, 0.6, scale=1.0), by_hand)
    # the person's right is on the image's left
    right, left = pixel(ORIGIN, joints[16])[1], pixel(ORIGIN, joints[13])[1]
    assert right < left


def test_uv_in_unit_range_on_the_body_and_zero_on_background() -> None:
    img = render_iuv(np.stack([standing(-0.5), standing(0.6, 3.8)]), ORIGIN)
    fg = img.parts > 0
    assert img.parts.dtype == np.uint8 and img.u.dtype == np.float32 and img.person.dtype == np.int8
    assert img.parts.shape == img.u.shape == img.v.shape == img.person.shape == (96, 96)
    assert 0.05 < fg.mean() < 0.5
    assert set(np.unique(img.parts[fg])) <= set(range(1, 25))
    for c in (img.u, img.v):
        assert c[fg].min() >= 0.0 and c[fg].max() <= 1.0 and c[fg].std() > 0.1
        assert np.all(c[~fg] == 0.0)
    assert np.all(img.person[~fg] == -1) and set(np.unique(img.person[fg])) == {0, 1}
    assert np.all(np.isinf(img.depth[~fg])) and np.all((img.depth[fg] > 2.5) & (img.depth[fg] < 4.2))


def test_a_nearer_person_hides_the_one_behind() -> None:
    near, far = standing(0.0, 3.0), standing(0.05, 4.0)
    for order in ((near, far), (far, near)):
        img = render_iuv(np.stack(order), ORIGIN)
        near_index = 0 if order[0] is near else 1
        # the far person's torso centre is behind the near person's torso
        row, col = pixel(ORIGIN, torso_point(far, 0.5, 0.5, True))
        assert img.person[row, col] == near_index and img.parts[row, col] == PART["torso_front"]
        assert img.depth[row, col] == pytest.approx(3.0 - 0.15, abs=0.02)
        # the far person's left hand sticks out beside the near person: seen
        row, col = pixel(ORIGIN, chart_point(far, PART["left_hand"], 0.0, 0.5))
        assert img.person[row, col] == 1 - near_index and img.parts[row, col] == PART["left_hand"]
    alone = render_iuv(far[None], ORIGIN)
    both = render_iuv(np.stack([near, far]), ORIGIN)
    assert (both.person == 1).sum() < 0.5 * (alone.person == 0).sum()


def test_a_forearm_in_front_of_the_belly_hides_the_torso() -> None:
    joints = standing()
    # right arm bent forward: the forearm crosses in front of the belly towards the body's left
    joints[15] = joints[14] + np.array([0.0, 0.25, -0.12])
    joints[16] = joints[15] + np.array([0.26, 0.0, 0.0])
    img = render_iuv(joints[None], ORIGIN)
    row, col = pixel(ORIGIN, 0.5 * (joints[15] + joints[16]))
    assert img.parts[row, col] in (PART["lower_arm_right_front"], PART["lower_arm_right_back"])
    assert img.depth[row, col] < joints[0, 2] - 0.15  # nearer than the torso's front
    without = render_iuv(standing()[None], ORIGIN)
    assert without.parts[row, col] == PART["torso_front"]


@given(u=st.floats(0.2, 0.8), v=st.floats(0.05, 0.9), front=st.booleans())
def test_a_torso_point_renders_with_its_chart_coordinates(u: float, v: float, front: bool) -> None:
    joints = standing(facing_camera=front)  # the half facing the camera is seen
    point = torso_point(joints, u, v, front, left_x=1.0 if front else -1.0)
    camera = aimed_camera(point)
    img = render_iuv(joints[None], camera, scale=1.0)  # the canonical radius, as torso_point's
    assert img.parts[40, 50] == PART["torso_front" if front else "torso_back"]
    assert img.u[40, 50] == pytest.approx(u, abs=1e-5) and img.v[40, 50] == pytest.approx(v, abs=1e-5)
    assert img.depth[40, 50] == pytest.approx(2.5, abs=1e-5)


@given(
    part=st.sampled_from(["upper_leg_left_front", "lower_arm_right_front", "right_hand", "head_left", "head_right"]),
    u=st.floats(0.25, 0.75),
    v=st.floats(0.3, 0.7),
)
def test_points_of_limbs_hands_and_head_render_with_their_chart(part: str, u: float, v: float) -> None:
    joints = standing()
    if part == "right_hand":  # the side of the sphere facing the camera: longitude near zero
        u = ((u - 0.5) * 0.6) % 1.0
    if part.startswith("head"):  # from the front (0) half way to the back
        u = 0.5 * u
    point = chart_point(joints, PART[part], u, v)
    img = render_iuv(joints[None], aimed_camera(point))
    assert img.parts[40, 50] == PART[part]
    got_u = img.u[40, 50]
    assert min(abs(got_u - u), 1 - abs(got_u - u)) < 1e-5  # the sphere's longitude wraps
    assert img.v[40, 50] == pytest.approx(v, abs=1e-5)


def test_an_end_cap_carries_its_rims_v() -> None:
    joints = standing()
    # left upper arm pointing straight at the camera, forearm up: the elbow's cap faces the camera
    joints[12] = joints[11] + np.array([0.0, 0.0, -0.29])
    joints[13] = joints[12] + np.array([0.0, -0.26, 0.0])
    img = render_iuv(joints[None], ORIGIN)
    row, col = pixel(ORIGIN, joints[12] + np.array([0.0, 0.035, 0.0]))  # below the elbow, on the cap
    assert img.parts[row, col] in (PART["upper_arm_left_front"], PART["upper_arm_left_back"])
    assert img.v[row, col] == 1.0
    assert img.depth[row, col] == pytest.approx(joints[12, 2], abs=1e-5)


def test_facing_the_camera_shows_the_front_halves_and_facing_away_the_back() -> None:
    ahead = render_iuv(standing()[None], ORIGIN).parts
    away = render_iuv(standing(facing_camera=False)[None], ORIGIN).parts
    fronts = [k for k, name in enumerate(PART_NAMES) if name.endswith("_front")]
    backs = [k for k, name in enumerate(PART_NAMES) if name.endswith("_back")]
    assert np.isin(ahead, backs).sum() == 0 and np.isin(ahead, fronts).sum() > 200
    assert np.isin(away, fronts).sum() == 0 and np.isin(away, backs).sum() > 200
    assert (ahead == PART["torso_front"]).sum() == pytest.approx((away == PART["torso_back"]).sum(), rel=0.02)
    # head halves: facing the camera the right half is on the image's left, facing away on its right
    for parts, right_is_left in ((ahead, True), (away, False)):
        cols_r = np.nonzero(parts == PART["head_right"])[1].mean()
        cols_l = np.nonzero(parts == PART["head_left"])[1].mean()
        assert (cols_r < cols_l) == right_is_left


def test_a_bigger_subject_covers_more_pixels() -> None:
    small, big = standing(size=1.0), standing(size=1.2)
    assert body_scale(small) == pytest.approx(1.0, abs=0.01)
    assert body_scale(big) == pytest.approx(1.2, abs=0.01)
    area = [int((render_iuv(j[None], ORIGIN).parts > 0).sum()) for j in (small, big)]
    assert area[1] > 1.3 * area[0]
    # the same joints with fatter limbs (an explicit scale) cover more too
    thin = (render_iuv(small[None], ORIGIN, scale=1.0).parts > 0).sum()
    thick = (render_iuv(small[None], ORIGIN, scale=1.3).parts > 0).sum()
    assert thick > 1.15 * thin


def test_frames_render_as_one_batch_the_same_as_one_by_one() -> None:
    frames = np.stack([np.stack([standing(-0.4 + 0.1 * f), standing(0.5, 4.0)]) for f in range(4)])
    batch = render_iuv(frames, ORIGIN)
    assert batch.parts.shape == (4, 96, 96)
    for f in range(4):
        one = render_iuv(frames[f], ORIGIN)
        for a, b in zip(batch, one):
            assert np.array_equal(a[f], b)
    again = render_iuv(frames, ORIGIN)
    assert all(np.array_equal(a, b) for a, b in zip(batch, again))
    empty = render_iuv(np.zeros((0, 17, 3)), ORIGIN)
    assert np.all(empty.parts == 0) and np.all(empty.person == -1)


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(ShapeError, match="joints: expected float"):
        render_iuv(np.zeros((2, 16, 3)), ORIGIN)
    bad = standing()[None].copy()
    bad[0, 3, 1] = np.nan
    with pytest.raises(NonFiniteError, match="joints"):
        render_iuv(bad, ORIGIN)
    with pytest.raises(ShapeError, match="scale"):
        render_iuv(np.stack([standing(), standing(1.0)]), ORIGIN, scale=np.ones(3))
    with pytest.raises(ArgumentError, match="scale"):
        render_iuv(standing()[None], ORIGIN, scale=0.0)
    with pytest.raises(ArgumentError, match="fov_deg"):
        PinholeCamera(np.zeros(3), fov_deg=180.0)
    with pytest.raises(ArgumentError, match="size"):
        PinholeCamera(np.zeros(3), size=0)
    with pytest.raises(ShapeError, match="centre"):
        PinholeCamera(np.zeros(2))
    with pytest.raises(ArgumentError, match="part"):
        chart_point(standing(), 25, 0.5, 0.5)


def test_the_stage_camera_frames_the_stage() -> None:
    stage = np.array([0.0, 1.2, 2.3])  # the fixed room's stage seen from its camera
    camera = stage_camera(stage)
    assert camera.size == 56 and np.allclose(camera.centre, [0.0, 0.1, -1.7])
    floor, top = stage, stage + np.array([0.0, -2.3, 0.0])  # floor to 2.3 m: a raised hand's height
    assert 0 < camera.project(top)[0] < camera.project(floor)[0] < 56


SMALL = SyntheticConfig(subjects=3, val_subjects=(3,), actions=("squat", "jumping_jack"), frames=5, window=2)


@pytest.fixture(scope="module")
def with_densepose() -> SyntheticCsiDataset:
    return SyntheticCsiDataset(SyntheticConfig(**{**SMALL.__dict__, "densepose": True, "densepose_size": 32}))


def test_the_dataset_sample_carries_densepose(with_densepose: SyntheticCsiDataset) -> None:
    ds = with_densepose
    assert ds.densepose_parts is not None and ds.densepose_parts.shape == (len(ds), 32, 32)
    for i in range(len(ds)):
        iuv = ds[i]["densepose"]
        assert iuv.dtype == np.float32 and iuv.shape == (3, 32, 32)
        fg = iuv[0] > 0
        assert 20 < fg.sum() < 0.6 * 32 * 32
        assert np.array_equal(iuv[0], np.round(iuv[0])) and iuv[0].max() <= 24
        assert np.all(iuv[1:, ~fg] == 0) and iuv[1:, fg].min() >= 0 and iuv[1:, fg].max() <= 1
    # the stored label is the renderer's, U and V to within the uint8 step
    seq_row = int(ds.label_index[0])
    camera = stage_camera(np.array([0.0, 1.2, 2.3]), 32)
    img = render_iuv(ds.persons[seq_row].astype(np.float64), camera)
    assert np.mean(img.parts == ds[0]["densepose"][0]) > 0.99
    same = img.parts == ds[0]["densepose"][0]
    assert np.abs(img.u[same] - ds[0]["densepose"][1][same]).max() <= 1 / 510 + 1e-6


def test_densepose_leaves_every_other_array_bit_identical(with_densepose: SyntheticCsiDataset) -> None:
    plain = SyntheticCsiDataset(SMALL)
    assert len(plain) == len(with_densepose)
    for i in (0, 3, len(plain) - 1):
        a, b = plain[i], with_densepose[i]
        assert set(b) == set(a) | {"densepose"}
        for key in a:
            assert np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes(), key
    again = SyntheticCsiDataset(with_densepose.config)
    assert np.array_equal(again.densepose_parts, with_densepose.densepose_parts)
    assert np.array_equal(again.densepose_uv, with_densepose.densepose_uv)


def test_collate_stacks_densepose(with_densepose: SyntheticCsiDataset) -> None:
    batch = collate([with_densepose[i] for i in range(3)])
    assert tuple(batch["densepose"].shape) == (3, 3, 32, 32)
    assert np.array_equal(batch["densepose"][1].numpy(), with_densepose[1]["densepose"])


def test_scenes_of_several_people_render_them_all_and_collate_with_a_person_axis() -> None:
    config = SyntheticConfig(subjects=3, val_subjects=(3,), actions=("wave",), frames=4, people=(2, 3),
                             densepose=True, densepose_size=40)
    ds = SyntheticCsiDataset(config)
    people, counts = ds.label_people()
    camera = stage_camera(np.array([0.0, 1.2, 2.3]), 40)
    seen = []
    for i in range(len(ds)):
        img = render_iuv(people[i, : counts[i]].astype(np.float64), camera)
        assert np.mean(img.parts == ds[i]["densepose"][0]) > 0.99
        alone = render_iuv(people[i, :1].astype(np.float64), camera)
        seen.append(len(set(np.unique(img.person).tolist()) - {-1}))
        assert (img.person == 0).sum() <= (alone.person == 0).sum()  # others may hide the subject, never add
    assert max(seen) >= 2  # bystanders beside and in front of the subject are rendered too
    batch = collate([ds[i] for i in range(len(ds))])
    assert tuple(batch["densepose"].shape) == (len(ds), 3, 40, 40) and "person_mask" in batch


def test_unlabelled_bystanders_are_rendered_too() -> None:
    config = SyntheticConfig(subjects=3, val_subjects=(3,), actions=("wave",), frames=3, persons=3,
                             densepose=True, densepose_size=40)
    ds = SyntheticCsiDataset(config)
    camera = stage_camera(np.array([0.0, 1.2, 2.3]), 40)
    seen = set()
    for i in range(len(ds)):
        everyone = render_iuv(ds[i]["persons"].astype(np.float64), camera)
        assert np.mean(everyone.parts == ds[i]["densepose"][0]) > 0.99
        seen |= set(np.unique(everyone.person).tolist())
    assert {0, 1, 2} <= seen


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"densepose": 1}, "densepose: expected true or false"),
        ({"densepose_size": 4}, "densepose_size: expected an integer in 8..512"),
        ({"densepose_size": 56.0}, "densepose_size: expected an integer"),
    ],
)
def test_bad_densepose_settings_name_the_key(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SyntheticConfig(**change)  # type: ignore[arg-type]


def reference_render(joints: np.ndarray, camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The renderer written plainly: every pixel against every solid of every person, one at a time.

    Placement (the solids' frames) comes from the renderer; the ray casting here enumerates
    each solid's candidate surface points (side roots within the bone, cap-plane points within
    the radius, sphere roots) in the solid's own coordinates and keeps the nearest in front.
    Returns ``(parts uint8[H, W], u float64[H, W], v float64[H, W])``.
    """
    from csipose.densepose import render as r

    rel = np.asarray(joints, np.float64) - camera.centre
    g = r._solids(rel, r.body_scale(rel))
    size = camera.size
    parts, u_img, v_img = np.zeros((size, size), np.uint8), np.zeros((size, size)), np.zeros((size, size))
    for index, d in enumerate(camera.rays()):
        best = (np.inf, 0, 0.0, 0.0)
        for p in range(rel.shape[0]):
            for k in range(len(r._KIND)):
                o, axis, zero, side = g.origin[p, k], g.axis[p, k], g.zero[p, k], g.side[p, k]
                rad, length = g.radius[p, k], g.length[p, k]
                basis = np.stack([zero, side, axis])  # local x, y, z
                lo, ld = basis @ (-o), basis @ d  # the ray in the solid's coordinates
                found = []  # (t, local point, cap)
                if r._KIND[k] == r._CYLINDER:
                    a2 = ld[0] ** 2 + ld[1] ** 2
                    b2 = 2 * (lo[0] * ld[0] + lo[1] * ld[1])
                    c2 = lo[0] ** 2 + lo[1] ** 2 - rad**2
                    if a2 > 0 and b2 * b2 - 4 * a2 * c2 >= 0:
                        for sign in (-1.0, 1.0):
                            t = (-b2 + sign * np.sqrt(b2 * b2 - 4 * a2 * c2)) / (2 * a2)
                            if 0 <= lo[2] + t * ld[2] <= length:
                                found.append((t, lo + t * ld, 0))
                    if ld[2] != 0:
                        for cap, plane in ((1, 0.0), (2, length)):
                            t = (plane - lo[2]) / ld[2]
                            q = lo + t * ld
                            if q[0] ** 2 + q[1] ** 2 <= rad**2:
                                found.append((t, q, cap))
                else:
                    a2, b2, c2 = ld @ ld, 2 * lo @ ld, lo @ lo - rad**2
                    if b2 * b2 - 4 * a2 * c2 >= 0:
                        for sign in (-1.0, 1.0):
                            t = (-b2 + sign * np.sqrt(b2 * b2 - 4 * a2 * c2)) / (2 * a2)
                            found.append((t, lo + t * ld, 0))
                found = [f for f in found if f[0] > 0]
                if not found:
                    continue
                t, q, cap = min(found, key=lambda f: f[0])
                if t >= best[0]:
                    continue
                if r._KIND[k] == r._CYLINDER:  # angle from the left edge (local x) through either half
                    u = np.arccos(np.clip(q[0] / np.hypot(q[0], q[1]), -1, 1)) / np.pi
                    v = {0: q[2] / length, 1: 0.0, 2: 1.0}[cap]
                    part = r._FIRST_PART[k] if q[1] >= 0 else r._SECOND_PART[k]
                elif r._KIND[k] == r._SPHERE:
                    u = (np.arctan2(q[1], q[0]) % (2 * np.pi)) / (2 * np.pi)
                    v = np.arccos(np.clip(q[2] / rad, -1, 1)) / np.pi
                    part = r._FIRST_PART[k]
                else:  # head: from the front (local x) round either side; right half where left < 0
                    u = np.arccos(np.clip(q[0] / np.hypot(q[0], q[1]), -1, 1)) / np.pi
                    v = np.arccos(np.clip(q[2] / rad, -1, 1)) / np.pi
                    part = r._FIRST_PART[k] if q[1] < 0 else r._SECOND_PART[k]
                best = (t, int(part), u, v)
        row, col = divmod(index, size)
        parts[row, col], u_img[row, col], v_img[row, col] = best[1], best[2], best[3]
    return parts, u_img, v_img


@given(
    shift=st.lists(st.floats(-0.04, 0.04), min_size=51, max_size=51),
    camera_xy=st.tuples(st.floats(-0.6, 0.6), st.floats(-0.6, 0.6)),
    distance=st.sampled_from([0.2, 0.5, 1.5, 3.0]),
    second=st.booleans(),
)
def test_the_renderer_matches_the_plainly_written_reference(
    shift: list[float], camera_xy: tuple[float, float], distance: float, second: bool
) -> None:
    """Random poses (each joint moved up to 4 cm), one or two people, cameras from 20 cm (solids'
    bounding spheres reaching behind the camera) to 3 m in front of the body."""
    joints = standing(0.0, 3.0) + np.asarray(shift).reshape(17, 3)
    people = np.stack([joints, standing(0.4, 3.6)]) if second else joints[None]
    camera = PinholeCamera(np.array([camera_xy[0], camera_xy[1], 3.0 - distance]), fov_deg=60.0, size=16)
    img = render_iuv(people, camera)
    parts, u, v = reference_render(people, camera)
    same = img.parts == parts
    assert (~same).sum() <= 1  # a ray grazing a silhouette may go either way
    assert np.abs(img.u[same] - u[same]).max(initial=0.0) < 1e-5
    assert np.abs(img.v[same] - v[same]).max(initial=0.0) < 1e-5
