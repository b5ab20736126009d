"""Writing synthetic data as an MM-Fi tree, and the ``synth`` subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat

from csipose.data.synthetic import SyntheticConfig, write_mmfi_tree
from csipose.data.synthetic.cli import add_synth_parser

TINY = SyntheticConfig(subjects=2, val_subjects=(2,), actions=("squat", "wave"), frames=4)


def test_tree_has_mmfi_layout_keys_and_shapes(tmp_path: Path) -> None:
    folders = write_mmfi_tree(tmp_path, TINY)
    assert [f.relative_to(tmp_path).as_posix() for f in folders] == [
        "E01/S01/A03", "E01/S01/A04", "E01/S02/A03", "E01/S02/A04"]  # fmt: skip
    gt = np.load(tmp_path / "E01/S02/A04/ground_truth.npy")
    assert gt.shape == (4, 17, 3) and gt.dtype == np.float64
    frames = sorted((tmp_path / "E01/S02/A04/wifi-csi").iterdir())
    assert [f.name for f in frames] == ["frame001.mat", "frame002.mat", "frame003.mat", "frame004.mat"]
    mat = loadmat(frames[0])
    for key in ("CSIamp", "CSIphase"):
        assert mat[key].shape == (3, 114, 10) and mat[key].dtype == np.float64
    assert np.all(np.isfinite(mat["CSIamp"])) and mat["CSIamp"].min() > 0
    assert np.abs(mat["CSIphase"]).max() <= np.pi


def test_tree_matches_the_dataset_labels(tmp_path: Path) -> None:
    from csipose.data.synthetic import SyntheticCsiDataset

    write_mmfi_tree(tmp_path, TINY)
    train = SyntheticCsiDataset(TINY, split="train")
    gt = np.load(tmp_path / "E01/S01/A03/ground_truth.npy")
    np.testing.assert_allclose(gt, train.keypoints[:4], rtol=1e-6)


def test_quirks_put_inf_nan_and_an_empty_file(tmp_path: Path) -> None:
    write_mmfi_tree(tmp_path, TINY, quirks=True)
    empty = [p for p in tmp_path.rglob("*.mat") if p.stat().st_size == 0]
    assert [p.relative_to(tmp_path).as_posix() for p in empty] == ["E01/S01/A03/wifi-csi/frame004.mat"]
    amp = loadmat(tmp_path / "E01/S02/A04/wifi-csi/frame002.mat")["CSIamp"]
    assert np.isposinf(amp).any() and np.isneginf(amp).any()
    assert np.isnan(loadmat(tmp_path / "E01/S02/A04/wifi-csi/frame003.mat")["CSIamp"]).any()
    assert np.all(np.isfinite(loadmat(tmp_path / "E01/S02/A04/wifi-csi/frame001.mat")["CSIamp"]))


def test_synth_subcommand_writes_a_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="csipose data")
    add_synth_parser(parser.add_subparsers(dest="data_command", required=True))
    args = parser.parse_args(["synth", "--out", str(tmp_path), "--subjects", "2", "--frames", "2",
                              "--actions", "turn", "--quirks"])
    assert args.handler(args) == 0
    assert (tmp_path / "E01/S02/A06/ground_truth.npy").is_file()
    assert "wrote 2 sequences" in capsys.readouterr().out


def test_a_tree_labels_the_person_asked_for_and_names_the_flags(tmp_path: Path) -> None:
    import dataclasses

    from csipose.data.synthetic import SyntheticCsiDataset
    from csipose.errors import ArgumentError

    bystander = dataclasses.replace(TINY, persons=2, labelled_person=1)
    write_mmfi_tree(tmp_path, bystander)
    gt = np.load(tmp_path / "E01/S01/A03/ground_truth.npy")
    np.testing.assert_allclose(gt, SyntheticCsiDataset(bystander, split="train").persons[:4, 1], rtol=1e-6)
    parser = argparse.ArgumentParser(prog="csipose data")
    add_synth_parser(parser.add_subparsers(dest="data_command", required=True))
    for flags, message in ((["--persons", "2", "--labelled-person", "2"], "--labelled-person: a room of persons = 2"),
                           (["--snr-db", "nan"], "--snr-db: expected a finite number, got nan")):  # fmt: skip
        args = parser.parse_args(["synth", "--out", str(tmp_path / "x"), "--frames", "2", *flags])
        with pytest.raises(ArgumentError, match=message):
            args.handler(args)
