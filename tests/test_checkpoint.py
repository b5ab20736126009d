"""Checkpoint files: weights-only round trip, RNG capture, atomic writes, corrupt files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from csipose.errors import CheckpointError
from csipose.models import build_model
from csipose.train import checkpoint as ckpt


def _state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, object]:
    return {
        "format": ckpt.FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "config": {"epochs": 3, "betas": [0.9, 0.999], "synthetic": {}},
        "epoch": 2,
        "step": 17,
        "rng": ckpt.capture_rng(),
        "versions": ckpt.versions(),
    }


def test_round_trip_with_weights_only(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 1, 3, 114, 10))["keypoints"].sum().backward()
    optimizer.step()
    path = tmp_path / "a" / "last.pt"
    ckpt.save_checkpoint(path, _state(model, optimizer))
    # the file itself loads with weights_only=True (no pickled objects)
    raw = torch.load(path, weights_only=True)
    assert raw["step"] == 17
    state = ckpt.load_checkpoint(path)
    twin = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    twin.load_state_dict(state["model"])
    assert ckpt.weights_sha256(twin.state_dict()) == ckpt.weights_sha256(model.state_dict())
    opt2 = torch.optim.AdamW(twin.parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    assert list(tmp_path.joinpath("a").iterdir()) == [path]  # no temp file left behind


def test_rng_states_restore_exactly() -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    random.random(), np.random.normal(), torch.rand(1)  # move off the seeds (numpy keeps a cached gaussian)
    saved = ckpt.capture_rng()
    expected = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    ckpt.restore_rng(saved)
    got = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])


def test_hash_depends_on_values_names_dtypes_and_shapes() -> None:
    a = {"w": torch.zeros(2, 2), "b": torch.ones(1)}
    base = ckpt.weights_sha256(a)
    assert ckpt.weights_sha256({"b": torch.ones(1), "w": torch.zeros(2, 2)}) == base  # order-free
    assert ckpt.weights_sha256({**a, "w": torch.zeros(4)}) != base
    assert ckpt.weights_sha256({**a, "w": torch.zeros(2, 2, dtype=torch.float64)}) != base
    assert ckpt.weights_sha256({"v": torch.zeros(2, 2), "b": torch.ones(1)}) != base
    changed = {**a, "b": torch.tensor([1.0000001])}
    assert ckpt.weights_sha256(changed) != base
    # 0-d tensors hash too, by value
    assert ckpt.weights_sha256({"s": torch.tensor(3.0)}) != ckpt.weights_sha256({"s": torch.tensor(4.0)})


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_corrupt_or_missing_checkpoint_is_a_checkpoint_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pt"):
        ckpt.load_checkpoint(path)


def test_truncated_and_foreign_checkpoints_are_rejected(tmp_path: Path) -> None:
    model = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    good = tmp_path / "good.pt"
    ckpt.save_checkpoint(good, _state(model, torch.optim.AdamW(model.parameters())))
    data = good.read_bytes()
    for cut in (100, 5000, len(data) // 2, len(data) - 1):  # a cut anywhere says it is cut short
        (tmp_path / "cut.pt").write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"cut.pt: not a readable checkpoint \\(truncated .* {cut} bytes"):
            ckpt.load_checkpoint(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("epochs = 3\n")
    with pytest.raises(CheckpointError, match="text.pt: not a readable checkpoint \\(not the zip archive torch.save"):
        ckpt.load_checkpoint(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a csipose checkpoint"):
        ckpt.load_checkpoint(tmp_path / "foreign.pt")
    torch.save({**_state(model, torch.optim.AdamW(model.parameters())), "format": 99}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        ckpt.load_checkpoint(tmp_path / "new.pt")


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    model = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    ckpt.save_checkpoint(path, _state(model, torch.optim.AdamW(model.parameters())))
    before = path.read_bytes()
    with pytest.raises(Exception):
        ckpt.save_checkpoint(path, {"format": 1, "bad": lambda: None})  # not serialisable
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_one_flipped_bit_in_a_weight_is_a_checkpoint_error_naming_the_file(tmp_path: Path) -> None:
    model = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    with torch.no_grad():
        next(model.parameters()).fill_(0.123)
    path = tmp_path / "last.pt"
    ckpt.save_checkpoint(path, _state(model, torch.optim.AdamW(model.parameters())))
    assert isinstance(torch.load(path, weights_only=True)["checksum"], str)
    ckpt.load_checkpoint(path)  # intact: loads
    data = bytearray(path.read_bytes())
    at = data.find(np.float32(0.123).tobytes() * 4)  # the raw weight bytes inside the archive
    assert at > 0
    data[at + 1] ^= 0x01
    (tmp_path / "flipped.pt").write_bytes(data)
    with pytest.raises(CheckpointError, match=r"flipped.pt: corrupt checkpoint: its tensors do not match the sha256"):
        ckpt.load_checkpoint(tmp_path / "flipped.pt")


def test_a_changed_tensor_or_a_missing_checksum_is_refused(tmp_path: Path) -> None:
    model = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    ckpt.save_checkpoint(tmp_path / "a.pt", _state(model, torch.optim.AdamW(model.parameters())))
    raw = torch.load(tmp_path / "a.pt", weights_only=True)
    raw["rng"]["torch"][5] ^= 1  # any tensor counts, not only the weights
    torch.save(raw, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="b.pt: corrupt checkpoint"):
        ckpt.load_checkpoint(tmp_path / "b.pt")
    del raw["checksum"]
    torch.save(raw, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="c.pt: format 3 checkpoint without its tensor checksum"):
        ckpt.load_checkpoint(tmp_path / "c.pt")


def test_format_2_checkpoints_without_a_checksum_still_load(tmp_path: Path) -> None:
    model = build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4)
    old = {**_state(model, torch.optim.AdamW(model.parameters())), "format": 2}
    torch.save(old, tmp_path / "old.pt")  # as csipose wrote them before checksums
    state = ckpt.load_checkpoint(tmp_path / "old.pt")
    assert ckpt.weights_sha256(state["model"]) == ckpt.weights_sha256(model.state_dict())


def test_load_errors_are_plain_lines_without_colour_codes_or_cut_words(tmp_path: Path) -> None:
    import fractions

    torch.save({**_state(build_model(shape=(1, 3, 114, 10), width=16, depth=1, heads=2, tokens=4),
                         torch.optim.SGD([torch.zeros(1, requires_grad=True)])), "odd": fractions.Fraction(1, 3)},
               tmp_path / "pickled.pt")  # fmt: skip
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(tmp_path / "pickled.pt")
    message = str(info.value)
    assert "\x1b" not in message and "\n" not in message
    assert message.endswith("(UnpicklingError: Unsupported global: GLOBAL fractions.Fraction was not an allowed "
                            "global by default)")


def test_error_reason_cuts_between_words() -> None:
    long = RuntimeError("\x1b[1mError(s) in loading state_dict\x1b[0m: " + "size mismatch for backbone.weight " * 20)
    reason = ckpt.error_reason(long, limit=80)
    assert "\x1b" not in reason and len(reason) <= 80 and reason.endswith("...")
    words = set(str(long).replace("\x1b[1m", "").replace("\x1b[0m", "").split())
    assert all(w in words for w in reason[:-3].split())
    assert ckpt.error_reason(ValueError("short")) == "short"
