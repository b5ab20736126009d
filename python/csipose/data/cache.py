"""The packed, memory-mapped MM-Fi cache: one pass over the .mat files, then mmap reads.

Reading ~320k small .mat files per epoch is what makes MM-Fi slow to train on.
:func:`prepare_mmfi` reads every WiFi frame once and packs it into ``.npy`` arrays
that :class:`~csipose.data.MMFiDataset` maps into memory:

    CACHE/amplitude.npy   float32[N, 3, 114, 10]  raw CSIamp (NaN/inf kept; cleaning is applied on read)
    CACHE/phase.npy       float32[N, 3, 114, 10]  sanitised CSIphase (see cleaning.phase_feature)
    CACHE/keypoints.npy   float32[N, 17, 3]       the ground-truth row of each frame, metres
    CACHE/frames.npy      int64[N, 4]             environment, subject, action, frame number (1-based)
    CACHE/manifest.json   format, version, source fingerprint, counts, sequences, skipped files

Amplitude is kept raw so either cleaning can be applied on read; phase is
stored sanitised because sanitising (unwrap + line fit per packet) costs more
than everything else a read does, and it has no options.

Rows are sorted by (environment, subject, action, frame); 0-byte frame files are
skipped and listed. The manifest is written last, so a cache without one is
incomplete. A cache whose fingerprint no longer matches the source tree (files
added, removed, resized or touched) is refused.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from csipose.data.cleaning import phase_feature
from csipose.data.layout import CsiSequence, discover, fingerprint
from csipose.data.matfile import FRAME_SHAPE, GT_JOINTS, read_csi_frame, read_ground_truth
from csipose.errors import ArgumentError, DatasetError

__all__ = ["CACHE_FORMAT", "CACHE_VERSION", "MMFiCache", "open_cache", "prepare_mmfi"]

CACHE_FORMAT = "csipose-mmfi-cache"
CACHE_VERSION = 1
_ARRAYS = ("amplitude", "phase", "keypoints", "frames")


def _code(name: str) -> int:
    """``"S07" -> 7``."""
    return int(name[1:])


def _load_keypoints(seq: CsiSequence, frames: Sequence[int]) -> np.ndarray:
    """``float32[len(frames), 17, 3]``: the ground-truth rows of 1-based ``frames``."""
    gt = read_ground_truth(seq.gt_path)
    if frames and min(frames) < 1:
        raise DatasetError(
            f"{seq.gt_path.parent / 'wifi-csi'}: has frame{min(frames):03d}.mat; expected 1-based frame001.mat .."
        )
    if frames and max(frames) > gt.shape[0]:
        raise DatasetError(
            f"{seq.gt_path}: holds {gt.shape[0]} frames but {seq.key}/wifi-csi has frame{max(frames):03d}.mat; "
            "expected one ground-truth row per frame"
        )
    return gt[np.asarray(frames, dtype=np.int64) - 1]


def _fill_rows(cache_dir: str, start: int, paths: Sequence[str]) -> int:
    """Reads ``paths`` and writes their amplitude and phase to rows ``start..`` of the cache."""
    amp = np.load(os.path.join(cache_dir, "amplitude.npy"), mmap_mode="r+")
    pha = np.load(os.path.join(cache_dir, "phase.npy"), mmap_mode="r+")
    raw_phase = np.empty((len(paths), *FRAME_SHAPE), dtype=np.float32)
    for i, path in enumerate(paths):
        amp[start + i], raw_phase[i] = read_csi_frame(path)
    pha[start : start + len(paths)] = phase_feature(raw_phase)
    amp.flush()
    pha.flush()
    return len(paths)


class _Progress:
    """A tqdm bar when tqdm is installed and wanted; silence otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                print(f"packing {total} frames...", file=sys.stderr)
            else:
                self._bar = tqdm(total=total, unit="frame", desc="csipose: packing MM-Fi", file=sys.stderr)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def prepare_mmfi(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Packs every WiFi frame of an MM-Fi tree into a memory-mapped cache.

    Args:
        root: the MM-Fi root (``E01..E04/S??/A??/wifi-csi/frame001.mat``).
        cache_dir: where the cache goes; created if missing, overwritten if present.
        workers: reader processes; None = one per CPU (at most 8), 0 or 1 = in this process.
        progress: show a tqdm progress bar on stderr.

    Returns:
        The manifest that was written (see the module docstring).

    Raises:
        DatasetError: a missing root or ground truth, an unreadable or misshapen file.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ArgumentError(f"workers: expected None or an integer >= 0, got {workers!r}")
    started = time.perf_counter()
    source = Path(root)
    sequences = discover(source)
    if not sequences:
        raise DatasetError(f"{source}: no wifi-csi sequences; expected E??/S??/A??/wifi-csi/frame001.mat")
    source_print = fingerprint(source, sequences)

    out = Path(cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest_path.unlink(missing_ok=True)

    keypoints: list[np.ndarray] = []
    index: list[np.ndarray] = []
    tasks: list[tuple[int, list[str]]] = []
    seq_entries: list[dict[str, Any]] = []
    skipped: list[str] = []
    row = 0
    for seq in sequences:
        kept = [f for f in seq.frames if f.size > 0]
        skipped.extend(f.path.relative_to(source).as_posix() for f in seq.skipped)
        numbers = [f.number for f in kept]
        keypoints.append(_load_keypoints(seq, numbers))
        codes = (_code(seq.environment), _code(seq.subject), _code(seq.action))
        index.append(np.array([(*codes, n) for n in numbers], dtype=np.int64).reshape(-1, 4))
        seq_entries.append({"key": seq.key, "start": row, "count": len(kept), "skipped": len(seq.skipped)})
        if kept:
            tasks.append((row, [os.fspath(f.path) for f in kept]))
        row += len(kept)
    n = row

    shape = (n, *FRAME_SHAPE)
    for name in ("amplitude", "phase"):
        np.lib.format.open_memmap(out / f"{name}.npy", mode="w+", dtype=np.float32, shape=shape).flush()
    np.save(out / "keypoints.npy", np.concatenate(keypoints).reshape(n, *GT_JOINTS))
    np.save(out / "frames.npy", np.concatenate(index).reshape(n, 4))

    n_workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    n_workers = min(n_workers, len(tasks))
    bar = _Progress(n, progress)
    try:
        if n_workers <= 1:
            for start, paths in tasks:
                bar.update(_fill_rows(os.fspath(out), start, paths))
        else:
            # fork where the OS has it: the workers only read files, sanitise phase and
            # copy arrays, while spawn would re-import the caller's script (breaking
            # scripts without a ``__main__`` guard) and pay an interpreter start per worker.
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool, warnings.catch_warnings():
                # Python >= 3.12 warns on fork() in a process with threads; the only threads
                # here are the csipose pool's, which is rebuilt in the child after fork.
                warnings.filterwarnings("ignore", message=".*fork\\(\\) may lead to deadlocks", category=DeprecationWarning)
                futures = [pool.submit(_fill_rows, os.fspath(out), start, paths) for start, paths in tasks]
                try:
                    for fut in as_completed(futures):
                        bar.update(fut.result())
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    finally:
        bar.close()

    manifest: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "root": os.fspath(source.resolve()),
        "fingerprint": source_print,
        "frames": n,
        "frame_shape": list(FRAME_SHAPE),
        "sequences": seq_entries,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 3),
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, manifest_path)
    return manifest


