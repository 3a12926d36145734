"""The command line every generated data file shares: rewrite it, or report that it is stale."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]


def main(
    argv: list[str] | None, output: Path, render: Callable[[], str], module: str, about: str
) -> int:
    """Write ``render()`` to ``output``; with ``--check``, exit 1 when the file differs."""
    parser = argparse.ArgumentParser(description=about)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    fresh = render()
    if args.check:
        if fresh != (output.read_text() if output.exists() else ""):
            shown = output.relative_to(ROOT_DIR) if output.is_relative_to(ROOT_DIR) else output.name
            print(f"{shown} is stale: run `python -m {module}`")
            return 1
        return 0
    output.write_text(fresh)
    return 0
