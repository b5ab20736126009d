"""The packed MM-Fi cache: round trip equals direct reads; stale or foreign caches are refused."""

from __future__ import annotations

import json
import mmap
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csipose.cli import main
from csipose.data import MMFiDataset, open_cache, prepare_mmfi
from csipose.errors import ArgumentError, DatasetError

from tests.mmfi_tree import write_sequence, write_tree

SPLIT: dict[str, Any] = {"train": {"S01": ["A02", "A03"], "S23": ["A03"]}, "val": {"S23": ["A02"]}}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mmfi") / "root"
    write_tree(root, ("S01", "S23"), ("A02", "A03"), 5)
    amp = np.random.default_rng(1).uniform(0, 9, (6, 3, 114, 10))
    amp[0, 0, :5, 2] = np.inf
    amp[1, :, :, 4] = np.nan  # an all-NaN packet
    amp[2] = 7.0  # a constant frame
    amp[3, 2, 7, 1] = -np.inf
    write_sequence(root, "S23", "A02", 6, seed=3, amp=amp, empty=(5,))
    return root


@pytest.fixture(scope="module")
def cache(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cache")
    prepare_mmfi(tree, out, workers=0, progress=False)
    return out


def _assert_same(a: MMFiDataset, b: MMFiDataset) -> None:
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for key in x:
            assert x[key].dtype == y[key].dtype
            if y[key].ndim:  # arrays are writeable copies, never views of the map
                assert y[key].flags.writeable, key
                base = y[key].base
                while base is not None:
                    assert not isinstance(base, (np.memmap, mmap.mmap)), key
                    base = getattr(base, "base", None)
            np.testing.assert_array_equal(x[key], y[key], err_msg=f"window {i} {key}")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"split": "val", "window": 2, "label": "center"},
        {"window": 3, "stride": 2, "features": ("amplitude",), "cleaning": "raw"},
        {"split": "val", "subcarriers": 56, "features": ("phase",)},
    ],
)
def test_cache_round_trip_equals_direct(tree: Path, cache: Path, options: dict) -> None:
    direct = MMFiDataset(tree, scheme="manual", **SPLIT, **options)
    cached = MMFiDataset(tree, scheme="manual", cache=cache, **SPLIT, **options)
    _assert_same(direct, cached)
    assert cached.skipped == direct.skipped


@pytest.mark.parametrize("split", ["train", "val"])
def test_cache_alone_needs_no_tree(tree: Path, cache: Path, tmp_path: Path, split: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import csipose.data.mmfi as mmfi

    options: dict[str, Any] = {"scheme": "manual", "split": split, "window": 2, **SPLIT}
    with_tree = MMFiDataset(tree, cache=cache, **options)
    moved = tmp_path / "elsewhere"
    shutil.copytree(cache, moved)

    def no_walk(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tree was walked")

    monkeypatch.setattr(mmfi, "discover", no_walk)
    alone = MMFiDataset(None, cache=moved, **options)
    _assert_same(with_tree, alone)
    assert alone.keys == with_tree.keys == [f"E{'01' if s == 'S01' else '03'}/{s}/{a}" for s, acts in
                                              options[split].items() for a in acts]
    assert alone.skipped == with_tree.skipped and alone.root == tree.resolve()
    assert alone.sequences == [] and len(with_tree.sequences) == len(with_tree.keys)
    assert "cache=" in repr(alone)


def test_cache_alone_errors(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="root: give the MM-Fi folder"):
        MMFiDataset(None)
    with pytest.raises(DatasetError, match="manifest.json: missing"):
        MMFiDataset(None, cache=tmp_path)


def test_manifest_contents(tree: Path, cache: Path) -> None:
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["format"] == "csipose-mmfi-cache" and manifest["version"] == 1
    assert manifest["frames"] == 3 * 5 + 5  # S23/A02: 6 frames, one empty
    assert manifest["skipped"] == ["E03/S23/A02/wifi-csi/frame005.mat"]
    assert [s["key"] for s in manifest["sequences"]] == ["E01/S01/A02", "E01/S01/A03", "E03/S23/A02", "E03/S23/A03"]
    assert len(manifest["fingerprint"]) == 64
    frames = np.load(cache / "frames.npy")
    assert frames[10:15].tolist() == [[3, 23, 2, n] for n in (1, 2, 3, 4, 6)]
    assert np.load(cache / "amplitude.npy", mmap_mode="r").shape == (20, 3, 114, 10)


def test_parallel_prepare_writes_the_same_cache(tree: Path, cache: Path, tmp_path: Path) -> None:
    prepare_mmfi(tree, tmp_path, workers=2, progress=False)
    for name in ("amplitude", "phase", "keypoints", "frames"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), np.load(cache / f"{name}.npy"))


def test_stale_cache_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_tree(root, ("S01",), ("A02",), 3)
    prepare_mmfi(root, tmp_path / "c", workers=0, progress=False)
    MMFiDataset(root, scheme="manual", train={"S01": ["A02"]}, val={}, cache=tmp_path / "c")
    write_sequence(root, "S02", "A02", 2)  # a sequence added after the cache was made
    with pytest.raises(DatasetError, match="stale cache"):
        MMFiDataset(root, scheme="manual", train={"S01": ["A02"]}, val={}, cache=tmp_path / "c")
    prepare_mmfi(root, tmp_path / "c", workers=0, progress=False)
    frame = root / "E01" / "S01" / "A02" / "wifi-csi" / "frame002.mat"
    st = frame.stat()
    os.utime(frame, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched
    with pytest.raises(DatasetError, match="stale cache"):
        open_cache(tmp_path / "c", root)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda m: m.update(format="something-else"), "not a csipose MM-Fi cache"),
        (lambda m: m.update(version=99), "version 99"),
        (lambda m: m.update(frames=3), r"shape \(20, 3, 114, 10\); expected \(3, 3, 114, 10\)"),
    ],
)
def test_foreign_or_unknown_cache_is_refused(tree: Path, cache: Path, tmp_path: Path, edit: object, needle: str) -> None:
    for name in ("amplitude", "phase", "keypoints", "frames"):
        os.symlink(cache / f"{name}.npy", tmp_path / f"{name}.npy")
    manifest = json.loads((cache / "manifest.json").read_text())
    edit(manifest)  # type: ignore[operator]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=needle):
        MMFiDataset(tree, scheme="manual", **SPLIT, cache=tmp_path)


