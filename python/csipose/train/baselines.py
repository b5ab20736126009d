"""Fitting a model's input normalisation and ridge readout, and the baselines every run reports.

Before the first step of a run, :func:`fit_model_inputs` reads (up to ``baseline_samples``
evenly spaced) training windows once and

- fits the model's :class:`~csipose.models.InputNorm`;
- fits a :class:`~csipose.ridge.RidgeRegression` from the flattened normalised window to the
  joints' offsets from the mean pose, with the regularisation and the weight of each channel
  group (amplitude, phase) chosen on held-out training subjects; it becomes the model's fixed
  linear readout (when the model has one) and the run's linear baseline. With person slots,
  slot ``k``'s joints are fitted on the samples that have a ``k``-th person, and the slots'
  presences on every sample.

The two baselines, scored on the validation split with the locked harness:

- ``mean_pose_baseline``: the training-set mean pose predicted for every sample;
- ``linear_baseline``: that ridge regression's predictions.

With the DensePose head the mean-pose baseline also carries ``densepose``: the scores of the
mean IUV image (:func:`mean_iuv`) predicted for every sample.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from csipose.models import PoseModel
from csipose.ridge import RidgeRegression
from csipose.train.data import sample_anchors, slot_presence

__all__ = [
    "baseline_reports",
    "collect",
    "densepose_baseline",
    "fit_linear_baseline",
    "fit_model_inputs",
    "mean_iuv",
    "people_baseline_reports",
    "people_targets",
    "spread",
]

_CHUNK = 512


def _chunks(dataset: Any, indices: np.ndarray) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(indices), _CHUNK):
        part = [int(i) for i in indices[start : start + _CHUNK]]
        if hasattr(dataset, "__getitems__"):
            yield dataset.__getitems__(part)
        else:
            yield [dataset[i] for i in part]


def collect(dataset: Any, indices: np.ndarray, *, keys: tuple[str, ...] = ("csi", "keypoints")
            ) -> dict[str, np.ndarray]:
    """The samples ``indices`` of ``dataset`` stacked per key (``csi: float32[n, W, C, S, P]``, ...).

    ``"subject"`` is included when the samples carry it.
    """
    out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    subjects: list[np.ndarray] = []
    for samples in _chunks(dataset, indices):
        for key in keys:
            out[key].append(np.stack([np.asarray(s[key]) for s in samples]))
        if all("subject" in s for s in samples):
            subjects.append(np.asarray([int(s["subject"]) for s in samples]))
    stacked = {k: np.concatenate(v) for k, v in out.items()}
    if subjects and sum(len(s) for s in subjects) == len(indices):
        stacked["subject"] = np.concatenate(subjects)
    return stacked


def spread(n: int, limit: int) -> np.ndarray:
    """``int64[min(n, limit)]``: evenly spaced indices of ``0..n-1`` (all of them when ``n <= limit``)."""
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _normalised(model: PoseModel, csi: np.ndarray) -> np.ndarray:
    """``float64[n, W*C*S*P]``: ``csi`` through the model's fitted input normalisation."""
    mean = model.norm.mean.detach().cpu().numpy().astype(np.float64)
    scale = model.norm.scale.detach().cpu().numpy().astype(np.float64)
    return ((np.asarray(csi, dtype=np.float64) - mean) / scale).reshape(len(csi), -1)


def fit_model_inputs(model: PoseModel, train_set: Any, *, samples: int, fit_ridge: bool) -> dict[str, Any]:
    """Fits ``model``'s normalisation (and ridge readout); returns the ridge's description.

    Args:
        model: a fresh model whose mean pose is already set.
        train_set: the training dataset.
        samples: at most this many evenly spaced training samples are read.
        fit_ridge: fit the ridge regression (for the readout and/or the linear baseline).

    Returns:
        ``{"ridge": RidgeRegression | None, "samples": n, "seconds": s}``.
    """
    started = time.perf_counter()
    index = spread(len(train_set), samples)
    data = collect(train_set, index, keys=("csi",) if model.persons else ("csi", "keypoints"))
    model.norm.fit(data["csi"])
    ridge = None
    if fit_ridge:
        ridge = _fit_ridge(model, train_set, index, data)
        if model.readout is not None:
            k = model.readout.weight.shape[1]  # with person slots, the presence columns are the baseline's alone
            model.readout.load(ridge.weight[:, :k], ridge.bias[:k])
    return {"ridge": ridge, "samples": int(len(data["csi"])), "seconds": time.perf_counter() - started}


