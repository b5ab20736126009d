"""Full-state checkpoints: written atomically, read with ``weights_only=True``.

A checkpoint is a dict of tensors and builtin containers only (no pickled
objects), so :func:`torch.load` can read it with ``weights_only=True``. It holds
everything an exact resume needs: model, optimizer, scheduler and grad-scaler
state, the epoch/step position, best metric, early-stopping counters, the
config as a dict, the RNG states of python, numpy and torch, and versions.

Every checkpoint carries the SHA-256 of all its tensors (``checksum``), written with
it and checked on every load: a flipped bit in a weight is a :class:`CheckpointError`
naming the file, never a silently different model.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from csipose.errors import CheckpointError

__all__ = [
    "FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "read_torch_file",
    "capture_rng",
    "error_reason",
    "tensors_sha256",
    "restore_rng",
    "weights_sha256",
    "versions",
]

#: Layout version of the checkpoint dict.
FORMAT = 3  # 3: a sha256 checksum of the tensors; 2: model_settings (any zoo model) replace model_args
#: Formats this csipose reads (2 has no checksum).
READS = (2, 3)
_REQUIRED = ("format", "model", "config", "epoch", "step")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def versions() -> dict[str, str]:
    """Versions of the packages that shaped a checkpoint."""
    from csipose import __version__

    return {"csipose": str(__version__), "torch": str(torch.__version__), "numpy": str(np.__version__)}


def capture_rng() -> dict[str, Any]:
    """RNG states of python, numpy's legacy global RNG, torch CPU and CUDA, as tensors/builtins."""
    py_version, py_state, py_gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
        "numpy": {
            "kind": str(np_kind),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Writes ``state`` and the checksum of its tensors to ``path`` atomically (temp file, fsync, rename).

    A crash at any moment leaves either the previous file or the new one, never a torn file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {**state, "checksum": tensors_sha256(state)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def error_reason(err: BaseException, limit: int = 240) -> str:
    """``err`` as one plain line: no terminal colour codes, at most ``limit`` characters, cut between words."""
    lines = [line.strip() for line in _ANSI.sub("", str(err)).splitlines() if line.strip()]
    text = lines[0] if lines else type(err).__name__
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    if text[limit - 3] != " " and " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "..."


def _load_failure(err: Exception) -> str:
    """The useful part of a ``torch.load`` failure: the unpickler's own reason, not torch's advice."""
    text = _ANSI.sub("", str(err))
    marker = "WeightsUnpickler error:"
    if marker in text:
        reason = text.split(marker, 1)[1].strip()
        first = reason.split(". ", 1)[0].rstrip(".")  # the reason, without the advice that follows it
        return f"{type(err).__name__}: {error_reason(ValueError(first))}"
    return f"{type(err).__name__}: {error_reason(err)}" if text.strip() else type(err).__name__


def _archive_damage(path: Path) -> str | None:
    """Why ``path``, which ``torch.load`` could not read, is not the zip archive ``torch.save``
    writes (None when it is one, and the fault is inside): cut short, or another kind of file."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(4)
    if zipfile.is_zipfile(path):
        return None
    if head == b"PK\x03\x04":
        return f"truncated or damaged: a zip archive of {size} bytes without its end record; copy or write it again"
    return f"not the zip archive torch.save writes: {size} bytes starting {head!r}"


def read_torch_file(path: str | os.PathLike[str], what: str, *, map_location: str | torch.device = "cpu") -> Any:
    """What ``torch.save`` wrote to ``path``, read with ``weights_only=True``.

    Raises:
        CheckpointError: "``path``: not a readable ``what`` (why)": cut short, another kind of
            file, or torch's own reason.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for damaged files; say what is wrong with the file
        raise CheckpointError(f"{path}: not a readable {what} ({_archive_damage(path) or _load_failure(err)})") from None


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads a checkpoint with ``weights_only=True`` and checks its checksum; any problem raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    state = read_torch_file(path, "checkpoint", map_location=map_location)
    if not isinstance(state, dict) or any(k not in state for k in _REQUIRED):
        raise CheckpointError(f"{path}: not a csipose checkpoint (missing {', '.join(_REQUIRED)})")
    if state["format"] not in READS:
        raise CheckpointError(
            f"{path}: checkpoint format {state['format']}, this csipose reads formats {', '.join(map(str, READS))}"
        )
    if state["format"] >= 3:
        stored = state.pop("checksum", None)
        if not isinstance(stored, str):
            raise CheckpointError(f"{path}: format {state['format']} checkpoint without its tensor checksum")
        if tensors_sha256(state) != stored:
            raise CheckpointError(
                f"{path}: corrupt checkpoint: its tensors do not match the sha256 checksum written with them"
            )
    return state


def _tensors(value: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    if isinstance(value, torch.Tensor):
        out[prefix] = value
    elif isinstance(value, dict):
        for key, item in value.items():
            _tensors(item, f"{prefix}/{key}", out)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _tensors(item, f"{prefix}/{i}", out)


def tensors_sha256(state: dict[str, Any]) -> str:
    """:func:`weights_sha256` over every tensor of a checkpoint dict (nested), named by its path; ``checksum`` excluded."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key != "checksum":
            _tensors(value, str(key), tensors)
    return weights_sha256(tensors)


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over tensors sorted by name, hashing name, dtype, shape and the raw bytes."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().to("cpu").contiguous()
        digest.update(name.encode())
        digest.update(str(t.dtype).encode())
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()
