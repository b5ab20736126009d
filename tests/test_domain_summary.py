"""A run's validation split into in-domain (held-out subjects of the training rooms) and
cross-domain (unseen rooms) reports: the sides add up to the pooled report, the gains and gap
ratio are plain arithmetic, and a leave-room-out run's summary.json holds them."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csipose.cli import main
from csipose.data import MMFiDataset
from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset
from csipose.errors import ShapeError
from csipose.train.domains import (
    DomainSplit,
    domain_gains,
    domain_reports,
    domain_split,
    domains_line,
    sample_environments,
    summary_block,
)
from csipose.train.scoring import score

from tests.mmfi_tree import write_tree

SCORE = partial(score, skeleton="h36m17")
TINY = [
    "--quiet", "--set", "epochs=1", "--set", "threads=1", "--set", "plots=false", "--set", "baseline_samples=200",
    "--set", "width=16", "--set", "heads=2", "--set", "synthetic.room_variation=true",
    "--set", "synthetic.environments=4", "--set", "synthetic.subjects=8", "--set", "synthetic.frames=4",
    "--set", "synthetic.actions=['wave','squat']", "--set", "synthetic.val_subjects=[1]",
]  # fmt: skip


def poses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pred[n, 17, 3], gt[n, 17, 3], visible[n, 17])`` with errors of a few centimetres to decimetres."""
    rng = np.random.default_rng(seed)
    gt = rng.normal(0.0, 0.3, size=(n, 17, 3)) + np.array([0.0, 0.0, 3.0])
    pred = gt + rng.normal(0.0, 0.08, size=gt.shape)
    return pred, gt, np.ones((n, 17))


def pck20(value: float) -> dict[str, Any]:
    return {"pck": {"20": value}}


# ------------------------------------------------------------------------- reports
def test_domain_reports_add_up_to_the_pooled_report() -> None:
    pred, gt, vis = poses(60)
    environment = np.repeat([1, 2, 4, 5], 15)
    sides = domain_reports(pred, gt, vis, environment, {1, 2, 3}, SCORE)
    pooled = SCORE(pred, gt, vis).to_dict()
    assert set(sides) == {"in_domain", "cross_domain"}
    assert sides["in_domain"]["frames"] == 30 and sides["cross_domain"]["frames"] == 30
    assert sides["in_domain"]["frames"] + sides["cross_domain"]["frames"] == pooled["frames"]
    seen = environment <= 2
    assert sides["in_domain"] == SCORE(pred[seen], gt[seen], vis[seen]).to_dict()
    # every joint visible: the pooled PCK is the frame-weighted mean of the sides'
    for key in ("20", "50"):
        mean = (sides["in_domain"]["pck"][key] + sides["cross_domain"]["pck"][key]) / 2
        assert mean == pytest.approx(pooled["pck"][key], abs=1e-12)


def test_an_empty_side_is_left_out_and_a_wrong_length_refused() -> None:
    pred, gt, vis = poses(10)
    assert set(domain_reports(pred, gt, vis, np.full(10, 2), [1, 2], SCORE)) == {"in_domain"}
    assert set(domain_reports(pred, gt, None, np.full(10, 7), [1, 2], SCORE)) == {"cross_domain"}
    with pytest.raises(ShapeError, match="environment"):
        domain_reports(pred, gt, vis, np.full(9, 2), [1, 2], SCORE)
    split = DomainSplit(environment=np.array([1, 1, 4, 4, 4]), training_rooms=(1, 2))
    with pytest.raises(ShapeError, match="index"):
        split.reports(pred, gt, vis, np.arange(5), SCORE)


def test_a_split_reads_rows_by_dataset_index() -> None:
    pred, gt, vis = poses(6)
    split = DomainSplit(environment=np.array([1, 4, 1, 4, 1, 4]), training_rooms=(1, 2))
    order = np.array([5, 4, 3, 2, 1, 0])  # rows of pred are the samples 5, 4, ... 0
    sides = split.reports(pred, gt, vis, order, SCORE)
    assert sides["in_domain"] == SCORE(pred[[1, 3, 5]], gt[[1, 3, 5]], vis[[1, 3, 5]]).to_dict()
    assert split.describe() == {"rooms": {"in_domain": [1], "cross_domain": [4]}, "training_rooms": [1, 2]}


