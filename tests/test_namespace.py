"""The `mlops_iac/` folder of symlinks that lets editors and type checkers resolve the namespace
(README, Layout): one relative link per mapped folder, nothing else in it, and a process started
in the repository root loads each module once, under its `mlops_iac.*` name only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = REPO / "mlops_iac"


def _mapped() -> dict[str, str]:
    """The `[tool.setuptools] package-dir` entries below `mlops_iac`: subpackage -> folder."""
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    return {name.removeprefix("mlops_iac."): folder for name, folder in mapping.items()}


def test_every_mapped_folder_has_its_relative_link():
    mapped = _mapped()
    assert mapped, "pyproject.toml maps no folder into mlops_iac"
    for name, folder in mapped.items():
        link = NAMESPACE / name
        assert link.is_symlink(), f"mlops_iac/{name} is not a symlink"
        assert os.readlink(link) == f"../{folder}", (name, os.readlink(link))
        assert link.resolve() == (REPO / folder).resolve(), name


def test_the_folder_holds_only_links_to_sibling_folders():
    """No `__init__.py` (the namespace stays implicit, as the wheel ships it) and no link out of
    the repository: a link not yet mapped (a folder another change adds) may dangle."""
    for entry in NAMESPACE.iterdir():
        assert entry.is_symlink(), f"mlops_iac/{entry.name} is not a symlink"
        assert os.readlink(entry) == f"../{entry.name}", (entry.name, os.readlink(entry))


_LOADED = """
import json, os, sys
import mlops_iac.cli.main, mlops_iac.components.aws, mlops_iac.components.platform
import mlops_iac.drift, mlops_iac.policies.packs, mlops_iac.spec
# The cloud packages load their components lazily: resolve every public name.
for name in mlops_iac.components.aws.__all__:
    getattr(mlops_iac.components.aws, name)
files = {}
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if path and os.path.realpath(path).startswith(tuple(f + os.sep for f in sys.argv[1:])):
        files.setdefault(os.path.realpath(path), []).append(name)
print(json.dumps(files))
"""


def test_a_process_in_the_repository_root_loads_each_module_once():
    """Started in the root, Python finds `mlops_iac` through the links before the editable
    install's import hook: every library file is still loaded once, under one `mlops_iac.*` name,
    never also as `components.*` or `policies.*`."""
    run = subprocess.run(
        [sys.executable, "-c", _LOADED, *(str(REPO / f) for f in _mapped().values())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    files = json.loads(run.stdout)
    assert len(files) > 50, sorted(files)
    for path, names in files.items():
        assert len(names) == 1, (path, names)
        assert names[0].startswith("mlops_iac."), (path, names)
