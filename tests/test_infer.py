"""Deploying a trained model: Predictor on .pt and .onnx, streaming, export at every precision, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from csipose.config import TrainingConfig  # noqa: E402
from csipose.data import Preprocess  # noqa: E402
from csipose.data.synthetic import SyntheticConfig, render  # noqa: E402
from csipose.errors import ArgumentError, CheckpointError, NonFiniteError, ShapeError  # noqa: E402
from csipose.export import export_onnx  # noqa: E402
from csipose.infer import Predictor  # noqa: E402
from csipose.models import MODELS, build_model  # noqa: E402
from csipose.train import checkpoint as ckpt  # noqa: E402
from csipose.train.data import load_split  # noqa: E402
from csipose.train.loop import train  # noqa: E402

TINY = {"subjects": 4, "subjects_per_environment": 4, "val_subjects": [4], "frames": 10}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained run with two-frame windows (so streaming keeps a ring buffer)."""
    folder = tmp_path_factory.mktemp("deploy") / "run"
    config = TrainingConfig(epochs=1, window=2, synthetic=dict(TINY), run_dir=str(folder), plots=False,
                            progress=False, width=16, baseline_samples=200)  # fmt: skip
    train(config)
    return folder


@pytest.fixture(scope="module")
def fp32(run: Path) -> Path:
    out = run / "model.onnx"
    export_onnx(run / "best.pt", out)
    return out


