"""Every benchmark script runs once, tiny, so none can rot; each prints the comparison it exists to print.

Each bench has the lines it must print, as regular expressions over whole lines in the bench's own
number format: its comparison with the peer (a ratio such as ``2.06x``) or, for the model table, the
rows beside the baselines. A new bench needs its entry in ``EXPECTED``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHES = sorted((Path(__file__).resolve().parents[1] / "benches").glob("bench_*.py"))
_N = r"[\d,]+"  # a count or rate printed with thousands separators
EXPECTED: dict[str, list[str]] = {
    "bench_adapt": [
        *(rf"^{room}\s+{row}\s+(\d+\.\d%\s+){{3}}\d+\.\d%\s+(-?\d+\.\d\d|n/a)$"
          for room in (1, 2, 3, 4)
          for row in ("mean pose on the link anchor", r"linear baseline \(ridge regression alone\)",
                      r"no adapters \(K = 0\)", r"no adapters, own floor position \(new_room_floor=model\)",
                      r"K = 5, rank 4, 150 x all, 3 fits \(default\)", r"K = 5, rank 4, 150 x all \(one fit\)",
                      r"K = 5, rank 4, 150 x all \(one fit, last step's weights, before\)",
                      r"K = 5, rank 8, 150 x all \(rank 8, one fit\)", r"K = 5, rank 8, 300 x all \(fixed 300 steps, before\)")),
        r"^mean pose on the link anchor: gap ratio .*; the room geometry alone, no CSI$",
        r"^linear baseline \(ridge regression alone\): gap ratio .*; a ridge regression of the room-standardised "
        r"window, no adapters$",
        r"^no adapters \(K = 0\): gap ratio .* goal >= 0\.60 met in \d of 4 room\(s\)$",
        r"^K = 5, rank 4, 150 x all, 3 fits \(default\): gap ratio .* goal >= 0\.90 met in \d of 4 room\(s\)$",
        r"^K = 5, rank 4, 150 x all \(one fit\): gap ratio [^;]*$",
        r"^K = 5, rank 4, 150 x all \(one fit, last step's weights, before\): gap ratio [^;]*$",
        r"^K = 5, rank 8, 150 x all \(rank 8, one fit\): gap ratio [^;]*$",
        r"^K = 5, rank 8, 300 x all \(fixed 300 steps, before\): gap ratio [^;]*$",
        r"^wall time \d+ s on \d+ torch thread\(s\)$",
    ],
    "bench_data": [
        r"^reader\s+frames/s\s+vs official$",
        rf"^official loop: loadmat \+ cleaning per frame\s+{_N}\s+1\.0x$",
        rf"^MMFiDataset cache, amp \+ phase, batch \d+\s+{_N}\s+\d+\.\dx$",
        rf"^make_loader amp \+ phase, batch \d+, 2 workers, steady\s+{_N}\s+\d+\.\dx$",
        rf"^limit: np\.copyto of the same amplitude bytes, \d+ frames at a time\s+{_N}\s+\d+\.\dx$",
        r"^batched amplitude reads .* = \d+\.\dx the official loop's [\d,]+ \(goal 50x\); the copy limit is ",
    ],
    "bench_densepose": [
        r"^mean IUV\s+(\d+\.\d\s+){3}\d\.\d{3}\s",
        r"^DensePose head\s+(\d+\.\d\s+){3}\d\.\d{3}\s+\d+\.\d\s+\d\.\d{3}\s+\d+\.\d$",
        r"^body on predicted joints\s+",
        *(rf"^body on {row}\s+(\d+\.\d\s+){{3}}\d\.\d{{3}}\s+\d+\.\d\s+\d\.\d{{3}}\s+\d+\.\d$"
          for row in ("mean pose", "linear baseline")),
        r"^goal dpAP >= 2x the mean IUV's: .*: (met|NOT met)$",
        r"^goal body-mask IoU >= 0\.7: \d\.\d{3}: (met|NOT met) \(the body drawn on the predicted joints: \d\.\d{3}\)$",
    ],
    "bench_densepose_render": [
        rf"^rendered in \d+\.\d\d s wall, \d+\.\d\d s CPU: {_N} frames/s \({_N} per CPU second\)$",
    ],
    "bench_densepose_metrics": [
        r"^numpy reference, per-pixel GPS\s+\d+\.\d{3}\s+\d+\.\d\s+1\.00x$",
        r"^csipose densepose_gps\s+\d+\.\d{3}\s+\d+\.\d\s+\d+\.\d\dx\s+\d+\.\d{3}$",
        r"^csipose evaluate_densepose\s+\d+\.\d{3}\s+\d+\.\d\s+\d+\.\d\dx\s+\d+\.\d{3}$",
        r"^csipose densepose_gps of 10,000 frames of 56 x 56: \d+\.\d{3} s wall, \d+\.\d{3} s CPU.* "
        r"\(goal under 1 s wall\): (met|NOT met)$",
    ],
    "bench_floor_cues": [
        r"^8 sequences per room; correlation over a room's sequences of each feature with the person's floor offset",
        *(rf"^{name}(\s+[+-]\d\.\d\d / [+-]\d\.\d\d){{4}}$"
          for name in (*(f"log amplitude, antenna {a}" for a in (1, 2, 3)),
                       *(f"phase of antennas {a} x {b}" for a, b in ((1, 2), (2, 3), (1, 3))))),
        *(rf"^ridge on the six features, offset {axis} the link: correlation with the truth within the room "
          rf"[+-]\d\.\d\d( / [+-]\d\.\d\d){{3}} \(mean [+-]\d\.\d\d\), in a new room [+-]\d\.\d\d( / [+-]\d\.\d\d){{3}} "
          rf"\(mean [+-]\d\.\d\d\), rooms 1-4$" for axis in ("along", "across")),
    ],
    "bench_domains": [
        r"^mean pose\s+\d+\.\d%\s+\d+\s+\d+\s+\d+\.\d%\s+\d+\s+\d+\s+n/a\s+n/a$",
        r"^mean pose on the true root \(oracle root\)\s+\d+\.\d%\s+0\s+\d+\s+\d+\.\d%\s+0\s+\d+\s+-?\d+\.\d\d\s+n/a$",
        r"^plain model on the true root \(oracle root\)\s+\d+\.\d%\s+0\s+\d+\s+\d+\.\d%\s+0\s+\d+\s+-?\d+\.\d\d\s+n/a$",
        r"^mean pose on the link anchor\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%(\s+\d+){2}\s+(-?\d+\.\d\d|n/a)\s+n/a$",
        r"^plain model\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%(\s+\d+){2}(\s+(-?\d+\.\d\d|n/a)){2}$",
        *(rf"^{row}, K = {k}\s+\d+\.\d%(\s+\d+){{2}}\s+\d+\.\d%(\s+\d+){{2}}(\s+(-?\d+\.\d\d|n/a)){{2}}$"
          for k in (0, 2, 5, 10) for row in ("plain model", "no link anchor", "no test-time normalisation",
                                             r"min-max amplitude \(cleaning=official\)",
                                             "half the sequences in randomised rooms")),
        r"^linear baseline \(ridge regression alone\)\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%(\s+\d+){2}\s+(-?\d+\.\d\d|n/a)\s+n/a$",
        r"^(adversarial domain head|geometry FiLM|randomised rooms|conjugate products|static-channel rotation|"
        r"no test-time normalisation|"
        r"min-max amplitude \(cleaning=official\)|fixed ridge readout|readout, no test-time norm \(defaults before\)|"
        r"no link anchor)\s+(not available \(.+\)|\d+\.\d%.*)$",
        *(rf"^{row}\s+\d+\.\d%(\s+\d+){{2}}\s+\d+\.\d%(\s+\d+){{2}}(\s+(-?\d+\.\d\d|n/a)){{2}}$"
          for row in ("half the sequences in randomised rooms", "half random rooms, no test-time normalisation")),
        r"^the plain model reaches it (within \d+ mm of the true root \(\d+\.\d%\)|not even on the true root)$",
        r"^what the pose is worth: the training mean pose of each frame's own action on its link anchor \(the action known, "
        r"nothing more of the pose\) scores \d+\.\d% in-room and \d+\.\d% unseen; the true pose on the anchor's floor "
        r"position at its true height \d+\.\d% unseen$",
        r"^the action from the plain model's pooled features \(a ridge classifier fitted on its training frames\): "
        r"\d+\.\d% right in-room, \d+\.\d% unseen \(the commonest action: \d+\.\d%\)$",
        r"^plain model, own floor position in new rooms\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%(\s+\d+){2}(\s+(-?\d+\.\d\d|n/a)){2}$",
        r"^plain model, new room's batch-norm \(AdaBN\)\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%(\s+\d+){2}"
        r"(\s+(-?\d+\.\d\d|n/a)){2}$",
        r"^where the person is, from the CSI: correlation of the plain model's own root offset from the link anchor with the "
        r"true one \(camera x / y \(down\) / z\): in-room (-?\d\.\d\d|n/a)( / (-?\d\.\d\d|n/a)){2}, "
        r"unseen (-?\d\.\d\d|n/a)( / (-?\d\.\d\d|n/a)){2}$",
        r"^the K = 0 goal asks \d+\.\d% of the unseen room; the training mean shape reaches it (within \d+ mm of the "
        r"true root \(\d+\.\d%\)|not even on the true root); on the link anchor it is \d+ mm off \(\d+\.\d%\), the "
        r"plain model's root \d+ mm$",
        r"^K = 0: unseen room keeps (-?\d+%|n/a) of the in-room PCK@20 gain over the mean pose \(the default model: plain "
        r"model; goal >= 60%\): (met|NOT met)$",
        r"^K = 0(: unseen room keeps -?\d+% of the in-room PCK@20 gain over the| over the) mean pose( \(the best of "
        r"\d+ rows that beat the mean pose on the link anchor in-room, one seed: .+; goal >= 60%\): (met|NOT met)|: no row "
        r"with an in-room gain of 5 points or more over the mean pose on the link anchor)$",
        r"^K = 0(: unseen room keeps -?\d+% of the in-room PCK@20 gain over the| over the) mean pose on the link anchor",
        *(rf"^K = \d+: unseen room keeps (-?\d+%|n/a) of the in-room gain over the mean pose with adapters \({row}; "
          r"goal >= 90%\): (met|NOT met)$"
          for row in ("plain model", "no link anchor", "no test-time normalisation",
                      r"min-max amplitude \(cleaning=official\)", "half the sequences in randomised rooms")),
        r"^wall time \d+ s on \d+ torch thread\(s\)$",
    ],
    "bench_errors": [
        r"^\s*y \(vertical\)\s+\d+\.\d mm\s+\d+\.\d mm$",  # the model beside the mean pose
        r"^torso PCK@20: \d+\.\d% as predicted, \d+\.\d% with the true centre on x$",
        r"\(along / across = \d+\.\d\dx\)$",
    ],
    "bench_export": [
        r"^exported int8-static .*; calibrated on [\d,]+ training windows \([\d,]+ asked\)$",
        r"^intra-op threads: \d+ for every runtime ",
        *(
            rf"^{row}\s+\d+\.\d\d\s+{ratio}\s+\d+\.\d%\s+\d+\.\d%\s+\d+\.\d mm\s+\d+\.\d mm\s+[+-]\d+\.\d\d"
            rf"\s+\d+\.\d{{3}}\s+\d+\.\d{{3}}\s+{_N}$"
            for row, ratio in (
                (r"torch eager fp32 \(\.pt\)", r"\d+\.\d\dx( smaller| larger)?"),
                ("ORT fp32", r"1\.00x"),
                ("ORT fp16", r"\d+\.\d\dx smaller"),
                ("ORT int8-static", r"\d+\.\d\dx smaller"),
                ("ORT int8-dynamic", r"\d+\.\d\dx smaller"),
            )
        ),
        r"^mean pose \(baseline\)\s+\d+\.\d%\s+\d+\.\d mm$",  # the baselines beside the table
        r"^ridge \(baseline\)\s+\d+\.\d%\s+\d+\.\d mm$",
        *(
            rf"^{p}: PCK@20 [+-]\d+\.\d\d points vs fp32 \(goal within 1\), file \d+\.\d\dx smaller \(goal 3x\): "
            r"(met|NOT met)$"
            for p in ("int8-static", "int8-dynamic")
        ),
        r"^ORT fp32 batch-1 latency p50 \d+\.\d{3} ms \(goal under 1 ms\): (met|NOT met)$",
        r"^--precision int8 maps to int8-(static|dynamic) \(csipose\.export\.INT8_DEFAULT\): .*: "
        r"(agrees, it is the better one|DISAGREES, int8-(static|dynamic) is better)",
    ],
    "bench_matching": [
        rf"^csipose batch \(list\)\s+{_N}(\s+\d+\.\d\d\s+\d+\.\d\dx){{2}}$",  # wall, then CPU
        rf"^scipy loop\s+{_N}(\s+\d+\.\d\d\s+1\.00x){{2}}$",
        r"^uniform \[0, 1\)(\s+\d+\.\d){3}\s+\d+\.\d\dx\s+\d+\.\d\dx$",
    ],
    "bench_metrics": [
        rf"^PCK@10\.\.50 \(torso\)\s+{_N}\s+\d+\.\dms\s+\d+\.\dms\s+\d+\.\dx\s+\d+\.\dms\s+\d+\.\dms\s+\d+\.\dx$",
        rf"^PA-MPJPE\s+{_N}(\s+\d+\.\dms){{2}}\s+\d+\.\dx(\s+\d+\.\dms){{2}}\s+\d+\.\dx$",
        r"^PA-MPJPE\s+reference\s+\d+\.\d\d us/pose\s+csipose\s+\d+\.\d{3} us/pose\s+\d+x$",
        rf"^limit: read input\s+{_N}\s+\d+\.\dms\s+\d+\.\dms\s+\d+\.\dx",
    ],
    "bench_models": [
        r"^\| dense_map \| \*mean pose\* \| \| \d+\.\d% \| \d+ mm \|",
        r"^\| dense_map \| \*ridge\* \| \| \d+\.\d% \| \d+ mm \|",
        rf"^\| dense_map \| mlp \| {_N} \| \d+\.\d% \| \d+ mm \| [+-]\d+\.\d \| [+-]\d+\.\d \| \d+ \|$",
    ],
    "bench_mot": [
        r"^py-motmetrics\s+\d+\.\d{3}\s+[\d,]+\s+1\.00x$",
        r"^csipose mot\s+\d+\.\d{3}\s+[\d,]+\s+\d+\.\d\dx$",
        r"^csipose mot on [\d,]+ frames = \d+\.\dx py-motmetrics \(goal 20x\): (met|NOT met)$",
    ],
    "bench_people": [
        r"^held-out subjects: \[[\d, ]+\]; receivers: [123]$",
        r"^single-person model, one-person scenes\s+\d+\.\d%\s+\d+ mm$",
        r"^person slots, two-person scenes\s+\d+\.\d%\s+\d+ mm\s+\d+\.\d%",
        r"^\*mean pose in two slots\*, two-person scenes\s+\d+\.\d%\s+\d+ mm\s+\d+\.\d%",
        r"^\*ridge\*, the run's 1-3 person val scenes\s+\d+\.\d%\s+\d+ mm\s+\d+\.\d%$",
        r"^count accuracy on two-person scenes \d+\.\d% \(goal >= 95%\): (met|NOT met)$",
        r"^per-person PCK@20 two-person / one-person = \d\.\d{3} \(goal >= 0\.90\): (met|NOT met)$",
        r"^MPJPE two-person / one-person = \d\.\d{3} \(goal <= 1\.10\): (met|NOT met)$",
        r"^one-person model, two-person: the subject\s+\d+\.\d%\s+\d+ mm$",
        r"^one-person model, two-person: the bystander\s+\d+\.\d%\s+\d+ mm$",
        r"^limit in the scenes: a single-person model per person, the other unlabelled, keeps \d\.\d{3} of the "
        r"single-person PCK@20 \(\d+\.\d%\) at an MPJPE ratio of \d\.\d{3} \(the person slots: \d\.\d{3}, \d\.\d{3}\)$",
        r"^limit in the data: ridge PCK@20 per person \d+\.\d% among 1-3 people against \d+\.\d% alone = \d\.\d{3}",
        r"^matching: \d+\.\d{3} ms of a \d+\.\d ms training step \(batch 32\) = \d+\.\d\d% \(goal under 2%\): (met|NOT met)$",
    ],
    "bench_oks_ap": [
        r"^pycocotools COCOeval\s+\d+\.\d{3}\s+[\d,]+\s+1\.00x$",
        r"^csipose oks_ap \(optimal\)\s+\d+\.\d{3}\s+[\d,]+\s+\d+\.\d\dx$",
    ],
    "bench_ridge": [
        r"^one block \(a one-person run\)\s+\d+\.\ds\s+\d+\.\ds\s+\d+\.\dx\s+\d\.\de-\d\d$",
        r"^three blocks \(two slots \+ presence\)\s+\d+\.\ds\s+\d+\.\ds\s+\d+\.\dx\s+\d\.\de-\d\d$",
        r"^limit: 5 eigendecompositions of the [\d,]+ fitting rows' Gram matrix \d+\.\ds$",
    ],
    "bench_subcarrier": [
        rf"^csipose\s+{_N}\s+1\.00x$",
        rf"^torch\.interpolate\s+{_N}\s+\d+\.\d\dx$",
        rf"^memory-bound ceiling at np\.copyto speed: {_N} rows/s = \d+\.\d\dx torch$",
        r"^csipose, out=\s+moves \d+\.\d\d GB/s in \d+\.\d\d ms = \d\.\d\d of np\.copyto$",
        *(
            rf"^{plan}\s+\d+\s+\d+\s+\d+\.\d\d\s+{_N}\s+\d+\.\d\dx$"
            for plan in (r"IWL5300_30 -> HT40", r"ESP32_HT20 -> HT40", r"HT40 -> 56 by indices")
        ),
        *(
            rf"^{plan}: rows/s per row = \d+\.\d\dx the 114 -> 56 kernel \(goal >= 1\): (met|NOT met)$"
            for plan in (r"IWL5300_30 -> HT40", r"ESP32_HT20 -> HT40", r"HT40 -> 56 by indices")
        ),
    ],
    "bench_synthetic": [
        rf"vectorised\s+{_N} packets/s\s+per-packet loop\s+{_N} packets/s\s+x\d+ faster; max \|difference\|",
    ],
    "bench_train": [
        r"^\s*loader-fed / in-memory speed\s*:\s+\d+\.\d\d x$",
        r"^\s*waiting for data\s*:\s+\d+\.\d % of step time$",
    ],
}


def test_every_bench_has_its_expected_lines() -> None:
    assert sorted(p.stem for p in BENCHES) == sorted(EXPECTED)


@pytest.mark.parametrize("script", BENCHES, ids=lambda p: p.stem)
def test_bench_runs_quick(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    missing = [p for p in EXPECTED.get(script.stem, []) if not re.search(p, done.stdout, re.MULTILINE)]
    assert script.stem in EXPECTED and not missing, f"{script.stem} did not print {missing}:\n{done.stdout}"


def test_bench_domains_trains_a_row_of_ones_own_overrides() -> None:
    script = next(p for p in BENCHES if p.stem == "bench_domains")
    bad = subprocess.run([sys.executable, str(script), "--quick", "--row", "epochs=1 no_such_key=2"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--row 'epochs=1 no_such_key=2'" in bad.stderr and "no_such_key" in bad.stderr
    done = subprocess.run([sys.executable, str(script), "--quick", "--row", " epochs=1  dropout=0.2"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    row = r"\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%(\s+\d+){2}(\s+(-?\d+\.\d\d|n/a)){2}$"
    for name in ("plain model", "epochs=1 dropout=0.2", *(f"epochs=1 dropout=0.2, K = {k}" for k in (0, 2, 5, 10))):
        assert re.search(rf"^{name}{row}", done.stdout, re.MULTILINE), f"no row {name!r}:\n{done.stdout}"
    assert re.search(r"^K = 5: .* with adapters \(epochs=1 dropout=0\.2; goal >= 90%\): (met|NOT met)$",
                     done.stdout, re.MULTILINE)
    assert "adversarial domain head" not in done.stdout  # with --row alone, only the plain model trains beside it
    # the placement limit starts from the table's mean pose on the link anchor in the unseen room
    limit = re.search(r"^the K = 0 goal asks (\d+\.\d)% of the unseen room; the training mean shape reaches it "
                      r"(within \d+ mm of the true root \(\d+\.\d%\)|not even on the true root); on the link anchor "
                      r"it is (\d+) mm off \((\d+\.\d)%\), the plain model's root (\d+) mm$", done.stdout, re.MULTILINE)
    anchored = re.search(r"^mean pose on the link anchor\s+\d+\.\d%(\s+\d+){2}\s+(\d+\.\d)%\s+(\d+)\s",
                         done.stdout, re.MULTILINE)
    plain = re.search(r"^plain model\s+\d+\.\d%(\s+\d+){2}\s+\d+\.\d%\s+(\d+)\s", done.stdout, re.MULTILINE)
    assert limit and anchored and plain, done.stdout
    assert (limit[4], limit[3], limit[5]) == (anchored[2], anchored[3], plain[2])
    # the plain model placing the person itself in the unseen room too: the same in-room, its own place unseen
    own = re.search(r"^plain model, own floor position in new rooms\s+(\d+\.\d%(?:\s+\d+){2})\s+(\d+\.\d%(?:\s+\d+){2})\s",
                    done.stdout, re.MULTILINE)
    plain = re.search(r"^plain model\s+(\d+\.\d%(?:\s+\d+){2})\s+(\d+\.\d%(?:\s+\d+){2})\s", done.stdout, re.MULTILINE)
    assert own and plain and own[1] == plain[1] and own[2] != plain[2], done.stdout
    # the unseen room's batch-norm statistics: the model as trained in the training rooms
    adabn = re.search(r"^plain model, new room's batch-norm \(AdaBN\)\s+(\d+\.\d%(?:\s+\d+){2})\s",
                      done.stdout, re.MULTILINE)
    assert adabn and adabn[1] == plain[1], done.stdout
    # the --row run's own linear baseline, right before it, and the plain run's stays
    lines = done.stdout.splitlines()
    own = next((i for i, line in enumerate(lines) if line.startswith("linear baseline of epochs=1 dropout=0.2 ")), None)
    assert own is not None and re.match(rf"^linear baseline of epochs=1 dropout=0\.2{row}", lines[own]), done.stdout
    assert lines[own + 1].startswith("epochs=1 dropout=0.2 "), done.stdout
    plain_linear = re.search(r"^linear baseline \(ridge regression alone\)\s+(.*\S)\s+n/a$", done.stdout, re.MULTILINE)
    own_linear = re.match(r"^linear baseline of epochs=1 dropout=0\.2\s+(.*\S)\s+n/a$", lines[own])
    assert plain_linear and own_linear, done.stdout
    # the row's data and input are the plain run's, so its own ridge is the plain run's
    assert own_linear[1] == plain_linear[1]


def _bench_module(name: str):  # type: ignore[no-untyped-def]
    """A bench script imported as a module (its helpers, without running it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, next(p for p in BENCHES if p.stem == name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_floor_offset_is_the_root_from_the_link_anchor_along_and_across_the_link() -> None:
    cues = _bench_module("bench_floor_cues")
    from csipose.domain.anchor import link_anchor_numpy

    tx, rx = np.array([-1.0, -0.2, 2.0]), np.array([[1.5, 0.8, 4.5], [2.0, -0.6, 5.0], [2.5, -1.2, 5.5]])
    stage = np.array([0.0, 1.2, 3.5])  # the floor is at camera y = 1.2 (y points down)
    anchor = link_anchor_numpy(tx[None], rx[None], stage[None, 1])[0]
    along = np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)  # the link's floor direction (receivers' mean - tx)
    across = np.array([1.0, 0.0, -1.0]) / np.sqrt(2.0)
    keypoints = np.zeros((3, 17, 3)) + anchor + 0.3 * along - 0.1 * across + np.array([0.0, -0.9, 0.0])
    keypoints[1] += 0.05 * across  # the mean over frames counts
    np.testing.assert_allclose(cues.floor_offset(keypoints, tx, rx, stage), [0.3, -0.1 + 0.05 / 3], atol=1e-12)


def test_floor_cues_ridge_recovers_a_linear_map_and_within_room_holds_subjects_out() -> None:
    cues = _bench_module("bench_floor_cues")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    truth = rng.normal(size=(6, 2))
    weight, bias = cues.ridge(x, x @ truth + np.array([0.5, -0.2]))
    np.testing.assert_allclose(weight, truth, atol=0.01)
    np.testing.assert_allclose(bias, [0.5, -0.2], atol=0.01)
    subjects = np.repeat(np.arange(1, 11), 40)
    y = x @ truth
    pred = cues.within_room(x, y, subjects)
    changed = y.copy()
    changed[subjects == 3] += 10.0  # a subject's own labels do not reach its predictions
    moved = cues.within_room(x, changed, subjects)
    np.testing.assert_allclose(moved[subjects == 3], pred[subjects == 3])
    assert not np.allclose(moved[subjects != 3], pred[subjects != 3])
    assert cues.correlation(pred[:, 0], y[:, 0]) > 0.99


def test_placement_needed_takes_the_first_step_that_reaches_the_goal() -> None:
    domains = _bench_module("bench_domains")
    curve = [(0.110, 0.387), (0.105, 0.420), (0.099, 0.453), (0.0, 0.665)]  # (root error m, PCK@20), anchor first
    assert domains.placement_needed(curve, 0.30) == (0.110, 0.387)  # the anchor already reaches it
    assert domains.placement_needed(curve, 0.42) == (0.105, 0.420)  # reached exactly counts
    assert domains.placement_needed(curve, 0.43) == (0.099, 0.453)
    assert domains.placement_needed(curve, 0.70) is None  # not even the true root


def test_per_label_means_and_their_lookup_refuse_a_label_never_fitted() -> None:
    domains = _bench_module("bench_domains")
    values = np.random.default_rng(0).normal(size=(5, 17, 3))
    distinct, means = domains.means_by(values, np.array([3, 1, 3, 7, 1]))
    np.testing.assert_array_equal(distinct, [1, 3, 7])
    np.testing.assert_allclose(means[1], (values[0] + values[2]) / 2)
    np.testing.assert_allclose(means[2], values[3])
    np.testing.assert_allclose(domains.of_labels(distinct, means, np.array([7, 1, 7])), means[[2, 0, 2]])
    for never in (np.array([1, 2]), np.array([8]), np.array([0])):  # between, above and below the fitted ones
        with pytest.raises(ValueError, match=r"labels: \[\d\] not among the fitted \[1, 3, 7\]"):
            domains.of_labels(distinct, means, never)


def test_the_action_means_are_about_the_link_anchor_and_weigh_up_to_the_anchored_mean_pose(tmp_path: Path) -> None:
    domains = _bench_module("bench_domains")
    from csipose.domain.adapt_cli import sample_ids
    from csipose.train.data import load_split, mean_pose, sample_anchors
    from tests.test_domain_methods import tiny

    train = load_split(tiny(tmp_path / "run"), "train")
    actions, poses = domains.action_means(train)
    labels = sample_ids(train)[:, 2]
    np.testing.assert_array_equal(actions, np.unique(labels))
    counts = np.array([np.sum(labels == a) for a in actions], dtype=np.float64)
    pooled = (poses * counts[:, None, None]).sum(axis=0) / counts.sum()
    np.testing.assert_allclose(pooled, mean_pose(train, anchor=True), atol=1e-5)  # the anchored mean pose
    first = labels == actions[0]
    about = np.asarray(train.label_keypoints(), dtype=np.float64)[first] - sample_anchors(train)[first][:, None, :]
    np.testing.assert_allclose(poses[0], about.mean(axis=0), atol=1e-9)


def test_the_action_classifier_tells_separable_labels_and_only_those_it_was_fitted_on() -> None:
    domains = _bench_module("bench_domains")
    rng = np.random.default_rng(1)
    centres = {2: [4.0, 0.0, 0.0], 5: [0.0, 4.0, 0.0], 9: [0.0, 0.0, 4.0]}
    labels = rng.choice([2, 5, 9], size=300)
    features = np.array([centres[k] for k in labels]) + rng.normal(scale=0.5, size=(300, 3))
    classify = domains.ridge_classifier(features, labels, 10.0)
    test = rng.choice([2, 5, 9], size=100)
    said = classify(np.array([centres[k] for k in test]) + rng.normal(scale=0.5, size=(100, 3)))
    assert set(said) <= {2, 5, 9} and np.mean(said == test) > 0.95
    # new features are standardised as the fitted ones were, not by their own statistics: two points
    # near one class stay in it (standardised by themselves they would fall either side of 0)
    line = domains.ridge_classifier(np.r_[np.full(50, -1.0), np.full(50, 1.0)][:, None], np.repeat([0, 1], 50), 1.0)
    np.testing.assert_array_equal(line(np.array([[0.9], [1.1]])), [1, 1])
    np.testing.assert_array_equal(line(np.array([[-1.1], [-0.9]])), [0, 0])


def test_room_batch_norm_normalises_with_the_room_and_restores_the_model() -> None:
    import torch

    domains = _bench_module("bench_domains")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.5),
                                torch.nn.Linear(3, 2)).eval()
    norm = model[1]
    norm.running_mean.fill_(5.0)  # the training rooms' statistics, far from the room's
    norm.running_var.fill_(9.0)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    room, x = torch.randn(50, 4) * 3 + 1, torch.randn(7, 4)
    with torch.no_grad():
        as_trained = model(x)
        hidden = model[0](room)
        with domains.room_batch_norm(model, lambda: model(room)) as has_any:
            assert has_any
            torch.testing.assert_close(norm.running_mean, hidden.mean(0))
            torch.testing.assert_close(norm.running_var, hidden.var(0))  # unbiased, as batch norm keeps it
            own = (model[0](x) - hidden.mean(0)) / torch.sqrt(hidden.var(0) + norm.eps) * norm.weight + norm.bias
            torch.testing.assert_close(model(x), model[3](own))  # in eval mode: no dropout, the room's statistics
        assert not model.training and not norm.training and norm.momentum == 0.1
        assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items())
        torch.testing.assert_close(model(x), as_trained)
        # restored when the block fails too, and a model in training mode stays in it
        model.train()
        with pytest.raises(RuntimeError, match="stop"), domains.room_batch_norm(model, lambda: model(room)):
            raise RuntimeError("stop")
        assert model.training and norm.training and norm.momentum == 0.1
        assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items())
    # a model without batch norm: nothing is run
    calls: list[int] = []
    with domains.room_batch_norm(torch.nn.Linear(4, 2), lambda: calls.append(1)) as has_any:
        assert not has_any
    assert calls == []
