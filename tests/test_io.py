"""Real captures in: reading equal to csiread's, format detection, recordings, inspect, bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

csiread = pytest.importorskip("csiread")

from csipose import PLANS  # noqa: E402
from csipose.data import Preprocess  # noqa: E402
from csipose.errors import ArgumentError, DatasetError, ShapeError  # noqa: E402
from csipose.io import RecordingDataset, capture_frames, detect_format, read_capture  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "captures"
INTEL_AP = DATA / "intel5300_sample_0x1_ap.dat"
INTEL_MONITOR = DATA / "intel5300_sample_0x5_64_3000_first700.dat"
ATHEROS = DATA / "atheros_ath_csi_1_first120.dat"


@pytest.mark.parametrize("path, tx", [(INTEL_AP, 2), (INTEL_MONITOR, 1)], ids=["ap", "monitor"])
def test_intel5300_reads_as_csiread(path: Path, tx: int) -> None:
    rec = read_capture(path)
    theirs = csiread.Intel(str(path), nrxnum=3, ntxnum=3, pl_size=0, if_report=False)
    theirs.read()
    assert rec.format == "intel5300" and (rec.tx, rec.rx) == (tx, 3) and rec.packets == theirs.count
    assert np.array_equal(rec.csi, theirs.csi[:, :, :3, :tx].transpose(0, 3, 2, 1).astype(np.complex64))
    assert np.array_equal(rec.timestamps, theirs.timestamp_low / 1e6)
    assert rec.plan == "IWL5300_30" and np.array_equal(rec.subcarriers, csiread.utils.scidx(20, 2))
    assert np.array_equal(rec.metadata["rssi_a"], theirs.rssi_a)


def test_atheros_reads_as_csiread() -> None:
    rec = read_capture(ATHEROS)
    theirs = csiread.Atheros(str(ATHEROS), nrxnum=3, ntxnum=3, pl_size=0, tones=56, if_report=False)
    theirs.read()
    assert rec.format == "atheros" and (rec.tx, rec.rx, len(rec.subcarriers)) == (2, 3, 56)
    assert np.array_equal(rec.csi, theirs.csi[:, :, :3, :2].transpose(0, 3, 2, 1).astype(np.complex64))
    assert np.array_equal(rec.timestamps, theirs.timestamp / 1e6)
    assert rec.metadata["channel_mhz"] == 2437 and rec.plan == "ATHEROS_HT20"
    assert np.array_equal(PLANS[rec.plan].indices, np.r_[-28:0, 1:29])


def _esp32_csv(path: Path, packets: int, rng: np.random.Generator) -> np.ndarray:
    """An ESP32-CSI-Tool capture; returns the complex CSI it holds at signed tones -26..-1, 1..26."""
    used = np.r_[-26:0, 1:27]
    lines, csi = [], np.zeros((packets, 64), np.complex128)
    for k in range(packets):
        values = np.zeros((64, 2), np.int64)  # LLTF order 0..31, -32..-1; pairs (imaginary, real)
        for tone in used:
            re, im = rng.integers(-60, 60, 2)
            values[tone % 64] = (im, re)
            csi[k, tone + 32] = re + 1j * im
        fields = ["CSI_DATA", "STA", "24:0A:C4:00:00:01", -50, 11, 1, 0, 0, 1, 1, 0, 0, 0, 0, -93, 0, 6, 0,
                  1000 * (k + 1), 0, 100, 0, 0, 0.0, 128]  # fmt: skip
        lines.append(",".join(map(str, fields)) + ",[" + " ".join(map(str, values.reshape(-1))) + "]\n")
    path.write_text("".join(lines))
    return csi[:, used + 32]


def test_esp32_reads_signed_tones(tmp_path: Path) -> None:
    expected = _esp32_csv(tmp_path / "esp.csv", 5, np.random.default_rng(0))
    rec = read_capture(tmp_path / "esp.csv")
    assert rec.format == "esp32" and (rec.tx, rec.rx) == (1, 1)
    assert np.array_equal(rec.subcarriers, np.r_[-26:0, 1:27])
    assert np.array_equal(rec.csi[:, 0, 0], expected.astype(np.complex64))
    assert np.allclose(np.diff(rec.timestamps), 1e-3)


def test_formats_are_told_from_the_content(tmp_path: Path) -> None:
    assert detect_format(INTEL_AP) == detect_format(INTEL_MONITOR) == "intel5300"
    assert detect_format(ATHEROS) == "atheros"
    renamed = tmp_path / "capture.bin"
    shutil.copy(ATHEROS, renamed)
    assert read_capture(renamed).format == "atheros"
    (tmp_path / "noise.dat").write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(DatasetError, match="cannot be told from its content; pass format="):
        read_capture(tmp_path / "noise.dat")
    (tmp_path / "x.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(40))
    with pytest.raises(ArgumentError, match="needs its chip and bandwidth"):
        read_capture(tmp_path / "x.pcap")
    with pytest.raises(ArgumentError, match="format: expected one of"):
        read_capture(INTEL_AP, format="wifi6")


def test_truncated_and_empty_captures_are_named(tmp_path: Path) -> None:
    cut = tmp_path / "cut.dat"
    cut.write_bytes(INTEL_AP.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="cut.dat: truncated"):
        read_capture(cut)
    (tmp_path / "empty.dat").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty file"):
        read_capture(tmp_path / "empty.dat")
    with pytest.raises(DatasetError, match="capture file not found"):
        read_capture(tmp_path / "nope.dat")
    with pytest.raises(DatasetError, match="not a file; expected a capture file"):
        read_capture(tmp_path, format="intel5300")
    (tmp_path / "stray.dat").write_bytes(INTEL_AP.read_bytes() + b"\x07")
    with pytest.raises(DatasetError, match=rf"stray.dat: a stray byte at {INTEL_AP.stat().st_size}"):
        read_capture(tmp_path / "stray.dat", format="intel5300")
    (tmp_path / "zeros.dat").write_bytes(bytes(100))
    with pytest.raises(DatasetError, match=r"zeros.dat: a record of length 0 at byte 0 \(100 bytes\)"):
        read_capture(tmp_path / "zeros.dat", format="intel5300")


def test_capture_frames_put_the_card_on_the_models_tones() -> None:
    rec = read_capture(INTEL_MONITOR)
    frames = capture_frames(rec, 10)
    assert frames.amplitude.shape == (35, 3, 30, 10)
    assert np.array_equal(frames.times, rec.timestamps[9::10])
    x = Preprocess().frames(frames.amplitude, frames.phase, tones=frames.tones)
    assert x.shape == (35, 6, 114, 10) and np.isfinite(x).all()
    # the amplitude at a tone the card reports equals its own (before min-max cleaning)
    raw = Preprocess(cleaning="raw", features=("amplitude",)).frames(frames.amplitude, tones=frames.tones)
    at = np.searchsorted(PLANS["HT40"].indices, 28)
    assert np.allclose(raw[:, :, at], frames.amplitude[:, :, -1])
    with pytest.raises(ShapeError, match="expected 3 receive antennas"):
        Preprocess().frames(frames.amplitude[:, :2], frames.phase[:, :2], tones=frames.tones)


def _recording(folder: Path, capture: Path, shift: float = 0.0) -> np.ndarray:
    folder.mkdir(parents=True)
    shutil.copy(capture, folder / capture.name)
    times = capture_frames(read_capture(capture), 10).times
    rng = np.random.default_rng(2)
    keypoints = (rng.normal(0, 0.3, (len(times), 17, 3)) + [0, 0, 3]).astype(np.float32)
    np.savez(folder / "keypoints.npz", times=times + 0.002 + shift, keypoints=keypoints)
    return keypoints


def test_a_recording_is_a_dataset(tmp_path: Path) -> None:
    keypoints = _recording(tmp_path / "rec", INTEL_MONITOR)
    train = RecordingDataset(tmp_path / "rec", window=2)
    val = RecordingDataset(tmp_path / "rec", split="val", window=2)
    assert len(train) + len(val) == 34 and len(val) == 7  # 35 frames, windows of 2, last fifth held out
    sample = train[0]
    assert sample["csi"].shape == (2, 6, 114, 10) and np.array_equal(sample["keypoints"], keypoints[1])
    assert int(sample["frame"]) == 2 and val.frame.min() > train.frame.max()
    (tmp_path / "rec" / "recording.toml").write_text("clock_offset = 100.0\n")
    with pytest.raises(DatasetError, match="do not overlap the captures' frames"):
        RecordingDataset(tmp_path / "rec")
    (tmp_path / "rec" / "recording.toml").write_text("offset = 1\n")
    with pytest.raises(DatasetError, match="unknown setting 'offset'"):
        RecordingDataset(tmp_path / "rec")


def test_train_and_predict_on_your_own_recording(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from csipose.config import TrainingConfig
    from csipose.train.loop import train

    _recording(tmp_path / "recordings" / "kitchen", INTEL_MONITOR)
    _recording(tmp_path / "recordings" / "office", INTEL_MONITOR)
    config = TrainingConfig(data="recording", recording_root=str(tmp_path / "recordings"), recording_val=["office"],
                            epochs=1, width=16, run_dir=str(tmp_path / "run"), plots=False, progress=False)  # fmt: skip
    summary = train(config)
    assert summary["model"]["frames"] == 35
    done = subprocess.run(
        [sys.executable, "-m", "csipose", "predict", "--model", str(tmp_path / "run" / "best.pt"), "--input",
         str(INTEL_MONITOR), "--out", str(tmp_path / "poses.npz")], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "poses.npz") as saved:
        assert saved["keypoints"].shape == (35, 17, 3) and len(saved["time"]) == 35


def test_inspect_prints_and_plots(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "csipose", "data", "inspect", str(INTEL_MONITOR), "--plot", str(tmp_path / "c.png")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "350 over 0.349 s, 1,000.0 packets/s" in done.stdout
    assert "tx 1, rx 3" in done.stdout and "plan IWL5300_30" in done.stdout
    assert (tmp_path / "c.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "csipose", "data", "inspect", str(tmp_path / "c.png")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_a_capture_of_other_antennas_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csipose.io.recording as recording

    _recording(tmp_path / "rec", INTEL_MONITOR)
    real = recording.read_capture

    def two_antennas(path: Path, format: str | None = None):  # a card with two receive antennas
        rec = real(path, format)
        rec.csi = rec.csi[:, :, :2]
        return rec

    monkeypatch.setattr(recording, "read_capture", two_antennas)
    with pytest.raises(DatasetError, match=r"first700\.dat: 2 receive antennas; the model takes 3"):
        RecordingDataset(tmp_path / "rec")


def test_coco17_2d_recordings_train_the_coco_skeleton(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from csipose.config import TrainingConfig
    from csipose.errors import ConfigError
    from csipose.train.loop import train

    folder = tmp_path / "rec"
    folder.mkdir()
    shutil.copy(INTEL_MONITOR, folder / INTEL_MONITOR.name)
    times = capture_frames(read_capture(INTEL_MONITOR), 10).times
    rng = np.random.default_rng(3)
    images, annotations = [], []
    for i, t in enumerate(times):
        xy = rng.uniform(100, 500, (17, 2))
        v = np.where(np.arange(17) == 3, 0, 2)  # the right ear is never seen
        images.append({"id": i, "timestamp": float(t) + 0.001})
        annotations.append({"image_id": i, "keypoints": np.column_stack([xy, v]).ravel().tolist()})
    (folder / "keypoints.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    ds = RecordingDataset(folder)
    assert ds.skeleton == "coco17" and len(ds) == 28
    assert np.array_equal(ds.keypoints[:, :, 2], np.zeros((28, 17))) and ds.visibility[:, 3].max() == 0
    config = TrainingConfig(data="recording", recording_root=str(folder), epochs=1, width=16, plots=False,
                            progress=False, run_dir=str(tmp_path / "run"))  # fmt: skip
    with pytest.raises(ConfigError, match="labelled with coco17 keypoints; set skeleton=coco17 and keypoint_dims=2"):
        train(config)
    summary = train(dataclasses.replace(config, skeleton="coco17", keypoint_dims=2, run_dir=str(tmp_path / "run2")))
    assert summary["model"]["skeleton"] == "coco17" and summary["model"]["frames"] == 7
