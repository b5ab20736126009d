"""The deterministic training proof behind ``csipose verify``.

A fixed, small run — seed 0, ``torch.use_deterministic_algorithms(True)``, one
thread, a small model trained for :data:`STEPS` AdamW steps on a small synthetic
set — is compared with the record kept for this platform in
``proof_hashes.json``, and its loss on the training set must fall to at most
:data:`LOSS_RATIO` of its initial value. The model starts from a zero pose (no
mean-pose prior), so the fall measures learning.

The exact bits of the weights depend on which vector kernels the CPU runs
(``torch.backends.cpu.get_cpu_capability()``: AVX512, AVX2, DEFAULT, ...), so a
platform's record holds two things:

- ``sha256``: the SHA-256 of the final weights per CPU capability — bit-exact
  reproduction is checked where this capability has one;
- ``reference``: what carries across CPUs — the training loss curve (the loss on
  the whole set before and after, and the loss of every step's batch) and a fixed
  random projection of the weight update (:data:`PROJECTIONS` numbers); a run
  must match each to a relative tolerance (:data:`LOSS_RTOL`,
  :data:`PROJECTION_RTOL`) chosen from how far the CPU capabilities of one
  machine move them, with a wide margin.

Outcome: this capability's hash recorded and equal: PASS, bit-exact. Otherwise,
the reference matched within tolerance: PASS, within tolerance. Reference
outside tolerance, or the loss did not fall: FAIL, naming what moved and by how
much. Exit status of ``csipose verify``: 0 pass, 1 fail, 2 nothing recorded for
this platform (``--generate`` records it).
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from csipose.errors import ConfigError

__all__ = [
    "ProofResult",
    "run_proof",
    "platform_key",
    "cpu_capability",
    "compare",
    "verify",
    "HASHES",
    "STEPS",
    "LOSS_RATIO",
    "LOSS_RTOL",
    "PROJECTION_RTOL",
    "PROJECTIONS",
]

#: Where the records live, one per platform key.
HASHES = Path(__file__).with_name("proof_hashes.json")
#: Optimizer steps of the proof run.
STEPS = 30
#: The final training-set loss must be at most this fraction of the initial one.
LOSS_RATIO = 0.7
# Measured spread (every pair of six runs: an AMD EPYC under torch 2.15 and an Intel Xeon under
# torch 2.11, each with ATEN_CPU_CAPABILITY = avx512, avx2 and default): loss curve 4.2e-4,
# projection 8.3e-3. Raising the learning rate by 0.1% moves the loss curve 6.6e-3; by 1%, the
# loss curve 6.4e-2 and the projection 9.7e-2.
#: Largest allowed relative deviation of any point of the loss curve from the reference.
LOSS_RTOL = 2e-3
#: Largest allowed deviation of a component of the weight-update projection from the reference,
#: relative to the reference's root mean square.
PROJECTION_RTOL = 5e-2
#: Random directions the weight update is projected on.
PROJECTIONS = 32
_PROJECTION_SEED = 20240
_BATCH = 16
_LR = 3e-3


@dataclass(frozen=True)
class ProofResult:
    """What one proof run produced.

    ``losses``: the loss of every step's batch, ``float[steps]``; ``projection``: the weight
    update (final minus initial state, every float tensor sorted by name, flattened) times a
    fixed Gaussian matrix, ``float[PROJECTIONS]``.
    """

    sha256: str
    initial_loss: float
    final_loss: float
    steps: int
    seconds: float
    losses: tuple[float, ...] = ()
    projection: tuple[float, ...] = ()
    capability: str = ""

    @property
    def loss_fell(self) -> bool:
        return self.final_loss <= LOSS_RATIO * self.initial_loss

    def reference(self) -> dict[str, Any]:
        """The quantities compared across CPUs, as stored in the record."""
        return {
            "initial_loss": self.initial_loss,
            "final_loss": self.final_loss,
            "losses": list(self.losses),
            "projection": list(self.projection),
        }


def platform_key() -> str:
    """``"{sys.platform}-{machine}-torch{major}.{minor}"``: runs are only compared within one key."""
    major, minor = torch.__version__.split(".")[:2]
    return f"{sys.platform}-{platform.machine()}-torch{major}.{minor}"


def cpu_capability() -> str:
    """The vector kernels torch runs here (``AVX512``, ``AVX2``, ``DEFAULT``, ...); the exact bits follow it."""
    return str(torch.backends.cpu.get_cpu_capability())


def _proof_data() -> tuple[torch.Tensor, torch.Tensor]:
    """A small synthetic training set: ``csi float32[N, 1, 3, 114, 10]``, ``keypoints float32[N, 17, 3]``."""
    from csipose.data.synthetic import SyntheticConfig, SyntheticCsiDataset

    cfg = SyntheticConfig(seed=0, subjects=3, val_subjects=(3,), frames=16, features=("amplitude",))
    ds = SyntheticCsiDataset(cfg, split="train")
    rows = ds.label_index
    csi = torch.from_numpy(np.ascontiguousarray(ds.csi[rows][:, None]))
    kp = torch.from_numpy(np.ascontiguousarray(ds.keypoints[rows]))
    return csi, kp


def _flat_float_state(state: Mapping[str, torch.Tensor]) -> np.ndarray:
    """Every floating-point tensor of ``state``, sorted by name, as one ``float64[n]`` vector."""
    parts = [state[k].detach().to("cpu", torch.float64).reshape(-1).numpy() for k in sorted(state)
             if state[k].is_floating_point()]
    return np.concatenate(parts)


def _project(update: np.ndarray) -> tuple[float, ...]:
    """``update float64[n]`` times a fixed ``N(0, 1/n)`` matrix ``[PROJECTIONS, n]`` (numpy's PCG64 stream)."""
    directions = np.random.default_rng(_PROJECTION_SEED).standard_normal((PROJECTIONS, update.size))
    return tuple(float(v) for v in directions @ update / math.sqrt(update.size))


def run_proof(steps: int = STEPS, *, lr: float = _LR) -> ProofResult:
    """Runs the proof in this process (sets 1 thread and deterministic algorithms, then restores them).

    ``lr`` exists so a test can perturb the training; the proof itself always uses the default.
    """
    from csipose.losses import keypoint_loss
    from csipose.models import build_model
    from csipose.train.checkpoint import weights_sha256

    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    start = time.perf_counter()
    try:
        csi, kp = _proof_data()
        torch.manual_seed(0)
        model = build_model(model="csinet", shape=tuple(csi.shape[1:]), width=32, depth=1, heads=2, tokens=4,
                            readout=False)
        before = _flat_float_state(model.state_dict())
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, foreach=False)
        order = torch.randperm(len(csi), generator=torch.Generator().manual_seed(0))

        def full_loss() -> float:
            model.eval()
            with torch.no_grad():
                value = float(keypoint_loss(model(csi)["keypoints"], kp, kind="mse"))
            model.train()
            return value

        initial = full_loss()
        losses = []
        for step in range(steps):
            i = order[(step * _BATCH) % len(csi) :][:_BATCH]
            loss = keypoint_loss(model(csi[i])["keypoints"], kp[i], kind="mse")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        final = full_loss()
        return ProofResult(
            sha256=weights_sha256(model.state_dict()),
            initial_loss=initial,
            final_loss=final,
            steps=steps,
            seconds=time.perf_counter() - start,
            losses=tuple(losses),
            projection=_project(_flat_float_state(model.state_dict()) - before),
            capability=cpu_capability(),
        )
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was_deterministic)


