"""The model zoo: shapes for every MM-Fi layout, optional heads, parameter budgets, normalisation, readout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csipose.errors import ConfigError, ShapeError
from csipose.models import MODELS, build_model, count_parameters, parameter_table


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize(("w", "c", "s"), [(1, 3, 114), (1, 6, 56), (3, 6, 56), (2, 3, 30)])
def test_keypoint_shapes_for_windows_channels_and_subcarriers(name: str, w: int, c: int, s: int) -> None:
    torch.manual_seed(0)
    model = build_model(model=name, shape=(w, c, s, 10), groups=c // 3)
    out = model(torch.randn(2, w, c, s, 10))
    assert out["keypoints"].shape == (2, 17, 3)
    assert out["features"].shape == (2, model.backbone.features)
    assert torch.isfinite(out["keypoints"]).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_optional_heads_and_2d_output(name: str) -> None:
    model = build_model(model=name, shape=(1, 3, 114, 10), dims=2, heatmap_size=24, densepose_parts=24, densepose_size=16)
    out = model(torch.randn(3, 1, 3, 114, 10))
    assert out["keypoints"].shape == (3, 17, 2)
    assert out["heatmap"].shape == (3, 17, 24, 24)
    assert out["dp_parts"].shape == (3, 25, 16, 16)
    assert out["dp_uv"].shape == (3, 48, 16, 16)
    uv = out["dp_uv"].detach()
    assert float(uv.min()) >= 0.0 and float(uv.max()) <= 1.0


@pytest.mark.parametrize("name", list(MODELS))
def test_every_zoo_model_is_under_a_million_parameters_and_every_parameter_learns(name: str) -> None:
    model = build_model(model=name, shape=(1, 6, 114, 10), groups=2, heatmap_size=32, densepose_parts=24,
                        densepose_size=16)
    bare = build_model(model=name, shape=(1, 6, 114, 10), groups=2)
    assert 10_000 < count_parameters(bare) < 1_000_000
    out = model(torch.randn(2, 1, 6, 114, 10))
    loss = (out["keypoints"] - 1).square().sum() + out["heatmap"].sum() + out["dp_parts"].sum() + out["dp_uv"].sum()
    loss.backward()
    # the regressors start at (or near) zero, so their inputs learn from the second step on: take one
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    model.zero_grad()
    out = model(torch.randn(2, 1, 6, 114, 10))
    ((out["keypoints"] - 1).square().sum() + out["heatmap"].sum() + out["dp_parts"].sum() + out["dp_uv"].sum()).backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert silent == []
    table = parameter_table(model)
    assert table.splitlines()[-1].split()[-1] == f"{count_parameters(model):,}"


@pytest.mark.parametrize("name", list(MODELS))
def test_mean_pose_plus_readout_is_the_starting_prediction(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(model=name, shape=(1, 3, 114, 10)).eval()
    pose = torch.linspace(-1, 1, 51).reshape(17, 3)
    model.set_mean_pose(pose)
    x = torch.randn(4, 1, 3, 114, 10)
    weight = torch.randn(3 * 114 * 10, 51).numpy() * 1e-3
    model.readout.load(weight, np.zeros(51))
    linear = (x.reshape(4, -1) @ torch.from_numpy(weight).float()).reshape(4, 17, 3)
    out = model(x)["keypoints"]
    # the backbone's regressor starts at (or within millimetres of) zero
    assert torch.allclose(out, pose + linear, atol=0.02)
    assert {"mean_pose", "norm.mean", "norm.scale", "readout.weight"} <= set(model.state_dict())


def test_input_norm_standardises_every_feature_and_keeps_constant_ones_finite() -> None:
    model = build_model(shape=(2, 3, 8, 4))
    rng = np.random.default_rng(0)
    csi = rng.normal(5.0, 3.0, size=(50, 2, 3, 8, 4)).astype(np.float32)
    csi[:, :, 1, 2, :] = 7.0  # a constant feature
    model.norm.fit(csi)
    z = model.norm(torch.from_numpy(csi)).numpy().reshape(-1, 3, 8, 4)
    varying = np.ones((3, 8, 4), dtype=bool)
    varying[1, 2, :] = False
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(z.std(axis=0)[varying], 1.0, atol=1e-4)
    assert np.all(z[:, ~varying] == 0.0)


def test_wrong_input_shape_is_a_shape_error() -> None:
    model = build_model(shape=(1, 3, 114, 10))
    with pytest.raises(ShapeError, match=r"csi: expected \[B, 1, 3, 114, 10\]"):
        model(torch.randn(2, 1, 6, 114, 10))
    with pytest.raises(ShapeError):
        model(torch.randn(2, 3, 114, 10))


def test_unknown_model_and_bad_groups_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="model: must be one of tcn, csinet, mlp, cnn"):
        build_model(model="resnet", shape=(1, 3, 114, 10))
    with pytest.raises(ConfigError, match="groups = 2"):
        build_model(shape=(1, 3, 114, 10), groups=2)
