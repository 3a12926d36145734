"""Regenerate ``spec/confusables.txt`` from Unicode's ``confusables.txt`` (UTS #39).

    python -m tools.confusables PATH/TO/confusables.txt

Unicode publishes the file at https://www.unicode.org/Public/security/latest/confusables.txt. The
project keeps only its mappings (``source ; prototype``, hex code points), not the comments, so the
data ships in the wheel at a fifth of the size and needs no third-party package at run time.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "spec" / "confusables.txt"
_MAPPING = re.compile(r"^\s*([0-9A-Fa-f]{4,6})\s*;\s*([0-9A-Fa-f ]+?)\s*;\s*MA\b")
_HEADER = re.compile(r"^#\s*(Version|Date):.*$")


def compact(source: str) -> str:
    """The mapping lines of Unicode's file, with its version, date and terms of use."""
    header = [line.strip() for line in source.splitlines()[:12] if _HEADER.match(line.strip())]
    rows = []
    for line in source.splitlines():
        match = _MAPPING.match(line)
        if match:
            rows.append(f"{match.group(1)} ; {match.group(2)}")
    if len(rows) < 1000:
        raise SystemExit("not Unicode's confusables.txt: fewer than 1,000 mappings")
    return (
        "\n".join(
            [
                "# The mappings of Unicode's confusables.txt (UTS #39 Security Mechanisms),",
                "# source ; prototype (hex). Regenerate: python -m tools.confusables FILE",
                *header,
                "# Copyright Unicode, Inc. Terms of use: https://www.unicode.org/terms_of_use.html",
                "# (Unicode License v3: https://www.unicode.org/license.txt)",
                *rows,
            ]
        )
        + "\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    OUT.write_text(compact(Path(argv[0]).read_text(encoding="utf-8-sig")))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
