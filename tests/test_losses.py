"""Losses on tiny inputs whose values are computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from csipose.errors import ArgumentError, ShapeError
from csipose.losses import (
    MultiTaskLoss,
    bone_length_loss,
    densepose_part_loss,
    densepose_uv_loss,
    gaussian_heatmaps,
    heatmap_loss,
    keypoint_loss,
    oks_loss,
    transfer_loss,
)


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    gt = torch.zeros(1, 2, 3)
    pred = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]]])
    return pred, gt


def test_keypoint_mse_sums_coordinates_and_averages_visible_joints() -> None:
    pred, gt = _pair()
    # joint 0: 1 + 4 = 5; joint 1: 9 -> mean 7
    assert keypoint_loss(pred, gt, kind="mse").item() == pytest.approx(7.0)
    # only joint 1 visible -> 9
    vis = torch.tensor([[0.0, 1.0]])
    assert keypoint_loss(pred, gt, vis, kind="mse").item() == pytest.approx(9.0)


def test_keypoint_smooth_l1_switches_at_beta() -> None:
    pred, gt = _pair()
    # beta = 1.5: |1| -> 0.5 * 1 / 1.5 = 1/3; |2| -> 2 - 0.75 = 1.25; |3| -> 2.25
    got = keypoint_loss(pred, gt, kind="smooth_l1", beta=1.5).item()
    assert got == pytest.approx(((1 / 3 + 1.25) + 2.25) / 2)


def test_masked_loss_with_nothing_visible_is_zero_with_gradient() -> None:
    pred, gt = _pair()
    pred.requires_grad_(True)
    loss = keypoint_loss(pred, gt, torch.zeros(1, 2))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None and torch.all(pred.grad == 0)


def test_keypoint_loss_rejects_bad_input() -> None:
    pred, gt = _pair()
    with pytest.raises(ShapeError, match="pred/gt"):
        keypoint_loss(pred, gt[:, :1])
    with pytest.raises(ShapeError, match="visible"):
        keypoint_loss(pred, gt, torch.ones(1, 3))
    with pytest.raises(ArgumentError, match="kind"):
        keypoint_loss(pred, gt, kind="l3")


def test_bone_length_counts_bones_with_both_ends_visible() -> None:
    gt = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0], [1.0, 1, 0]]])  # bones 0-1 len 1, 1-2 len 1
    pred = torch.tensor([[[0.0, 0, 0], [3.0, 0, 0], [3.0, 2, 0]]])  # lens 3 and 2
    bones = ((0, 1), (1, 2))
    assert bone_length_loss(pred, gt, bones=bones).item() == pytest.approx((2 + 1) / 2)
    vis = torch.tensor([[1.0, 1.0, 0.0]])  # bone 1-2 drops out
    assert bone_length_loss(pred, gt, vis, bones=bones).item() == pytest.approx(2.0)
    # a rigid translation keeps every bone length
    assert bone_length_loss(gt + 5.0, gt, bones=bones).item() == pytest.approx(0.0, abs=1e-6)


def test_gaussian_heatmap_peaks_at_the_joint_cell() -> None:
    # extent 1, size 4 -> cells of 0.5 m with centres -0.75, -0.25, 0.25, 0.75
    xy = torch.tensor([[[0.25, -0.75]]])
    maps = gaussian_heatmaps(xy, size=4, extent=1.0, sigma=1.0)
    assert maps.shape == (1, 1, 4, 4)
    assert maps[0, 0, 0, 2].item() == pytest.approx(1.0)  # row = y index 0, column = x index 2
    assert maps[0, 0, 0, 3].item() == pytest.approx(math.exp(-0.5))  # one cell away
    assert maps[0, 0, 1, 3].item() == pytest.approx(math.exp(-1.0))


def test_heatmap_mse_over_visible_maps() -> None:
    target = torch.zeros(1, 2, 2, 2)
    pred = torch.zeros(1, 2, 2, 2)
    pred[0, 0, 0, 0] = 2.0  # map 0: mse 4/4 = 1
    pred[0, 1] = 3.0  # map 1: mse 9
    assert heatmap_loss(pred, target).item() == pytest.approx(5.0)
    assert heatmap_loss(pred, target, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1.0)


def test_oks_loss_matches_the_coco_formula() -> None:
    gt = torch.zeros(1, 2, 3)
    pred = torch.zeros(1, 2, 3)
    pred[0, 0, 0] = 0.1  # d^2 = 0.01 on joint 0; joint 1 exact
    sigmas = [0.05, 0.05]
    area = torch.tensor([1.0])
    k2 = (2 * 0.05) ** 2
    oks = (math.exp(-0.01 / (2 * 1.0 * k2)) + 1.0) / 2
    assert oks_loss(pred, gt, sigmas=sigmas, areas=area).item() == pytest.approx(1 - oks)
    # a perfect prediction scores OKS 1 -> loss 0; the default area comes from the GT box
    gt2 = torch.tensor([[[0.0, 0.0, 0.0], [2.0, 3.0, 1.0]]])
    assert oks_loss(gt2, gt2, sigmas=sigmas).item() == pytest.approx(0.0)
    # frames without a visible joint are not scored
    assert oks_loss(pred, gt, torch.zeros(1, 2), sigmas=sigmas, areas=area).item() == 0.0


def test_densepose_part_ce_and_uv_on_foreground() -> None:
    logits = torch.zeros(1, 3, 1, 2)  # K = 2 parts + background, uniform logits
    parts = torch.tensor([[[0, 2]]])
    assert densepose_part_loss(logits, parts).item() == pytest.approx(math.log(3))
    uv = torch.zeros(1, 4, 1, 2)
    uv[0, 2, 0, 1] = 0.5  # U of part 2 at the foreground pixel
    uv[0, 3, 0, 1] = 0.25  # V of part 2
    uv[0, :, 0, 0] = 9.0  # background pixel: ignored
    target = torch.zeros(1, 2, 1, 2)
    # beta 0.1: |0.5| -> 0.45, |0.25| -> 0.2; summed over U, V on the one foreground pixel
    assert densepose_uv_loss(uv, target, parts, beta=0.1).item() == pytest.approx(0.65)


def test_transfer_mse_does_not_train_the_teacher() -> None:
    teacher = torch.tensor([[1.0, 3.0]], requires_grad=True)
    student = torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss = transfer_loss(student, teacher)
    loss.backward()
    assert loss.item() == pytest.approx(5.0)
    assert teacher.grad is None and student.grad is not None


def test_multitask_weights_terms_and_skips_zero_weights() -> None:
    combine = MultiTaskLoss({"keypoints": 2.0, "bone": 0.5, "oks": 0.0})
    total, parts = combine({"keypoints": torch.tensor(3.0), "bone": torch.tensor(4.0)})
    assert total.item() == pytest.approx(8.0)
    assert set(parts) == {"keypoints", "bone"} and parts["bone"].item() == 4.0
    with pytest.raises(ArgumentError, match="missing"):
        combine({"keypoints": torch.tensor(1.0)})
    with pytest.raises(ArgumentError):
        MultiTaskLoss({"keypoints": 0.0})