# ------------------------------------------------------------------ gains and ratio
def test_gains_and_gap_ratio_arithmetic() -> None:
    model = {"in_domain": pck20(0.65), "cross_domain": pck20(0.30)}
    mean = {"in_domain": pck20(0.25), "cross_domain": pck20(0.40)}
    gains = domain_gains(model, mean)
    assert gains["in_domain_gain"] == pytest.approx(0.40)
    assert gains["cross_domain_gain"] == pytest.approx(-0.10)
    assert gains["gap_ratio"] == pytest.approx(-0.25)


@pytest.mark.parametrize(("inside", "ratio"), [(0.04, None), (0.0, None), (-0.2, None), (0.06, 0.5)])
def test_no_gap_ratio_under_five_points_of_in_domain_gain(inside: float, ratio: float | None) -> None:
    model = {"in_domain": pck20(0.5 + inside), "cross_domain": pck20(0.53)}
    mean = {"in_domain": pck20(0.5), "cross_domain": pck20(0.5)}
    gains = domain_gains(model, mean)
    assert gains["in_domain_gain"] == pytest.approx(inside)
    assert gains["cross_domain_gain"] == pytest.approx(0.03)
    assert gains["gap_ratio"] == (None if ratio is None else pytest.approx(ratio))


def test_a_missing_side_or_pck_gives_no_gain() -> None:
    gains = domain_gains({"in_domain": pck20(0.6), "cross_domain": pck20(None)}, {"in_domain": pck20(0.2)})
    assert gains == {"in_domain_gain": pytest.approx(0.4), "cross_domain_gain": None, "gap_ratio": None}


def test_summary_block_and_its_line() -> None:
    model = {"pck": {"20": 0.5}, "domains": {"in_domain": pck20(0.641), "cross_domain": pck20(0.331),
                                             "rooms": {"in_domain": [1], "cross_domain": [4]},
                                             "training_rooms": [1, 2, 3]}}  # fmt: skip
    baselines = {"mean_pose_baseline": {"domains": {"in_domain": pck20(0.401), "cross_domain": pck20(0.384)}}}
    block = summary_block(model, baselines)
    assert block is not None
    assert block["in_domain"] == pck20(0.641) and block["mean_pose_baseline"]["cross_domain"] == pck20(0.384)
    assert block["training_rooms"] == [1, 2, 3] and "linear_baseline" not in block
    assert block["gap_ratio"] == pytest.approx(-0.053 / 0.24)
    assert domains_line(block) == ("domains: in-domain PCK@20 64.1% (+24.0 over mean pose), cross-domain 33.1% "
                                   "(-5.3), gap ratio -0.22")  # fmt: skip
    assert summary_block({"pck": {"20": 0.5}}, baselines) is None
    block["gap_ratio"] = None
    assert domains_line(block).endswith("gap ratio n/a (in-domain gain under 5 points)")


# --------------------------------------------------------------------- the split
class Samples:
    """A dataset of plain samples, read one at a time."""

    def __init__(self, rooms: list[int] | None) -> None:
        self.rooms = rooms

    def __len__(self) -> int:
        return 3 if self.rooms is None else len(self.rooms)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"csi": np.zeros(1)} if self.rooms is None else {"csi": np.zeros(1), "environment": self.rooms[i]}


def test_sample_environments_from_arrays_or_samples() -> None:
    config = SyntheticConfig(subjects=4, environments=2, val_subjects=(), val_environments=(2,), room_variation=True,
                             actions=("wave",), frames=4, window=3)  # fmt: skip
    val = SyntheticCsiDataset(config, split="val")
    rooms = sample_environments(val)
    assert rooms is not None and rooms.shape == (len(val),)
    assert rooms.tolist() == [int(val[i]["environment"]) for i in range(len(val))]
    assert sample_environments(Samples([3, 1, 3])).tolist() == [3, 1, 3]
    assert sample_environments(Samples(None)) is None


