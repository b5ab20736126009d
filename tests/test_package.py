"""The package's outer contract: imports, version, errors, no torch at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import csipose
from csipose import errors


def test_import_does_not_import_torch() -> None:
    code = "import sys, csipose; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_command_line_parser_does_not_import_torch() -> None:
    # csipose predict / eval of an ONNX model run where torch is not installed
    code = "import sys; from csipose.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version_matches_core() -> None:
    assert csipose.__version__ == csipose._core.__version__
    assert csipose.__version__.count(".") == 2


def test_public_names_exist() -> None:
    for name in csipose.__all__:
        assert hasattr(csipose, name), name


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.ShapeError, ValueError),
        (errors.ArgumentError, ValueError),
        (errors.NonFiniteError, ValueError),
        (errors.DTypeError, TypeError),
        (errors.ConfigError, ValueError),
    ],
)
def test_error_classes_are_also_builtins(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.CsiposeError)
    assert issubclass(cls, builtin)


def test_rust_errors_arrive_as_csipose_classes() -> None:
    with pytest.raises(errors.ArgumentError, match="mode"):
        csipose._core.Resampler(10, 5, "cubic")
    with pytest.raises(errors.DTypeError, match="x: expected"):
        csipose._core.Resampler(1, 1).apply(["a"])


def test_cli_demo_prints_real_numbers() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "csipose", "demo", "--frames", "50"],
        capture_output=True, text=True, check=True,
    )
    assert "(50, 3, 114, 10) float32 -> (50, 3, 56, 10)" in out.stdout
    assert "row 1 taps {2: 0.945455, 3: 0.054545}" in out.stdout


def test_cli_bad_argument_exits_nonzero_without_traceback() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "csipose", "demo", "--frames", "many"],
        capture_output=True, text=True,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "--frames" in out.stderr
