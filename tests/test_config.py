"""TrainingConfig: every validation rule, file round trips, command-line overrides."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from csipose import TrainingConfig
from csipose.config import DEFAULT_SYNTHETIC, to_toml
from csipose.errors import ConfigError


def test_default_is_valid_and_import_stays_torch_free() -> None:
    cfg = TrainingConfig()
    before = cfg.to_dict()
    assert cfg.validate() is cfg and cfg.to_dict() == before  # validate checks, it never rewrites
    assert (cfg.data, cfg.model, cfg.epochs, cfg.warmup_epochs, cfg.resolved_warmup_epochs()) == (
        "synthetic", "tcn", 24, None, 1,
    )
    assert cfg.synthetic == DEFAULT_SYNTHETIC and cfg.loss_weights == {"keypoints": 1.0, "bone": 0.1}
    code = "import sys, csipose.config, csipose.cli; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# (override assignments, substring the error must contain)
BROKEN = [
    ({"data": "wifi"}, "data: must be one of"),
    ({"model": "resnet"}, "model: must be one of tcn, csinet, mlp, cnn"),
    ({"baseline_samples": 0}, "baseline_samples: must be a positive integer"),
    ({"mmfi_protocol": "P4"}, "mmfi_protocol"),
    ({"mmfi_scheme": "S9"}, "mmfi_scheme"),
    ({"features": "power"}, "features"),
    ({"subcarrier_mode": "cubic"}, "subcarrier_mode"),
    ({"schedule": "step"}, "schedule"),
    ({"keypoint_loss": "l1"}, "keypoint_loss"),
    ({"amp": "fp8"}, "amp"),
    ({"batch_size": 0}, "batch_size: must be a positive integer"),
    ({"epochs": 0}, "epochs: must be a positive integer"),
    ({"width": -4}, "width"),
    ({"window": 0}, "window"),
    ({"subcarriers": 0}, "subcarriers"),
    ({"patience": 0}, "patience: must be a positive integer"),
    ({"val_every": 0}, "val_every"),
    ({"top_k": -1}, "top_k: must be >= 0"),
    ({"workers": -1}, "workers"),
    ({"width": 30, "heads": 4}, "heads: must divide width"),
    ({"keypoint_dims": 4}, "keypoint_dims"),
    ({"dropout": 1.0}, "dropout"),
    ({"lr": 0.0}, "lr: must be a finite number > 0"),
    ({"lr": float("nan")}, "lr"),
    ({"betas": (0.9, 1.0)}, "betas"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"grad_clip": -1.0}, "grad_clip"),
    ({"min_delta": -0.01}, "min_delta"),
    ({"epochs": 5, "warmup_epochs": 5}, "warmup_epochs: must be an integer in [0, epochs = 5)"),
    ({"epochs": 1, "warmup_epochs": 1}, "warmup_epochs: must be an integer in [0, epochs = 1)"),
    ({"synthetic": {"subjects": 4, "foo": 1}}, "synthetic.foo: unknown setting; valid synthetic.* keys: seed, family,"),
    ({"schedule": "multistep", "milestones": []}, "milestones: multistep needs"),
    ({"schedule": "multistep", "milestones": [4, 4], "epochs": 10}, "strictly increasing"),
    ({"schedule": "multistep", "milestones": [0, 4], "epochs": 10}, "milestones: must lie in [1, epochs"),
    ({"schedule": "multistep", "milestones": [3, 10], "epochs": 10}, "milestones: must lie in [1, epochs"),
    ({"gamma": 1.0}, "gamma: must be in (0, 1)"),
    ({"gamma": 0.0}, "gamma"),
    ({"mmfi_ratio": 1.0}, "mmfi_ratio"),
    ({"loss_weights": {"keypoints": 1.0, "elbow": 1.0}}, "unknown term 'elbow'"),
    ({"loss_weights": {"keypoints": -1.0}}, "loss_weights.keypoints: must be a finite number >= 0"),
    ({"loss_weights": {"keypoints": 0.0, "bone": 0.0}}, "positive sum"),
    ({"loss_weights": {"bone": 1.0}}, "keypoints or oks must be > 0"),
    ({"loss_weights": {"keypoints": 1.0, "heatmap": 1.0}}, "needs heatmap = true"),
    ({"loss_weights": {"keypoints": 1.0, "densepose_uv": 1.0}}, "needs densepose = true"),
    ({"data": "mmfi"}, "mmfi_root: required"),
    # generator settings where no synthetic data is read are refused, not ignored
    ({"data": "mmfi", "mmfi_root": "/d", "synthetic": {**DEFAULT_SYNTHETIC, "frames": 10}},
     "synthetic.frames: a generator setting, but data = 'mmfi' reads no synthetic data"),
    ({"data": "recording", "recording_root": "/d", "synthetic": {"window": 3}},
     "synthetic.window: a generator setting, but data = 'recording'"),
    ({"seed": -1}, "seed: must be an integer in 0..4294967295, got -1"),
    ({"seed": 2**70}, "seed: must be an integer in 0..4294967295"),
    ({"mmfi_seed": 1.5}, "mmfi_seed: must be an integer"),
    # the synthetic table is checked with the rest, before a run writes anything
    ({"synthetic": {"people": [0]}}, "synthetic.people: every scene would be empty"),
    ({"persons": 3, "synthetic": {"people": "abc"}}, "synthetic.people: expected a tuple of person counts, got 'abc'"),
    ({"persons": 3, "synthetic": {"people": 3}}, "synthetic.people: expected a tuple of person counts, got 3"),
    ({"persons": 3, "synthetic": {"persons": 2}}, "synthetic.persons: person slots (persons = 3) learn scenes where"),
    ({"persons": 3, "synthetic": {"family": "dense_map"}}, "synthetic.family: person slots (persons = 3) learn scenes"),
    ({"persons": 3, "synthetic": {"labelled_person": 1}}, "synthetic.labelled_person: person slots (persons = 3)"),
    ({"synthetic": {"people": [2], "labelled_person": 1}}, "synthetic.labelled_person: with people every person"),
    ({"synthetic": {"persons": 2, "family": "dense_map"}}, "synthetic.persons: bystanders change the CSI only in"),
    ({"synthetic": {"labelled_person": 1}}, "synthetic.labelled_person: a room of persons = 1 has people 0..0, got 1"),
    ({"synthetic": {"subjects": 4, "val_subjects": [9]}}, "synthetic.val_subjects"),
]


@pytest.mark.parametrize(("values", "message"), BROKEN, ids=[m for _, m in BROKEN])
def test_each_rule_names_field_and_rule(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        TrainingConfig(**values).validate()  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize("values", [
    {"schedule": "multistep", "milestones": [1, 3], "epochs": 4},
    {"warmup_epochs": 0, "epochs": 1},
    {"loss_weights": {"oks": 1.0}},
    {"heatmap": True, "loss_weights": {"keypoints": 1.0, "heatmap": 0.5}},
    {"data": "mmfi", "mmfi_root": "/data/mmfi"},
    {"data": "mmfi", "mmfi_cache": "/data/mmfi-cache"},
])  # fmt: skip
def test_valid_edge_cases_pass(values: dict[str, object]) -> None:
    TrainingConfig(**values).validate()  # type: ignore[arg-type]


def test_toml_and_json_round_trip(tmp_path: Path) -> None:
    cfg = TrainingConfig(
        epochs=7, schedule="multistep", milestones=[2, 5], betas=(0.8, 0.95), run_dir='odd "dir"\\x',
        loss_weights={"keypoints": 1.0, "oks": 0.25}, synthetic={"subjects": 6, "val_subjects": [5, 6]},
    )
    for name in ("c.toml", "c.json"):
        cfg.save(tmp_path / name)
        assert TrainingConfig.load(tmp_path / name) == cfg
    # the TOML writer's output is real TOML
    assert tomllib.loads(to_toml(cfg.to_dict()))["milestones"] == [2, 5]


def test_load_rejects_unknown_keys_bad_types_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("epochs = 3\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError, match="unknown key 'learning_rate'"):
        TrainingConfig.load(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text('epochs = "three"\n')
    with pytest.raises(ConfigError, match="epochs: expected an integer"):
        TrainingConfig.load(tmp_path / "b.toml")
    (tmp_path / "c.toml").write_text("epochs = 3\nlr = = 3\n")
    with pytest.raises(ConfigError, match=r"c\.toml, line 2: not valid TOML: "):
        TrainingConfig.load(tmp_path / "c.toml")
    (tmp_path / "c.cfg").write_text("epochs = 3\n\n[oops\n")  # any suffix but .json is read as TOML
    with pytest.raises(ConfigError, match=r"c\.cfg, line 3: not valid TOML: "):
        TrainingConfig.load(tmp_path / "c.cfg")
    (tmp_path / "d.toml").write_text("epochs = [\n")  # an error tomllib places at the end, not on a line
    with pytest.raises(ConfigError, match=r"^\S*d\.toml, at the end: not valid TOML: Invalid value$"):
        TrainingConfig.load(tmp_path / "d.toml")
    (tmp_path / "c.json").write_text('{"epochs": 3,\n "lr": }')
    with pytest.raises(ConfigError, match=r"c\.json, line 2: not valid JSON: Expecting value \(column 8\)"):
        TrainingConfig.load(tmp_path / "c.json")
    (tmp_path / "c.yaml").write_text("epochs: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: YAML is not read; expected a TOML \(\.toml\) or JSON"):
        TrainingConfig.load(tmp_path / "c.yaml")
    (tmp_path / "c2.toml").write_bytes(b"epochs = 3\nrun_dir = '\xff'\n")
    with pytest.raises(ConfigError, match=r"c2\.toml, line 2: not UTF-8 text, so not a TOML config file"):
        TrainingConfig.load(tmp_path / "c2.toml")
    (tmp_path / "d.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ConfigError, match="top level"):
        TrainingConfig.load(tmp_path / "d.json")
    with pytest.raises(ConfigError, match="cannot read"):
        TrainingConfig.load(tmp_path / "missing.toml")
    (tmp_path / "e.toml").write_text("epochs = 2\nwarmup_epochs = 2\n")
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainingConfig.load(tmp_path / "e.toml")


def test_overrides_parse_by_field_type() -> None:
    cfg = TrainingConfig().with_overrides([
        "epochs=3", "lr=5e-4", "amp=bf16", "heatmap=true", "schedule=multistep", "milestones=[1,2]",
        "betas=0.8,0.9", "loss_weights.bone=0.5", "synthetic.subjects=4", "synthetic.val_subjects=[3, 4]", "run_dir=/tmp/x y", "mmfi_root=123",
    ])  # fmt: skip
    assert cfg.epochs == 3 and isinstance(cfg.epochs, int)
    assert cfg.lr == 5e-4 and cfg.amp == "bf16" and cfg.heatmap is True
    assert cfg.milestones == [1, 2] and cfg.betas == (0.8, 0.9)
    assert cfg.loss_weights == {"keypoints": 1.0, "bone": 0.5}
    assert cfg.synthetic == {**DEFAULT_SYNTHETIC, "subjects": 4, "val_subjects": [3, 4]}
    assert cfg.run_dir == "/tmp/x y" and cfg.mmfi_root == "123"
    assert TrainingConfig().epochs != 3  # the original is untouched


@pytest.mark.parametrize(("assignment", "message"), [
    ("epoch=3", "unknown key 'epoch'"),
    ("epochs", "expected key=value"),
    ("epochs=many", "epochs: expected an integer"),
    ("heatmap=maybe", "heatmap: expected true or false"),
    ("lr=-1", "lr: must be a finite number > 0"),
    ("epochs.x=1", "epochs has no sub-keys"),
    ("loss_weights.elbow=1", "unknown term 'elbow'"),
    ("synthetic.foo=1", "synthetic.foo: unknown setting; valid synthetic.* keys: seed, family, subjects,"),
    ("warmup_epochs=one", "warmup_epochs: expected an integer, got 'one'"),
])  # fmt: skip
def test_bad_overrides_raise(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainingConfig().with_overrides([assignment])
    assert message in str(info.value)


def test_every_field_has_a_docstring() -> None:
    import ast
    import inspect

    import csipose.config as module

    tree = ast.parse(inspect.getsource(module))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TrainingConfig")
    body = cls.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign):
            nxt = body[i + 1]
            assert isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant), ast.unparse(node)


def test_default_synthetic_data_is_a_valid_generator_config_and_not_shared() -> None:
    from csipose.data.synthetic import SyntheticConfig

    a, b = TrainingConfig(), TrainingConfig()
    a.synthetic["val_subjects"].append(1)
    assert b.synthetic == DEFAULT_SYNTHETIC
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in DEFAULT_SYNTHETIC.items()}
    synth = SyntheticConfig(**values)
    assert len(synth.train_subjects) == 32 and len(synth.val_subjects) == 8
    assert {synth.environment_of(s) for s in range(1, synth.subjects + 1)} == {1}


def test_one_epoch_runs_without_warmup_unless_warmup_is_set() -> None:
    cfg = TrainingConfig().with_overrides(["epochs=1"])
    assert cfg.warmup_epochs is None and cfg.resolved_warmup_epochs() == 0
    assert TrainingConfig(epochs=2).resolved_warmup_epochs() == 1
    assert TrainingConfig(epochs=5, warmup_epochs=3).resolved_warmup_epochs() == 3
    assert TrainingConfig(epochs=1, warmup_epochs=0).validate().resolved_warmup_epochs() == 0
    with pytest.raises(ConfigError, match=r"warmup_epochs: must be an integer in \[0, epochs = 1\)"):
        TrainingConfig().with_overrides(["epochs=1", "warmup_epochs=1"])


def test_an_unset_warmup_survives_every_file_format(tmp_path: Path) -> None:
    cfg = TrainingConfig(epochs=3)
    for name in ("c.toml", "c.json"):
        cfg.save(tmp_path / name)
        assert TrainingConfig.load(tmp_path / name).warmup_epochs is None
    assert "warmup_epochs" not in to_toml(cfg.to_dict())  # TOML has no null: unset is left out
    assert TrainingConfig.from_dict({"warmup_epochs": None}).warmup_epochs is None
    (tmp_path / "w.toml").write_text("warmup_epochs = 2.5\n")
    with pytest.raises(ConfigError, match="warmup_epochs: expected an integer"):
        TrainingConfig.load(tmp_path / "w.toml")


def test_the_schedule_says_once_that_a_one_epoch_run_skips_warmup(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    from csipose.train.schedule import build_scheduler

    def first_factor(cfg: TrainingConfig) -> float:
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        return float(build_scheduler(optimizer, cfg, steps_per_epoch=4).get_last_lr()[0])

    assert first_factor(TrainingConfig(epochs=1)) == 1.0  # no warm-up: the peak rate from the first step
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert len(notes) == 1 and "no learning-rate warm-up, since epochs = 1" in notes[0], notes
    assert first_factor(TrainingConfig(epochs=2)) == 0.25  # one epoch of 4 steps: 1/4 at the first
    assert first_factor(TrainingConfig(epochs=1, warmup_epochs=0)) == 1.0
    assert capsys.readouterr().err == ""  # said only when the default was clamped


def test_describe_settings_lists_every_setting_with_its_default_and_meaning() -> None:
    import dataclasses
    import re

    from csipose.config import describe_settings
    from csipose.data.synthetic import SyntheticConfig

    text = describe_settings()
    lines = text.splitlines()
    defaults = TrainingConfig().to_dict()
    for f in dataclasses.fields(TrainingConfig):
        line = next((ln for ln in lines if ln.startswith(f"{f.name} = ")), None)
        assert line is not None, f.name
        if defaults[f.name] is None:
            assert line == f"{f.name} = (unset)"
        else:
            assert tomllib.loads(line)[f.name] == defaults[f.name], line
        meaning = lines[lines.index(line) + 1]
        assert meaning.startswith("    ") and len(meaning.split()) >= 2, (line, meaning)
    assert "    Peak AdamW learning rate." in lines
    assert "    Epochs of linear learning-rate warm-up (per step); must be < epochs. Unset: one epoch, or none" in text
    for f in dataclasses.fields(SyntheticConfig):
        line = next((ln for ln in lines if ln.startswith(f"synthetic.{f.name} = ")), None)
        assert line is not None, f.name
        if f.name in DEFAULT_SYNTHETIC:
            expected = DEFAULT_SYNTHETIC[f.name]
        elif f.name in ("features", "window", "subcarriers", "subcarrier_mode"):
            assert line.endswith("= (unset)") and f"follows the run's {f.name} setting" in " ".join(text.split())
            continue
        else:
            expected = f.default
        if expected is None:  # a generator setting unset by default (e.g. environments)
            assert line == f"synthetic.{f.name} = (unset)", line
            continue
        value = tomllib.loads(line.removeprefix("synthetic."))[f.name]
        assert value == (list(expected) if isinstance(expected, tuple) else expected), line
    assert "synthetic.snr_db = 40.0\n    Signal-to-noise ratio of the measured CSI" in text
    assert not re.search(r"``|:class:|:data:|:mod:", text)  # the reST markup of the docstrings is gone


def test_a_recorded_config_drops_generator_settings_it_never_used() -> None:
    """Runs of older csipose recorded synthetic.* beside data = mmfi; their checkpoints still load."""
    old = {**TrainingConfig(data="mmfi", mmfi_root="/d").to_dict(), "synthetic": {**DEFAULT_SYNTHETIC, "frames": 6}}
    with pytest.raises(ConfigError, match="synthetic.frames: a generator setting, but data = 'mmfi'"):
        TrainingConfig.from_dict(old)
    loaded = TrainingConfig.from_dict(old, recorded=True)
    assert loaded.data == "mmfi" and loaded.synthetic == DEFAULT_SYNTHETIC
    kept = {**TrainingConfig().to_dict(), "synthetic": {**DEFAULT_SYNTHETIC, "frames": 6}}
    assert TrainingConfig.from_dict(kept, recorded=True).synthetic["frames"] == 6  # synthetic runs keep theirs