def test_missing_or_corrupt_manifest(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="manifest.json: missing"):
        open_cache(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match="manifest.json: unreadable"):
        MMFiDataset(tree, scheme="manual", **SPLIT, cache=tmp_path)


def test_prepare_reports_bad_frames(tmp_path: Path) -> None:
    seq = write_sequence(tmp_path / "root", "S01", "A02", 3)
    write_sequence(tmp_path / "root", "S01", "A03", 3)  # two sequences, so two worker tasks
    (seq.path / "wifi-csi" / "frame003.mat").write_bytes(b"MATLAB 5.0 MAT-file truncated")
    with pytest.raises(DatasetError, match=r"frame003\.mat: unreadable MATLAB file"):
        prepare_mmfi(tmp_path / "root", tmp_path / "c", workers=0, progress=False)
    with pytest.raises(DatasetError, match=r"frame003\.mat: unreadable MATLAB file"):
        prepare_mmfi(tmp_path / "root", tmp_path / "c", workers=2, progress=False)
    assert not (tmp_path / "c" / "manifest.json").exists()


def test_cli_prepare(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", str(tree), "--out", str(tmp_path / "c"), "--workers", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "packed 20 frames of 4 sequences" in out and "skipped 1 empty" in out and "frame005.mat" in out
    open_cache(tmp_path / "c", tree)
    assert main(["data", "prepare", str(tmp_path / "missing"), "--out", str(tmp_path / "d")]) == 2
    assert "MM-Fi root not found" in capsys.readouterr().err


def test_pickles_without_copying_the_cache(tree: Path, cache: Path) -> None:
    import pickle

    ds = MMFiDataset(tree, scheme="manual", cache=cache, **SPLIT)
    ds[0]  # maps the arrays
    blob = pickle.dumps(ds)
    assert len(blob) < np.load(cache / "amplitude.npy", mmap_mode="r").nbytes
    again = pickle.loads(blob)
    _assert_same(ds, again)


def test_label_keypoints_are_the_samples_keypoints(tree: Path, cache: Path) -> None:
    for source in (None, cache):
        ds = MMFiDataset(tree, scheme="manual", window=3, stride=2, label="center", cache=source, **SPLIT)
        expected = np.stack([ds[i]["keypoints"] for i in range(len(ds))])
        np.testing.assert_array_equal(ds.label_keypoints(), expected)
