"""Discovery of the MM-Fi folder layout.

``ROOT/E01..E04/S01..S40/A01..A27/`` holds ``ground_truth.npy`` and a
``wifi-csi/`` folder of ``frame001.mat .. frame297.mat``. Other modality folders
(rgb, depth, mmwave, ...) and stray files are ignored; a sequence without a
``wifi-csi`` folder is not a WiFi sequence and is skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from csipose.errors import DatasetError

__all__ = ["CsiSequence", "FrameFile", "discover", "fingerprint", "sequence_at"]

_ENV = re.compile(r"E\d{2}")
_SUBJECT = re.compile(r"S\d{2}")
_ACTION = re.compile(r"A\d{2}")
_FRAME = re.compile(r"frame(\d+)\.mat")


@dataclass(frozen=True)
class FrameFile:
    """One ``wifi-csi/frameNNN.mat`` file: 1-based frame number, path and stat."""

    number: int
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class CsiSequence:
    """One recording (environment, subject, action) with its frame files, sorted by number."""

    environment: str
    subject: str
    action: str
    gt_path: Path
    frames: tuple[FrameFile, ...] = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.environment}/{self.subject}/{self.action}"

    @property
    def skipped(self) -> tuple[FrameFile, ...]:
        """The 0-byte frame files, which the official toolbox skips."""
        return tuple(f for f in self.frames if f.size == 0)


def _subdirs(path: Path, pattern: re.Pattern[str]) -> list[Path]:
    with os.scandir(path) as it:
        return sorted(Path(e.path) for e in it if pattern.fullmatch(e.name) and e.is_dir())


def discover(
    root: str | os.PathLike[str],
    *,
    subjects: Iterable[str] | None = None,
    pairs: Collection[tuple[str, str]] | None = None,
) -> list[CsiSequence]:
    """Finds every WiFi-CSI sequence under ``root``, sorted by (environment, subject, action).

    Args:
        root: the MM-Fi root holding ``E01`` .. ``E04``.
        subjects: only these subjects' folders are walked (all when None).
        pairs: only these (subject, action) sequences are returned (all when None).

    Raises:
        DatasetError: ``root`` is missing or holds no ``E??`` folder; a sequence with
            a ``wifi-csi`` folder has no ``ground_truth.npy``.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: MM-Fi root not found; expected a folder holding E01..E04")
    envs = _subdirs(base, _ENV)
    if not envs:
        raise DatasetError(f"{base}: no environment folders; expected E01..E04/S??/A??/wifi-csi/frame001.mat")
    wanted = None if subjects is None else set(subjects)
    out: list[CsiSequence] = []
    for env in envs:
        for subj in _subdirs(env, _SUBJECT):
            if wanted is not None and subj.name not in wanted:
                continue
            for act in _subdirs(subj, _ACTION):
                if pairs is not None and (subj.name, act.name) not in pairs:
                    continue
                seq = _sequence(env.name, subj.name, act)
                if seq is not None:
                    out.append(seq)
    return out


def _sequence(environment: str, subject: str, folder: Path) -> CsiSequence | None:
    """The sequence in ``folder`` (``A??`` holding ``wifi-csi/``); None without a ``wifi-csi`` folder."""
    csi_dir = folder / "wifi-csi"
    if not csi_dir.is_dir():
        return None
    gt = folder / "ground_truth.npy"
    if not gt.is_file():
        raise DatasetError(f"{gt}: missing; expected ground_truth.npy (297, 17, 3) beside wifi-csi/")
    frames = []
    with os.scandir(csi_dir) as it:
        for e in it:
            m = _FRAME.fullmatch(e.name)
            if m and e.is_file():
                st = e.stat()
                frames.append(FrameFile(int(m.group(1)), Path(e.path), st.st_size, st.st_mtime_ns))
    frames.sort(key=lambda f: f.number)
    return CsiSequence(environment, subject, folder.name, gt, tuple(frames))


def sequence_at(folder: str | os.PathLike[str]) -> CsiSequence:
    """The one sequence in ``folder`` (``.../E01/S01/A01`` holding ``wifi-csi/`` and
    ``ground_truth.npy``); environment and subject come from the parent folders' names
    (``E00``/``S00`` when they do not follow the layout).

    Raises:
        DatasetError: no ``wifi-csi`` folder or no ground truth in ``folder``.
    """
    path = Path(folder)
    subject = path.parent.name if _SUBJECT.fullmatch(path.parent.name) else "S00"
    environment = path.parent.parent.name if _ENV.fullmatch(path.parent.parent.name) else "E00"
    seq = _sequence(environment, subject, path)
    if seq is None:
        raise DatasetError(f"{path}: no wifi-csi folder; expected a sequence folder holding wifi-csi/frame001.mat")
    return seq


def fingerprint(root: str | os.PathLike[str], sequences: Sequence[CsiSequence]) -> str:
    """SHA-256 over the sorted relative paths, sizes and mtimes of every file the data comes from."""
    base = Path(root)
    h = hashlib.sha256()
    for seq in sequences:
        st = seq.gt_path.stat()
        h.update(f"{seq.gt_path.relative_to(base).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        for f in seq.frames:
            h.update(f"{f.path.relative_to(base).as_posix()}\t{f.size}\t{f.mtime_ns}\n".encode())
    return h.hexdigest()