def compare(result: ProofResult, reference: Mapping[str, Any]) -> tuple[float, float, list[str]]:
    """How far ``result`` is from a recorded reference.

    Returns ``(loss_deviation, projection_deviation, problems)``: the largest relative deviation
    of a loss-curve point, the largest deviation of a projection component relative to the
    reference's root mean square, and one line per quantity outside its tolerance (empty = within).
    """
    problems: list[str] = []
    ref_curve = [reference["initial_loss"], *reference["losses"], reference["final_loss"]]
    curve = [result.initial_loss, *result.losses, result.final_loss]
    names = ["initial loss", *(f"loss of step {s + 1}" for s in range(len(reference["losses"]))), "final loss"]
    if len(curve) != len(ref_curve):
        problems.append(f"loss curve: {len(curve) - 2} steps, the record has {len(ref_curve) - 2}")
        loss_dev = math.inf
    else:
        loss_dev, worst = _largest(curve, ref_curve, [abs(r) for r in ref_curve])
        if not loss_dev <= LOSS_RTOL:
            problems.append(
                f"{names[worst]} moved by {_rel(loss_dev)} (> {_rel(LOSS_RTOL)}): "
                f"{curve[worst]:.6g}, recorded {ref_curve[worst]:.6g}"
            )
    ref_proj = list(reference["projection"])
    if len(result.projection) != len(ref_proj):
        problems.append(f"weight projection: {len(result.projection)} numbers, the record has {len(ref_proj)}")
        proj_dev = math.inf
    else:
        rms = math.sqrt(sum(r * r for r in ref_proj) / max(1, len(ref_proj)))
        proj_dev, worst = _largest(result.projection, ref_proj, [rms] * len(ref_proj))
        if not proj_dev <= PROJECTION_RTOL:
            problems.append(
                f"weight projection {worst} moved by {_rel(proj_dev)} of its rms (> {_rel(PROJECTION_RTOL)}): "
                f"{result.projection[worst]:.6g}, recorded {ref_proj[worst]:.6g}"
            )
    return loss_dev, proj_dev, problems