@dataclass
class MMFiCache:
    """An opened cache: its manifest and lazily memory-mapped arrays.

    Pickles without its maps (DataLoader workers reopen them), never as array copies.
    """

    path: Path
    manifest: dict[str, Any]

    def __post_init__(self) -> None:
        self._maps: dict[str, np.ndarray] = {}

    def array(self, name: str) -> np.ndarray:
        """``amplitude``, ``phase``, ``keypoints`` or ``frames``, mapped read-only."""
        if name not in self._maps:
            file = self.path / f"{name}.npy"
            try:
                # a plain ndarray view of the map: np.memmap's per-slice bookkeeping costs
                # more than copying one frame
                self._maps[name] = np.load(file, mmap_mode="r").view(np.ndarray)
            except (OSError, ValueError) as err:
                raise DatasetError(f"{file}: unreadable cache array ({err}); run `csipose data prepare` again") from err
        return self._maps[name]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "manifest": self.manifest}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.manifest = state["manifest"]
        self._maps = {}


def open_cache(
    cache_dir: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    *,
    sequences: Sequence[CsiSequence] | None = None,
) -> MMFiCache:
    """Opens a cache written by :func:`prepare_mmfi` and checks it.

    Args:
        cache_dir: the cache folder.
        root: when given, the cache must have been made from this tree as it is now
            (same files, sizes and mtimes).
        sequences: the already discovered sequences of ``root`` (saves a second walk).

    Raises:
        DatasetError: no or unreadable manifest, a foreign format, an unknown version,
            missing or misshapen arrays, or a stale fingerprint.
    """
    path = Path(cache_dir)
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise DatasetError(f"{mpath}: missing; expected a cache made by `csipose data prepare ROOT --out {path}`")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{mpath}: unreadable ({err}); expected JSON written by csipose") from err
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
        raise DatasetError(f"{mpath}: not a csipose MM-Fi cache; expected format {CACHE_FORMAT!r}")
    if manifest.get("version") != CACHE_VERSION:
        raise DatasetError(
            f"{mpath}: cache format version {manifest.get('version')!r}; this csipose reads version "
            f"{CACHE_VERSION}: run `csipose data prepare` again"
        )
    cache = MMFiCache(path, manifest)
    n = int(manifest["frames"])
    expected = {
        "amplitude": (n, *FRAME_SHAPE),
        "phase": (n, *FRAME_SHAPE),
        "keypoints": (n, *GT_JOINTS),
        "frames": (n, 4),
    }
    for name, shape in expected.items():
        got = cache.array(name).shape
        if got != shape:
            raise DatasetError(f"{path / (name + '.npy')}: shape {got}; expected {shape} from the manifest")
    if root is not None:
        seqs = discover(root) if sequences is None else sequences
        if fingerprint(root, seqs) != manifest["fingerprint"]:
            raise DatasetError(
                f"{path}: stale cache; the files under {root} changed since it was made "
                f"(source fingerprint differs): run `csipose data prepare {root} --out {path}` again"
            )
    return cache