def _raw(frames: int = 9, subject: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    config = SyntheticConfig(subjects=4, subjects_per_environment=4, val_subjects=(4,), frames=frames)
    seq = next(iter(render(config, (subject,))))
    return seq.amplitude, seq.phase, seq.keypoints[:, 0]


def test_checkpoints_record_the_datasets_preprocessing(run: Path) -> None:
    state = ckpt.load_checkpoint(run / "best.pt")
    config = TrainingConfig.from_dict(state["config"])
    assert state["preprocess"] == load_split(config, "train").preprocess.to_dict()
    assert Preprocess.from_dict(state["preprocess"]).window == 2


def test_predicting_raw_frames_equals_the_model_on_the_dataset(run: Path) -> None:
    predictor = Predictor.load(run / "best.pt")
    val = load_split(TrainingConfig.from_dict(predictor.config), "val")
    amplitude, phase, _ = _raw(10)
    got = predictor.predict(amplitude, phase)
    assert got.shape == (9, 17, 3)  # one pose per 2-frame window
    windows = np.stack([val[i]["csi"] for i in range(9)])  # subject 4's first sequence
    assert np.array_equal(predictor.preprocess.windows(predictor.frames(amplitude, phase)), windows)
    from csipose.train.state import load_model

    model, _ = load_model(run / "best.pt")
    with torch.no_grad():
        expected = model(torch.from_numpy(windows))["keypoints"].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_streaming_equals_the_batch(run: Path, fp32: Path, kind: str) -> None:
    predictor = Predictor.load(run / "best.pt" if kind == "pt" else fp32)
    amplitude, phase, _ = _raw(8)
    batch = predictor.predict(amplitude, phase)
    stream = predictor.stream()
    poses = [stream.push(a, p) for a, p in zip(amplitude, phase)]
    assert poses[0] is None and all(p is not None for p in poses[1:])
    np.testing.assert_allclose(np.stack(poses[1:]), batch, rtol=0, atol=1e-5)
    stream.reset()
    assert stream.push(amplitude[0], phase[0]) is None
    with pytest.raises(ShapeError, match="one frame"):
        stream.push(amplitude[:2], phase[:2])


def test_onnx_equals_torch_on_the_validation_split(run: Path, fp32: Path) -> None:
    torch_model, onnx_model = Predictor.load(run / "best.pt"), Predictor.load(fp32)
    assert onnx_model.preprocess == torch_model.preprocess and onnx_model.config == torch_model.config
    val = load_split(TrainingConfig.from_dict(onnx_model.config), "val")
    windows = np.stack([val[i]["csi"] for i in range(len(val))])
    a, b = torch_model.predict_windows(windows), onnx_model.predict_windows(windows, batch_size=7)
    assert np.abs(a - b).max() <= 1e-4


def test_onnx_predicts_without_torch(run: Path, fp32: Path, tmp_path: Path) -> None:
    amplitude, phase, _ = _raw(6)
    np.savez(tmp_path / "raw.npz", amplitude=amplitude, phase=phase)
    script = textwrap.dedent(f"""
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is not installed here")
        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from csipose.infer import Predictor
        raw = np.load({str(tmp_path / "raw.npz")!r})
        poses = Predictor.load({str(fp32)!r}).predict(raw["amplitude"], raw["phase"])
        np.save({str(tmp_path / "poses.npy")!r}, poses)
        assert "torch" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = Predictor.load(run / "best.pt").predict(amplitude, phase)
    assert np.abs(np.load(tmp_path / "poses.npy") - expected).max() <= 1e-4


def _checkpoint(model, path: Path, preprocess: Preprocess) -> Path:
    model.preprocess = preprocess.to_dict()
    with torch.no_grad():  # a model that is not the zero map: random readout weights
        model.readout.weight.normal_(0, 1e-3) if model.readout is not None else None
    ckpt.save_checkpoint(path, {
        "format": ckpt.FORMAT, "model": model.state_dict(), "model_settings": model.settings,
        "preprocess": model.preprocess, "config": TrainingConfig().to_dict(), "epoch": 0, "step": 0,
    })  # fmt: skip
    return path


@pytest.mark.parametrize(
    "settings",
    [{"model": name} for name in MODELS] + [{"model": "tcn", "heatmap_size": 8, "densepose_parts": 4, "densepose_size": 16, "dims": 2}],
    ids=[*MODELS, "tcn-heads-2d"],
)
def test_every_model_exports_and_runs(settings: dict, tmp_path: Path) -> None:
    pre = Preprocess(subcarriers=30, window=2)
    torch.manual_seed(0)
    model = build_model(shape=pre.input_shape, groups=2, width=16, heads=2, tokens=4, **settings).eval()
    path = _checkpoint(model, tmp_path / "m.pt", pre)
    info = export_onnx(path, tmp_path / "m.onnx")
    assert info["fp32_max_error"] <= 1e-4
    amplitude, phase, _ = _raw(5)
    a = Predictor.load(path).predict(amplitude, phase)
    b = Predictor.load(tmp_path / "m.onnx").predict(amplitude, phase)
    assert a.shape == (4, 17, settings.get("dims", 3))
    assert np.abs(a - b).max() <= 1e-4


@pytest.mark.parametrize("precision", ["fp16", "int8-static", "int8-dynamic"])
def test_smaller_precisions_stay_close(run: Path, fp32: Path, precision: str, tmp_path: Path) -> None:
    info = export_onnx(run / "best.pt", tmp_path / "m.onnx", precision=precision, calibration=40)
    assert info["bytes"] < fp32.stat().st_size * (0.6 if precision == "fp16" else 0.35)
    assert info.get("calibration_samples") == (40 if precision == "int8-static" else None)
    small, full = Predictor.load(tmp_path / "m.onnx"), Predictor.load(fp32)
    assert small.precision == precision
    amplitude, phase, _ = _raw(6)
    error = np.abs(small.predict(amplitude, phase) - full.predict(amplitude, phase))
    assert error.mean() < 0.01  # metres


# -- bad input ----------------------------------------------------------------------------
def test_bad_model_files_are_named(run: Path, fp32: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nope.onnx: ONNX model file not found"):
        Predictor.load(tmp_path / "nope.onnx")
    with pytest.raises(ArgumentError, match="expected a .pt checkpoint or an exported .onnx model"):
        Predictor.load(run / "config.toml")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(fp32.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="cut.onnx: not a readable ONNX model"):
        Predictor.load(cut)
    cut_pt = tmp_path / "cut.pt"
    cut_pt.write_bytes((run / "best.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable checkpoint"):
        Predictor.load(cut_pt)
    bare = onnx.load(str(fp32))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(CheckpointError, match="bare.onnx: an ONNX model without csipose metadata"):
        Predictor.load(tmp_path / "bare.onnx")
    with pytest.raises(ArgumentError, match="device"):
        Predictor.load(fp32, device="tpu")


def test_bad_frames_are_refused(fp32: Path) -> None:
    predictor = Predictor.load(fp32)
    amplitude, phase, _ = _raw(4)
    with pytest.raises(ShapeError, match="rank 3"):
        predictor.predict(amplitude[0], phase[0])
    with pytest.raises(ShapeError, match="expected 3 receive antennas"):
        predictor.predict(amplitude[:, :2], phase[:, :2])
    with pytest.raises(ShapeError, match="trained on 114 subcarriers without resampling, got 56"):
        predictor.predict(amplitude[:, :, :56], phase[:, :, :56])
    with pytest.raises(ShapeError, match=r"windows: expected \[N, 2, 6, 114, 10\]"):
        predictor.predict_windows(np.zeros((1, 1, 6, 114, 10), np.float32))
    dirty = amplitude.copy()
    dirty[2, 0, 3, 1] = np.nan  # official cleaning fills it, as in training
    assert np.isfinite(predictor.predict(dirty, phase)).all()
    raw = Predictor.load(fp32, preprocess=Preprocess(cleaning="raw", window=2))
    with pytest.raises(NonFiniteError, match="frame 2 is not finite"):
        raw.predict(dirty, phase)
    assert predictor.predict(amplitude[:1], phase[:1]).shape == (0, 17, 3)


# -- the command line ---------------------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "csipose", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)  # fmt: skip


def test_cli_predict_export_and_eval(run: Path, tmp_path: Path) -> None:
    amplitude, phase, keypoints = _raw(7)
    np.savez(tmp_path / "raw.npz", amplitude=amplitude, phase=phase, keypoints=keypoints)
    done = _cli("export", "--checkpoint", str(run / "best.pt"), "--out", "m.onnx", "--precision", "int8",
                "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["precision"] == "int8-dynamic"
    done = _cli("predict", "--model", "m.onnx", "--input", "raw.npz", "--out", "out/p.npz", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["poses"] == 6 and summary["report"]["frames"] == 6
    with np.load(tmp_path / "out" / "p.npz") as saved:
        assert saved["keypoints"].shape == (6, 17, 3)
        assert saved["frame"].tolist() == [2, 3, 4, 5, 6, 7]
        assert "persons" not in saved and "presence" not in saved  # one person per window
    done = _cli("eval", "--checkpoint", "m.onnx", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    by_onnx = json.loads(done.stdout)
    by_torch = json.loads(_cli("eval", "--checkpoint", str(run / "best.pt"), "--json", cwd=tmp_path).stdout)
    assert by_onnx["frames"] == by_torch["frames"] > 0
    assert abs(by_onnx["pck"]["20"] - by_torch["pck"]["20"]) < 0.05
    done = _cli("eval", "--checkpoint", "m.onnx", "--input", "raw.npz", cwd=tmp_path)
    assert done.returncode == 0 and "PCK (torso)" in done.stdout, done.stderr


def test_cli_predict_writes_every_person_slot_of_a_person_slot_model(tmp_path: Path) -> None:
    pre = Preprocess(subcarriers=30, window=2)
    torch.manual_seed(0)
    model = build_model(shape=pre.input_shape, groups=2, width=16, heads=2, tokens=4, persons=3).eval()
    path = _checkpoint(model, tmp_path / "people.pt", pre)
    amplitude, phase, _ = _raw(6)
    np.savez(tmp_path / "raw.npz", amplitude=amplitude, phase=phase)
    done = _cli("predict", "--model", str(path), "--input", "raw.npz", "--out", "p.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    persons, presence = Predictor.load(path).predict_people(amplitude, phase)
    with np.load(tmp_path / "p.npz") as saved:
        assert saved["persons"].shape == (5, 3, 17, 3) and saved["presence"].shape == (5, 3)
        assert saved["persons"].dtype == saved["presence"].dtype == np.float32
        np.testing.assert_allclose(saved["persons"], persons, rtol=0, atol=1e-6)
        np.testing.assert_allclose(saved["presence"], presence, rtol=0, atol=1e-6)  # probabilities
        assert ((saved["presence"] > 0) & (saved["presence"] < 1)).all()
        best = saved["persons"][np.arange(5), saved["presence"].argmax(axis=1)]
        np.testing.assert_allclose(saved["keypoints"], best, rtol=0, atol=1e-6)  # the most present slot, as before


def test_streaming_people_equals_the_batch_and_the_tracker(tmp_path: Path, run: Path) -> None:
    """Stream.push_people gives a person-slot model's slots as predict_people does, with the ids an
    online tracker gives the same slots; a one-person model's stream refuses it."""
    from csipose.track import Tracker, track

    pre = Preprocess(subcarriers=30, window=2)
    torch.manual_seed(0)
    model = build_model(shape=pre.input_shape, groups=2, width=16, heads=2, tokens=4, persons=3).eval()
    predictor = Predictor.load(_checkpoint(model, tmp_path / "people.pt", pre))
    amplitude, phase, _ = _raw(8)
    persons, presence = predictor.predict_people(amplitude, phase)
    gate = 10.0  # metres: an untrained model's slots wander, and should still be tracked
    stream = predictor.stream(tracker=Tracker(gate=gate, birth=2))
    got = [stream.push_people(a, p) for a, p in zip(amplitude, phase)]
    assert got[0] is None and all(g is not None for g in got[1:])
    np.testing.assert_allclose(np.stack([g[0] for g in got[1:]]), persons, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.stack([g[1] for g in got[1:]]), presence, rtol=0, atol=1e-5)
    ids = np.stack([g[2] for g in got[1:]])
    assert ids.dtype == np.int64 and ids.shape == presence.shape
    assert (ids == np.stack(track(persons, presence, gate=gate, birth=2))).all()
    assert (ids[0] == -1).all() and (ids[1:][presence[1:] >= 0.5] >= 0).any()  # birth 2: ids from the 2nd pose
    with pytest.raises(ArgumentError, match="push_people takes a person-slot model's people"):
        Predictor.load(run / "best.pt").stream().push_people(amplitude[0], phase[0])


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "--model", "missing.onnx", "--input", "raw.npz", "--out", "p.npz"], "missing.onnx: ONNX model file not found"),
        (["predict", "--model", "{run}/best.pt", "--input", "raw.npz", "--out", "p.txt"], "--out: expected a .npz"),
        (["predict", "--model", "{run}/best.pt", "--input", "nothing", "--out", "p.npz"], "nothing: input not found"),
        (["predict", "--model", "{run}/best.pt", "--input", "short.npz", "--out", "p.npz"], "expected 3 receive antennas"),
        (["eval", "--checkpoint", "{run}/best.pt", "--input", "nogt.npz"], "no ground-truth keypoints"),
        (["export", "--checkpoint", "{run}/best.pt", "--out", "m.txt"], "out: expected a .onnx file name"),
        (["export", "--checkpoint", "{run}/missing.pt", "--out", "m.onnx"], "missing.pt: checkpoint file not found"),
        (["export", "--checkpoint", "{run}/best.pt", "--out", "m.onnx", "--precision", "fp16", "--calibration", "64"],
         "--calibration: calibrates int8-static alone; fp16 needs no calibration samples"),
        (["eval", "--checkpoint", "{run}/best.pt", "--input", "people.npz"],
         "people.npz: ground truth of several people per frame (keypoints [F, M, J, 3]); "),
        (["eval", "--checkpoint", "{run}/best.pt", "--input", "badmask.npz"],
         "badmask.npz: person_mask is int64[3, 2]; expected bool[3, 2]"),
        (["eval", "--checkpoint", "{run}/best.pt", "--input", "maskonly.npz"],
         "maskonly.npz: person_mask goes with several people's keypoints [3, M, J, 3]"),
        (["eval", "--checkpoint", "{run}/best.pt", "--by", "people"],
         "--by people: groups a person-slot model's frames by their count of people; "),
    ],
    ids=["no-model", "out-suffix", "no-input", "antennas", "no-gt", "export-suffix", "export-missing",
         "export-calibration", "people-gt", "people-mask", "mask-one-person", "by-people"],
)
def test_cli_bad_input_is_one_line(run: Path, tmp_path: Path, args: list[str], message: str) -> None:
    amplitude, phase, keypoints = _raw(3)
    np.savez(tmp_path / "raw.npz", amplitude=amplitude, phase=phase, keypoints=keypoints)
    np.savez(tmp_path / "nogt.npz", amplitude=amplitude, phase=phase)
    np.savez(tmp_path / "short.npz", amplitude=amplitude[:, :2], phase=phase[:, :2])
    two = np.stack([keypoints, keypoints + 1], axis=1)  # [F, 2, J, 3]
    np.savez(tmp_path / "people.npz", amplitude=amplitude, phase=phase, keypoints=two)
    np.savez(tmp_path / "badmask.npz", amplitude=amplitude, phase=phase, keypoints=two, person_mask=np.ones((3, 2), int))
    np.savez(tmp_path / "maskonly.npz", amplitude=amplitude, phase=phase, keypoints=keypoints,
             person_mask=np.ones((3, 1), bool))
    done = _cli(*[a.replace("{run}", str(run)) for a in args], cwd=tmp_path)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert message in lines[0]


