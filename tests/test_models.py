"""The compact model: shapes for every MM-Fi layout, optional heads, parameter budget."""

from __future__ import annotations

import pytest
import torch

from csipose import TrainingConfig
from csipose.errors import ShapeError
from csipose.models import CsiPoseNet, build_model, count_parameters, parameter_table


@pytest.mark.parametrize(("w", "c", "s"), [(1, 3, 114), (1, 6, 56), (3, 3, 56), (4, 6, 114), (1, 3, 30)])
def test_keypoint_shapes_for_windows_channels_and_subcarriers(w: int, c: int, s: int) -> None:
    torch.manual_seed(0)
    model = CsiPoseNet(channels=c)
    out = model(torch.randn(2, w, c, s, 10))
    assert out["keypoints"].shape == (2, 17, 3)
    assert out["features"].shape == (2, 64)
    assert torch.isfinite(out["keypoints"]).all()


def test_optional_heads_and_2d_output() -> None:
    model = CsiPoseNet(channels=3, dims=2, heatmap_size=24, densepose_parts=24)
    out = model(torch.randn(3, 1, 3, 114, 10))
    assert out["keypoints"].shape == (3, 17, 2)
    assert out["heatmap"].shape == (3, 17, 24, 24)
    assert out["dp_parts"].shape == (3, 25, 16, 16)
    assert out["dp_uv"].shape == (3, 48, 16, 16)
    uv = out["dp_uv"].detach()
    assert float(uv.min()) >= 0.0 and float(uv.max()) <= 1.0


def test_default_model_is_compact_and_every_parameter_learns() -> None:
    cfg = TrainingConfig(heatmap=True, densepose=True)
    for config, channels in ((TrainingConfig(), 3), (TrainingConfig(), 6), (cfg, 6)):
        model = build_model(config, channels=channels)
        assert 10_000 < count_parameters(model) < 1_000_000
    model = build_model(cfg, channels=6)
    out = model(torch.randn(2, 1, 6, 114, 10))
    loss = out["keypoints"].square().sum() + out["heatmap"].sum() + out["dp_parts"].sum() + out["dp_uv"].sum()
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert silent == []
    table = parameter_table(model)
    assert table.splitlines()[-1].split()[-1] == f"{count_parameters(model):,}"


def test_mean_pose_is_the_starting_prediction() -> None:
    torch.manual_seed(0)
    model = CsiPoseNet(channels=3)
    pose = torch.linspace(-1, 1, 51).reshape(17, 3)
    model.set_mean_pose(pose)
    out = model(torch.randn(4, 1, 3, 114, 10))["keypoints"]
    # the regressor starts near zero, so the first outputs sit within millimetres of the mean pose
    assert torch.allclose(out, pose.expand(4, -1, -1), atol=0.02)
    assert "mean_pose" in model.state_dict()


def test_wrong_input_shape_is_a_shape_error() -> None:
    model = CsiPoseNet(channels=3)
    with pytest.raises(ShapeError, match=r"csi: expected \[B, W, 3, S, 10\]"):
        model(torch.randn(2, 1, 6, 114, 10))
    with pytest.raises(ShapeError):
        model(torch.randn(2, 3, 114, 10))


def test_model_fits_a_small_batch() -> None:
    """Optimisation works end to end: 64 frames whose CSI encodes the pose are fitted."""
    from tests.test_train import PoseCsi

    data = PoseCsi(64, 0)
    csi, kp = torch.from_numpy(data.csi), torch.from_numpy(data.kp)
    torch.manual_seed(0)
    model = CsiPoseNet(channels=3, width=32, depth=1, heads=2, tokens=4)
    model.set_mean_pose(kp.mean(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = (model(csi)["keypoints"] - kp).square().sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
