"""The model zoo on several data families: torso PCK@20 and MPJPE beside the mean-pose and ridge baselines.

Families (``synthetic.family``, held-out subjects as in the default run): the physics simulator
in one room (the default run) and with the 40 subjects in four rooms, and two families whose
CSI carries the pose without the simulator's structure: ``dense_map`` (every tone a saturating
function of a dense random mix of all joint coordinates) and ``subcarrier_mix`` (every tone a
softplus of three random joint coordinates, tones unordered, random gain per antenna and
sequence); their phase is pure noise. Every model trains with the default settings
(``csipose train`` with ``--set model=NAME``; tcn is the default); ``-readout`` rows leave out the
closed-form ridge readout; ``amp`` rows see the amplitude only, so beside the row above them they
show what the phase (pure noise in the random-map families) costs.

    python benches/bench_models.py                       # the whole table (about 70 minutes on 2 cores)
    python benches/bench_models.py --families dense_map --models tcn mlp
    python benches/bench_models.py --quick               # tiny: what the test suite runs
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

FAMILIES: dict[str, dict[str, Any]] = {
    "physics": {},
    "physics 4 rooms": {"synthetic.subjects_per_environment": 10},
    "dense_map": {"synthetic.family": "dense_map"},
    "subcarrier_mix": {"synthetic.family": "subcarrier_mix"},
}
MODELS: dict[str, dict[str, Any]] = {
    "tcn": {"model": "tcn"},
    "csinet": {"model": "csinet"},
    "mlp": {"model": "mlp"},
    "cnn": {"model": "cnn"},
    "tcn -readout": {"model": "tcn", "readout": False},
    "csinet -readout": {"model": "csinet", "readout": False},
    "tcn amp": {"model": "tcn", "features": "amplitude"},
    "csinet amp": {"model": "csinet", "features": "amplitude"},
}
QUICK = {"synthetic.subjects": 5, "synthetic.val_subjects": [5], "synthetic.frames": 4,
         "synthetic.actions": ["walk_in_place", "squat"], "epochs": 2, "batch_size": 8}


def run(family: dict[str, Any], model: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Trains one model on one family with the default settings; returns its summary."""
    from csipose import TrainingConfig
    from csipose.train import train

    with tempfile.TemporaryDirectory() as run_dir:
        settings = {**family, **model, **extra, "run_dir": run_dir, "progress": False, "plots": False, "top_k": 0}
        config = TrainingConfig().with_overrides([f"{k}={_value(v)}" for k, v in settings.items()])
        started = time.perf_counter()
        summary = train(config.validate())
        summary["wall_seconds"] = time.perf_counter() - started
        return summary


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, list):
        return "[" + ", ".join(f'"{x}"' if isinstance(x, str) else str(x) for x in v) + "]"
    return str(v)


def _cell(report: dict[str, Any]) -> str:
    return f"{100 * report['pck']['20']:5.1f}% {1000 * report['mpjpe']:5.0f} mm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--quick", action="store_true", help="tiny data, two epochs, two models")
    args = parser.parse_args()
    extra = QUICK if args.quick else {}
    models = ["tcn", "mlp"] if args.quick else args.models
    families = ["physics", "dense_map"] if args.quick else args.families

    print("| family | model | params | torso PCK@20 | MPJPE | vs ridge | vs mean pose | train s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for family in families:
        baselines_printed = False
        for name in models:
            summary = run(FAMILIES[family], MODELS[name], extra)
            mean, ridge, model = summary["mean_pose_baseline"], summary["linear_baseline"], summary["model"]
            if not baselines_printed:
                for label, report in (("mean pose", mean), ("ridge", ridge)):
                    print(f"| {family} | *{label}* | | {100 * report['pck']['20']:.1f}% | "
                          f"{1000 * report['mpjpe']:.0f} mm | | | |")
                baselines_printed = True
            gain_ridge = 100 * (model["pck"]["20"] - ridge["pck"]["20"])
            gain_mean = 100 * (model["pck"]["20"] - mean["pck"]["20"])
            print(f"| {family} | {name} | {summary['params']:,} | {100 * model['pck']['20']:.1f}% | "
                  f"{1000 * model['mpjpe']:.0f} mm | {gain_ridge:+.1f} | {gain_mean:+.1f} | "
                  f"{summary['train_seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
