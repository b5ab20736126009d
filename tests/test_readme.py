"""Every code block of the README works as written.

Python blocks run top to bottom, each in a fresh namespace inside an empty
folder, so a block that needs a name must define it. Shell blocks are checked
line by line: every ``csipose`` command parses with the real command-line
parser, and its ``--set`` assignments are valid settings.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from csipose.cli import build_parser
from csipose.config import TrainingConfig

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every fenced block of ``language`` in the README."""
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == language]


PYTHON = blocks("python")
SHELL = blocks("bash")


def test_the_readme_has_code_to_check() -> None:
    assert len(PYTHON) >= 5 and len(SHELL) >= 3


@pytest.mark.parametrize(("line", "code"), PYTHON, ids=[f"line{n}" for n, _ in PYTHON])
def test_python_block_runs(line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme"})


def csipose_commands() -> list[tuple[int, list[str]]]:
    """``(line, argv)`` of every ``csipose`` command in the shell blocks (``torchrun ... -m csipose`` too)."""
    found = []
    for start, code in SHELL:
        for offset, text in enumerate(code.splitlines()):
            for part in re.split(r"&&|;", text):
                argv = shlex.split(part, comments=True)
                if "csipose" in argv[:1] or argv[:1] == [".venv/bin/csipose"]:
                    found.append((start + 1 + offset, argv[1:]))
                elif argv[:1] == ["torchrun"] and "csipose" in argv:
                    found.append((start + 1 + offset, argv[argv.index("csipose") + 1 :]))
    return found


COMMANDS = csipose_commands()


@pytest.mark.parametrize(("line", "argv"), COMMANDS, ids=[f"line{n}" for n, _ in COMMANDS])
def test_shell_command_parses(line: int, argv: list[str]) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"README.md:{line}: `csipose {shlex.join(argv)}` does not parse (exit {exc.code})")
    TrainingConfig().with_overrides(getattr(args, "overrides", None) or []).validate()


def test_commands_found() -> None:
    assert any(argv[:1] == ["train"] for _, argv in COMMANDS)
    assert any(argv[:1] == ["verify"] for _, argv in COMMANDS)