def _largest(values: Sequence[float], recorded: Sequence[float], scales: Sequence[float]) -> tuple[float, int]:
    """The largest ``|value - recorded| / scale`` (NaN counts as infinite) and where it is."""
    devs = [abs(v - r) / s if s > 0 else abs(v - r) * math.inf for v, r, s in zip(values, recorded, scales)]
    devs = [d if not math.isnan(d) else math.inf for d in devs]
    worst = max(range(len(devs)), key=devs.__getitem__)
    return devs[worst], worst


def _rel(x: float) -> str:
    return f"{100 * x:.3g}%"


def _read_records(path: Path) -> dict[str, dict[str, Any]]:
    """The records, ``{platform key: {"sha256": {capability: hex}, "reference": {...}}}``."""
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        for key, record in records.items():
            ref = record["reference"]
            if not (isinstance(record["sha256"], dict) and len(ref["projection"]) and ref["losses"]):
                raise ValueError(f"record {key!r} is incomplete")
            float(ref["initial_loss"]), float(ref["final_loss"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ConfigError(
            f"{path}: not a proof record file (expected {{platform: {{sha256: {{capability: hex}}, "
            f"reference: {{initial_loss, final_loss, losses, projection}}}}}}): {err}"
        ) from None
    return dict(records)


def _write_records(path: Path, records: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(dict(sorted(records.items())), indent=2) + "\n", encoding="utf-8")


def verify(*, generate: bool = False, path: Path = HASHES, out: TextIO | None = None) -> int:
    """Runs the proof and compares; prints a short report. Returns the exit status (0, 1 or 2)."""
    stream = out if out is not None else sys.stdout
    key = platform_key()
    records = _read_records(path)
    result = run_proof()
    capability = result.capability or cpu_capability()
    fell = "fell" if result.loss_fell else "did NOT fall"
    print(
        f"proof: {result.steps} steps in {result.seconds:.1f} s; training loss {result.initial_loss:.4f} -> "
        f"{result.final_loss:.4f} ({fell} to <= {LOSS_RATIO:g} x initial)",
        file=stream,
    )
    print(f"weights sha256 {result.sha256}  [{key}, CPU capability {capability}]", file=stream)
    record = records.get(key)
    if record is not None:
        loss_dev, proj_dev, problems = compare(result, record["reference"])
        print(
            f"against the record: the loss curve moved up to {_rel(loss_dev)} (tolerance {_rel(LOSS_RTOL)}), "
            f"the weight projection up to {_rel(proj_dev)} of its rms (tolerance {_rel(PROJECTION_RTOL)})",
            file=stream,
        )
    if generate:
        return _generate(result, records, key, capability, path, stream)
    if record is None:
        print(f"nothing recorded for {key}; run `csipose verify --generate` to record it", file=stream)
        return 2
    failed = False
    for problem in problems:
        print(f"FAIL: {problem}", file=stream)
        failed = True
    if not result.loss_fell:
        print(f"FAIL: the loss did not fall to <= {LOSS_RATIO:g} x initial", file=stream)
        failed = True
    if failed:
        return 1
    recorded = record["sha256"].get(capability)
    if recorded == result.sha256:
        print(f"PASS: bit-exact ({capability}) and learning", file=stream)
    elif recorded is None:
        print(f"PASS: within tolerance, no bit-exact record for this CPU capability ({capability}); learning",
              file=stream)
    else:
        print(f"PASS: within tolerance, but not bit-exact: {capability} has the recorded hash {recorded} "
              "(another CPU model or library build of this capability); learning", file=stream)
    return 0


def _generate(
    result: ProofResult, records: dict[str, Any], key: str, capability: str, path: Path, stream: TextIO
) -> int:
    """Records this run: its hash for its capability, and the reference where the platform has none
    or where this run is outside the old one (the training changed: the old hashes are dropped)."""
    if not result.loss_fell:
        print("not recording: the loss did not fall", file=stream)
        return 1
    record = records.get(key)
    if record is not None and compare(result, record["reference"])[2]:
        dropped = ", ".join(sorted(record["sha256"])) or "none"
        print(f"the training moved outside the recorded reference: replacing it (dropping hashes of {dropped})",
              file=stream)
        record = None
    if record is None:
        record = {"sha256": {}, "reference": result.reference()}
    record["sha256"][capability] = result.sha256
    records[key] = record
    _write_records(path, records)
    print(f"recorded the hash for {key} / {capability} in {path}", file=stream)
    return 0
