"""The cloud registry (``mlops_iac.spec.clouds``) is the one list of clouds, and every cloud in it
has the files the contract needs: a cloud added to the registry fails here, naming the file that
is missing, until ``docs/extending.md``'s "A cloud" recipe is done."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path

import pytest

from mlops_iac.spec import clouds

REPO = Path(__file__).resolve().parents[1]
# Where a hand-written enumeration of clouds would hide (the registry itself excepted).
SOURCES = ("components", "policies", "cli", "drift", "spec", "tools", "benchmarks", "plan", "tests")
_ENUMERATION = re.compile(r"""["']aws["'],\s*["']azure["'],\s*["']gcp["']""")


def _module_file(dotted: str) -> Path:
    """``mlops_iac.components.aws`` → ``components/aws`` (a package) or ``….py`` (a module)."""
    parts = dotted.split(".")[1:]
    folder = REPO.joinpath(*parts)
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


@pytest.mark.parametrize("cloud", clouds.NAMES)
def test_every_cloud_package_has_the_contract_modules(cloud: str) -> None:
    entry = clouds.REGISTRY[cloud]
    package = _module_file(entry.components).parent
    missing = [m for m in clouds.COMPONENT_MODULES if not (package / f"{m}.py").is_file()]
    assert missing == [], f"components/{cloud}/ lacks {missing}"
    for what, dotted in (("platform builder", entry.platform), ("offline mocks", entry.mocks)):
        assert _module_file(dotted).is_file(), f"{cloud}: no {what} module {dotted}"
    drift = REPO / "drift" / f"{cloud}.py"
    assert drift.is_file(), f"{cloud}: no drift/{cloud}.py (the drift job's client and entry)"
    assert re.search(rf"^def {cloud}_handler\(", drift.read_text(), re.M), drift


@pytest.mark.parametrize("cloud", clouds.NAMES)
def test_every_cloud_has_its_extra_and_sdk(cloud: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    entry = clouds.REGISTRY[cloud]
    assert entry.extra in extras, f"pyproject.toml has no [{entry.extra}] extra"
    assert any(r.startswith(f"{entry.distribution}>=") for r in extras[entry.extra])
    assert entry.extra in extras["all"][0], extras["all"]


def test_the_cloud_type_and_the_registry_agree() -> None:
    # The stack file's `cloud` field is validated against the Literal: it must list the same.
    assert typing.get_args(clouds.Cloud) == clouds.NAMES
    assert len(set(clouds.BY_PROVIDER)) == len(clouds.NAMES)


def test_per_cloud_tables_cover_every_cloud() -> None:
    from mlops_iac.cli import dvc_remote
    from mlops_iac.components import contract, lineage
    from mlops_iac.spec import gpu

    assert set(dvc_remote._REMOTES) == set(clouds.NAMES)
    assert contract.CLOUDS == gpu.CLOUDS == clouds.NAMES
    assert set(lineage._TAG_INPUTS) == set(clouds.NAMES)


def test_no_hand_written_list_of_clouds() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in SOURCES
        if (REPO / folder).is_dir()
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "spec" / "clouds.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _ENUMERATION.search(line)
    ]
    assert found == [], f"enumerate clouds from mlops_iac.spec.clouds, not by hand: {found}"
