"""Run a drift job's package as its cloud would: unpacked, on the standard library alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def import_unpacked(
    assets: Mapping[str, Any], folder: Path, module: str, entry: str, sdks: Sequence[str]
) -> str:
    """Write the recorded archive ``assets`` into ``folder``, import ``module`` in an interpreter
    with no site-packages (``-S``: only the standard library and the package are importable),
    check ``module.entry`` is callable and return the sorted list of loaded modules starting with
    one of ``sdks`` (what the package pulled in that its runtime would not have)."""
    for name, asset in assets.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if "path" in asset:
            target.write_bytes(Path(asset["path"]).read_bytes())
        else:
            target.write_text(asset["text"])
    code = (
        f"import sys; sys.path.insert(0, {str(folder)!r}); import {module};"
        f"assert callable({module}.{entry});"
        f"print(sorted(m for m in sys.modules if m.startswith({tuple(sdks)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=False, env={}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
