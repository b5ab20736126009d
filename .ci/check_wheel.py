"""Checks a built wheel's tags and the oldest glibc its extension needs.

Usage: python .ci/check_wheel.py WHEEL

The wheel must be one abi3 wheel for CPython >= 3.10 tagged manylinux2014
(glibc 2.17), and the versioned glibc symbols its extension imports must all be
2.17 or older, so the tag is true and not only written.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OLDEST_GLIBC = (2, 17)


def main(wheel: Path) -> int:
    tags = wheel.name.removesuffix(".whl").split("-")[-3:]
    python, abi, platform = tags
    problems = []
    if python != "cp310" or abi != "abi3":
        problems.append(f"expected a cp310-abi3 wheel, got {python}-{abi}")
    if "manylinux2014_x86_64" not in platform.split(".") and "manylinux_2_17_x86_64" not in platform.split("."):
        problems.append(f"expected a manylinux2014 (glibc 2.17) platform tag, got {platform}")
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        libs = [n for n in zf.namelist() if n.endswith(".so")]
        if libs != ["csipose/_core.abi3.so"]:
            problems.append(f"expected one extension csipose/_core.abi3.so, got {libs}")
        needed: set[tuple[int, ...]] = set()
        for name in libs:
            path = zf.extract(name, tmp)
            symbols = subprocess.run(["objdump", "-T", path], check=True, capture_output=True, text=True).stdout
            needed |= {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", symbols)}
    newest = max(needed, default=(0,))
    if newest > OLDEST_GLIBC:
        problems.append(f"the extension needs glibc {'.'.join(map(str, newest))}, newer than 2.17")
    for p in problems:
        print(f"check_wheel: {wheel.name}: {p}", file=sys.stderr)
    if not problems:
        print(f"check_wheel: {wheel.name}: abi3, manylinux2014, newest glibc symbol {'.'.join(map(str, newest))}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python .ci/check_wheel.py WHEEL")
    sys.exit(main(Path(sys.argv[1])))