def test_mmfi_rooms_are_read_without_the_csi(tmp_path: Path) -> None:
    write_tree(tmp_path, ("S01", "S12"), ("A02",), 6)
    ds = MMFiDataset(tmp_path, scheme="manual", split="train", train={"S01": ["A02"], "S12": ["A02"]}, val={},
                     window=2)  # fmt: skip
    rooms = sample_environments(ds)
    assert rooms is not None and len(set(rooms.tolist())) == 2
    assert rooms.tolist() == [int(ds[i]["environment"]) for i in range(len(ds))]


def test_domain_split_needs_both_sides() -> None:
    split = domain_split(Samples([1, 2, 2]), Samples([2, 5, 5]))
    assert split is not None and split.training_rooms == (1, 2)
    assert split.rooms() == {"in_domain": [2], "cross_domain": [5]}
    assert domain_split(Samples([1, 2]), Samples([5, 5])) is None  # unseen rooms only (e.g. MM-Fi S3)
    assert domain_split(Samples([1, 2]), Samples([1, 2])) is None  # seen rooms only
    assert domain_split(Samples(None), Samples(None)) is None  # no room ids


# ---------------------------------------------------------------------- end to end
def test_a_leave_room_out_run_summarises_both_domains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "rooms"
    assert main(["train", *TINY, "--set", "synthetic.val_environments=[4]", "--run-dir", str(run)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    block = summary["domains"]
    assert block["in_domain"]["frames"] + block["cross_domain"]["frames"] == summary["model"]["frames"]
    assert block["rooms"] == {"in_domain": [1], "cross_domain": [4]} and block["training_rooms"] == [1, 2, 3]
    for name in ("mean_pose_baseline", "linear_baseline"):
        assert set(block[name]) == {"in_domain", "cross_domain"}
        assert block[name]["in_domain"]["frames"] == block["in_domain"]["frames"]
    model_pck = block["in_domain"]["pck"]["20"]
    assert block["in_domain_gain"] == pytest.approx(model_pck - block["mean_pose_baseline"]["in_domain"]["pck"]["20"])
    assert "domains" not in summary["model"] and "domains" not in summary["mean_pose_baseline"]
    assert "domains: in-domain PCK@20" in printed
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(record["val"]["domains"]) == {"in_domain", "cross_domain"}
    assert len(json.dumps(record["val"]["domains"])) < 300


def test_a_run_without_unseen_rooms_has_no_domains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "plain"
    assert main(["train", *TINY, "--set", "synthetic.val_environments=[]", "--run-dir", str(run)]) == 0
    assert "domains:" not in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert "domains" not in summary and "domains" not in summary["model"]
    assert "domains" not in json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["val"]


def test_the_best_epoch_is_chosen_on_the_training_rooms_alone(tmp_path: Path) -> None:
    from csipose.train.state import selection_metric

    pooled = {"pck": {"20": 0.5}}
    assert selection_metric(pooled) == 0.5
    assert selection_metric({**pooled, "domains": {"in_domain": {"pck": {"20": 0.7}}, "cross_domain": {}}}) == 0.7
    assert selection_metric({"pck": {"20": None}}) == 0.0
    run = tmp_path / "rooms"
    # readout on, no test-time normalisation: a run whose pooled and in-domain PCK peak at different
    # epochs (asserted below)
    assert main(["train", *TINY, "--set", "synthetic.val_environments=[4]", "--set", "epochs=4",
                 "--set", "readout=true", "--set", "test_time_norm=false", "--run-dir", str(run)]) == 0  # fmt: skip
    records = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    scored = [r for r in records if "val" in r]
    inside = [r["val"]["domains"]["in_domain"]["pck"]["20"] for r in scored]
    pooled_pck = [r["val"]["pck"]["20"] for r in scored]
    assert np.argmax(pooled_pck) != np.argmax(inside)  # the run tells the two rules apart
    best = json.loads((run / "summary.json").read_text())["best_epoch"]
    assert best == scored[int(np.argmax(inside))]["epoch"]  # the first of the highest, as improve keeps it