def fit_linear_baseline(model: PoseModel, train_set: Any, *, samples: int) -> RidgeRegression:
    """The ridge regression of a trained ``model``'s run's linear baseline, fitted again as
    :func:`fit_model_inputs` fitted it (on the model's fitted normalisation; the model is not
    changed): for a model without a readout, whose checkpoint does not keep the ridge."""
    index = spread(len(train_set), samples)
    return _fit_ridge(model, train_set, index, collect(train_set, index, keys=("csi",) if model.persons else
                                                            ("csi", "keypoints")))


def _fit_ridge(model: PoseModel, train_set: Any, index: np.ndarray, data: dict[str, np.ndarray]) -> RidgeRegression:
    """The ridge from ``model``'s normalised windows ``data["csi"]`` (the samples ``index`` of
    ``train_set``, as :func:`collect` gives them) to the joints' offsets from its mean pose."""
    x = _normalised(model, data["csi"])
    dims = model.dims
    mean = model.mean_pose.detach().cpu().numpy().astype(np.float64)
    w, c, s, p = model.shape
    groups = int(model.settings.get("groups", 1))
    column_groups = np.broadcast_to((np.arange(c) // (c // groups))[None, :, None, None], (w, c, s, p)).ravel()
    if model.persons:
        y = people_targets(train_set, index, model.persons, mean)
        return _fit_slots(x, y, model.persons, holdout_groups=data.get("subject"), column_groups=column_groups)
    y = data["keypoints"][..., :dims].astype(np.float64) - mean
    if model.anchor:  # the joints relative to each window's link anchor
        y = y - sample_anchors(train_set, index)[:, None, :dims]
    return RidgeRegression.fit(x, y.reshape(len(x), -1), holdout_groups=data.get("subject"),
                               column_groups=column_groups, standardize=False)


def people_targets(dataset: Any, index: np.ndarray, slots: int, mean: np.ndarray) -> np.ndarray:
    """``float64[n, S*J*D + S]``: the ridge targets of a set prediction: the dataset's ``k``-th
    person of each sample, as offsets from the mean pose, for slot ``k`` (0 where absent), then
    each slot's presence (1 or 0)."""
    people, counts = dataset.label_people()
    people, counts = people[index][:, :slots], counts[index]
    present = slot_presence(counts, slots)
    if people.shape[1] < slots:
        people = np.concatenate([people, np.zeros((len(people), slots - people.shape[1], *people.shape[2:]))], axis=1)
    offsets = np.where(present[..., None, None], people[..., : mean.shape[-1]] - mean, 0.0)
    return np.concatenate([offsets.reshape(len(index), -1), present.astype(np.float64)], axis=1)


def _fit_slots(x: np.ndarray, y: np.ndarray, slots: int, *, holdout_groups: np.ndarray | None,
               column_groups: np.ndarray) -> RidgeRegression:
    """The ridge of a set prediction (targets ``y`` as :func:`people_targets`): slot ``k``'s joints
    fitted on the samples where the ``k``-th person is present only (a zero target for an absent
    person would pull the slot towards the mean pose), the presences on every sample; one
    :class:`RidgeRegression` of all columns, whose ``alpha`` and ``group_weights`` are the first
    slot's and ``holdout_mse`` the mean over the fits, weighted by their columns. Blocks fitted on
    the same samples (e.g. every slot of scenes of one count, and the presences) share one
    :meth:`RidgeRegression.fit_blocks`."""
    per = (y.shape[1] - slots) // slots
    present = y[:, slots * per :] > 0.5
    blocks = [(present[:, k], slice(k * per, (k + 1) * per)) for k in range(slots)]
    blocks.append((np.ones(len(x), dtype=bool), slice(slots * per, None)))
    sharing: dict[bytes, list[int]] = {}  # the blocks of each set of samples (a slot needs 2 to be fitted)
    for i, (rows, _) in enumerate(blocks):
        if i == slots or rows.sum() >= 2:
            sharing.setdefault(rows.tobytes(), []).append(i)
    fits: dict[int, RidgeRegression] = {}
    for same in sharing.values():
        rows = blocks[same[0]][0]
        groups = None if holdout_groups is None else holdout_groups[rows]
        found = RidgeRegression.fit_blocks(x if rows.all() else x[rows], [y[rows, blocks[i][1]] for i in same],
                                           holdout_groups=groups, column_groups=column_groups, standardize=False)
        fits.update(zip(same, found))
    presence, slot_fits = fits[slots], [fits.get(k) for k in range(slots)]
    weight = np.concatenate([f.weight if f else np.zeros((x.shape[1], per)) for f in slot_fits] + [presence.weight], axis=1)
    bias = np.concatenate([f.bias if f else np.zeros(per) for f in slot_fits] + [presence.bias])
    fitted = [(f.holdout_mse, per) for f in slot_fits if f] + [(presence.holdout_mse, slots)]
    mse = sum(m * k for m, k in fitted) / sum(k for _, k in fitted)
    first = slot_fits[0] or presence
    return dataclasses.replace(presence, weight=weight, bias=bias, alpha=first.alpha, group_weights=first.group_weights,
                               holdout_mse=float(mse))


@torch.no_grad()
def people_baseline_reports(model: PoseModel, ridge: RidgeRegression | None, train_set: Any, val_set: Any,
                            score: Any) -> dict[str, Any]:
    """The baselines of a set prediction on every val sample, scored by ``score(persons, presence,
    gt, visible, mask)``: ``mean_pose_baseline`` puts the training set's most common count of
    people at the mean pose; ``linear_baseline`` is the ridge regression's slots and presences."""
    s = model.persons
    mean = model.mean_pose.detach().cpu().numpy().astype(np.float64)
    j, d = mean.shape
    people, counts = val_set.label_people()
    n = len(people)
    gt = np.zeros((n, s, j, people.shape[-1]))
    gt[:, : people.shape[1]] = np.nan_to_num(people[:, :s])
    mask = np.arange(s)[None] < counts[:, None]
    visible = np.broadcast_to(mask[..., None], mask.shape + (j,)).astype(np.float64)
    usual = int(np.bincount(train_set.label_people()[1]).argmax())
    constant = np.broadcast_to(mean, (n, s, j, d))
    presence = np.broadcast_to((np.arange(s) < usual).astype(np.float64), (n, s))
    reports = {"mean_pose_baseline": dict(score(constant, presence, gt, visible, mask).to_dict())}
    if ridge is not None:
        y = np.concatenate([ridge.predict(_normalised(model, np.stack([np.asarray(val_set[i]["csi"]) for i in part])))
                            for part in np.array_split(np.arange(n), max(1, n // _CHUNK))])
        persons = y[:, : s * j * d].reshape(n, s, j, d) + mean
        linear = dict(score(persons, np.clip(y[:, s * j * d :], 0.0, 1.0), gt, visible, mask).to_dict())
        linear["fit"] = {"alpha": ridge.alpha, "group_weights": list(ridge.group_weights),
                         "holdout_mse": ridge.holdout_mse}
        reports["linear_baseline"] = linear
    return reports


@torch.no_grad()
def baseline_poses(model: PoseModel, dataset: Any, index: np.ndarray | None = None, *,
                   ridge: RidgeRegression | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mean, linear)``, each ``float64[n, J, D]`` on the windows ``index`` of ``dataset`` (all
    by default): the model's mean pose, and the linear baseline: ``ridge`` (as
    :func:`fit_model_inputs` fits it) on the normalised window, or without it the model's
    closed-form ridge readout alone, each added to the mean pose (None for a model without a
    readout and no ``ridge``). An anchored model's are placed on each window's link anchor, as
    its joints are."""
    index = np.arange(len(dataset)) if index is None else np.asarray(index)
    mean = model.mean_pose.detach().cpu().numpy().astype(np.float64)
    constant = np.broadcast_to(mean, (len(index), *mean.shape)).copy()
    linear = None
    if ridge is not None or model.readout is not None:
        parts = []
        for samples in _chunks(dataset, index):
            csi = np.stack([np.asarray(s["csi"], np.float32) for s in samples])
            if ridge is not None:
                parts.append(ridge.predict(_normalised(model, csi)).reshape(len(csi), *mean.shape) + mean)
            else:
                parts.append((model.mean_pose + model.readout(model.norm(torch.from_numpy(csi)))).numpy())
        linear = np.concatenate(parts).astype(np.float64)
    if model.anchor:
        placed = sample_anchors(dataset, index)[:, None, : mean.shape[-1]]
        constant = constant + placed
        linear = None if linear is None else linear + placed
    return constant, linear


@torch.no_grad()
def baseline_reports(model: PoseModel, ridge: RidgeRegression | None, val_set: Any, score: Any,
                     *, domains: Any = None) -> dict[str, Any]:
    """``{"mean_pose_baseline": report, "linear_baseline": report}`` on every val sample.

    The mean pose is the model's (the training set's); the linear baseline is ``ridge``'s
    predictions (left out when ``ridge`` is None); an anchored model's are placed on each val
    sample's link anchor, as the model's joints are. ``score(pred, gt, visible)`` is the locked harness.
    With ``domains`` (a :class:`~csipose.train.domains.DomainSplit` of ``val_set``) each report
    also carries ``"domains"``: its in-domain and cross-domain reports.
    """
    mean = model.mean_pose.detach().cpu().numpy().astype(np.float64)
    preds, gts, vis = [], [], []
    for samples in _chunks(val_set, np.arange(len(val_set))):
        gts.append(np.stack([np.asarray(s["keypoints"]) for s in samples]))
        vis.append(np.stack([np.asarray(s["visibility"]) for s in samples]))
        if ridge is not None:
            csi = np.stack([np.asarray(s["csi"]) for s in samples])
            preds.append(ridge.predict(_normalised(model, csi)).reshape(len(csi), *mean.shape) + mean)
    gt, visible = np.concatenate(gts), np.concatenate(vis)
    constant = np.ascontiguousarray(np.broadcast_to(mean[None], gt[..., : mean.shape[-1]].shape))
    linear = np.concatenate(preds) if ridge is not None else None
    if model.anchor:
        placed = sample_anchors(val_set)[:, None, : mean.shape[-1]]
        constant = constant + placed
        linear = None if linear is None else linear + placed
    reports = {"mean_pose_baseline": dict(score(constant, gt, visible).to_dict())}
    if ridge is not None and linear is not None:
        reports["linear_baseline"] = dict(score(linear, gt, visible).to_dict())
        reports["linear_baseline"]["fit"] = {"alpha": ridge.alpha, "group_weights": list(ridge.group_weights),
                                             "holdout_mse": ridge.holdout_mse}
    if domains is not None:
        index = np.arange(len(gt))
        reports["mean_pose_baseline"]["domains"] = domains.reports(constant, gt, visible, index, score)
        if linear is not None:
            reports["linear_baseline"]["domains"] = domains.reports(linear, gt, visible, index, score)
    return reports


def mean_iuv(labels: np.ndarray) -> np.ndarray:
    """The per-pixel average DensePose label of ``labels: float[N, 3, H, W]`` (IUV images).

    Returns ``float32[3, H, W]``: at each pixel the most frequent part (background included;
    the lowest index on a tie) and the mean U and V of the labels that have that part there
    (0 on background).
    """
    labels = np.asarray(labels)  # summed in float64 below, without a float64 copy of every label
    parts = labels[:, 0].round().astype(np.int64)
    n, h, w = parts.shape
    counts = np.zeros((25, h, w), dtype=np.int64)
    for k in range(25):
        counts[k] = (parts == k).sum(axis=0)
    mode = counts.argmax(axis=0)
    hit = parts == mode[None]
    total = np.maximum(hit.sum(axis=0), 1)
    u = np.where(hit, labels[:, 1], 0).sum(axis=0, dtype=np.float64) / total
    v = np.where(hit, labels[:, 2], 0).sum(axis=0, dtype=np.float64) / total
    body = mode > 0
    return np.stack([mode, np.where(body, u, 0.0), np.where(body, v, 0.0)]).astype(np.float32)


def densepose_baseline(train_set: Any, val_set: Any, *, samples: int) -> Any:
    """The :class:`~csipose.metrics.DensePoseReport` of the mean IUV image of (up to ``samples``
    evenly spaced) training labels, predicted for every val sample with confidence 1."""
    from csipose.metrics.densepose import evaluate_densepose

    mean = mean_iuv(collect(train_set, spread(len(train_set), samples), keys=("densepose",))["densepose"])
    truth = collect(val_set, np.arange(len(val_set)), keys=("densepose",))["densepose"]
    pred = np.ascontiguousarray(np.broadcast_to(mean, truth.shape))
    return evaluate_densepose(pred, truth, scores=np.ones(len(truth)))