def test_cli_predict_of_several_peoples_truth_by_a_one_person_model(run: Path, tmp_path: Path) -> None:
    """The poses are written; the report is left out, with why, not attempted on mismatched shapes."""
    amplitude, phase, keypoints = _raw(3)
    np.savez(tmp_path / "people.npz", amplitude=amplitude, phase=phase, keypoints=np.stack([keypoints] * 2, axis=1))
    done = _cli("predict", "--model", str(run / "best.pt"), "--input", "people.npz", "--out", "p.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not scored: the input holds several people's ground truth and the model predicts one person" in done.stdout
    with np.load(tmp_path / "p.npz") as written:
        assert written["keypoints"].shape[1:] == (17, 3)


def test_cli_predict_takes_a_capture_format(run: Path, tmp_path: Path) -> None:
    (tmp_path / "noise.dat").write_bytes(np.random.default_rng(1).bytes(3000))
    args = ("predict", "--model", str(run / "best.pt"), "--input", "noise.dat", "--out", "p.npz")
    told = _cli(*args, cwd=tmp_path)
    assert told.returncode == 2 and len(told.stderr.strip().splitlines()) == 1, told.stderr
    assert "cannot be told from its content" in told.stderr and "(--format on the command line)" in told.stderr
    given = _cli(*args, "--format", "intel5300", cwd=tmp_path)  # read as Intel 5300 records: not whole ones
    assert given.returncode == 2 and len(given.stderr.strip().splitlines()) == 1, given.stderr
    assert "noise.dat" in given.stderr and "cannot be told" not in given.stderr
