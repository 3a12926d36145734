"""Regression guard for the import footprint: one cloud's components load that
cloud's SDK only, and of it only the submodules the components' sources use.

Provider SDKs are lazy: ``import pulumi_aws`` puts every submodule in ``sys.modules`` as a
placeholder (``pulumi._utils._LazyModule``) and runs it on first attribute access, at about
0.1 s and tens of MB each. A stray ``aws.<sub>`` reference or a helper that walks every
submodule would multiply the cost of every ``import mlops_iac.components.aws`` and every plan.

Each cloud is checked in a fresh interpreter, in three steps:

1. ``import <provider>`` alone: what the package loads eagerly (``_utilities``, ``_inputs``,
   ``outputs``, ``provider``, the root functions…). That is the unavoidable price of using the
   SDK at all, so it is the allow-list of the package's own internals, measured, not guessed.
2. ``import mlops_iac.components.<cloud>``: no other cloud's SDK appears in ``sys.modules`` at all.
3. building the ``<cloud>-prod`` platform offline: no other cloud's SDK, and every loaded
   ``<provider>.<sub>`` (``pulumi_aws.s3.bucket`` counts as ``s3``) is in step 1's set or is
   referenced by ``components/<cloud>/*.py`` or ``components/platform/<cloud>.py`` (found with
   ``ast``: ``aws.<sub>`` attributes, ``from pulumi_aws import <sub>``,
   ``import pulumi_aws.<sub>``). Step 2 is held to the same allow-list.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from mlops_iac.spec import clouds

REPO = Path(__file__).resolve().parents[1]
PROVIDERS = dict(clouds.SDKS)

_PROBE = """
import json, sys
from pathlib import Path

def snapshot():
    from pulumi._utils import _LazyModule
    roots = set(json.loads(sys.argv[3]))
    present = [n for n in list(sys.modules) if n.split(".")[0] in roots]
    loaded = [n for n in present if not isinstance(sys.modules[n], _LazyModule)]
    return {"present": sorted(present), "loaded": sorted(loaded)}

cloud, provider = sys.argv[1], sys.argv[2]
result = {}
__import__(provider)
result["provider"] = snapshot()
__import__(f"mlops_iac.components.{cloud}")
result["components"] = snapshot()
from mlops_iac.plan.testing import run_project
recording = run_project(Path.cwd(), f"{cloud}-prod")
result["platform"] = snapshot()
result["resources"] = len(recording)
print(json.dumps(result))
"""


def referenced_submodules(sources: Iterable[Path], package: str) -> set[str]:
    """First-level names of ``package`` that these sources reference.

    ``import pulumi_aws as aws`` then ``aws.s3.Bucket`` gives ``s3``; ``from pulumi_azure_native
    import storage`` gives ``storage``; ``import pulumi_gcp.kms`` gives ``kms``. Root functions
    (``aws.get_caller_identity``) come along too, harmlessly: they are not submodules.
    """
    found: set[str] = set()
    for path in sources:
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package:
                        aliases.add(alias.asname or package)
                    elif alias.name.startswith(f"{package}."):
                        found.add(alias.name.split(".")[1])
                        aliases.add(alias.asname or package)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module == package:
                    found.update(alias.name for alias in node.names)
                elif node.module.startswith(f"{package}."):
                    found.add(node.module.split(".")[1])
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                found.add(node.attr)
    return found


def _sources(cloud: str) -> list[Path]:
    components = REPO / "components"
    return sorted((components / cloud).glob("*.py")) + [components / "platform" / f"{cloud}.py"]


def _first_level(modules: Iterable[str], package: str) -> set[str]:
    return {m.split(".")[1] for m in modules if m.startswith(f"{package}.")}


@pytest.fixture(scope="module", params=sorted(PROVIDERS))
def footprint(request: pytest.FixtureRequest) -> tuple[str, dict]:
    cloud = request.param
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _PROBE,
            cloud,
            PROVIDERS[cloud],
            json.dumps(list(PROVIDERS.values())),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return cloud, json.loads(out.stdout.strip().splitlines()[-1])


def test_scanner_reads_every_import_form(tmp_path: Path) -> None:
    source = tmp_path / "component.py"
    source.write_text(
        "import pulumi_aws as aws\n"
        "import pulumi_aws.kms\n"
        "from pulumi_aws import sns, iam as identity\n"
        "from pulumi_aws.ecr import Repository\n"
        "from . import pulumi_aws\n"  # relative: not the SDK
        "bucket = aws.s3.Bucket('b')\n"
        "key = pulumi_aws.kms.Key('k')\n"
        "other.ec2.Vpc('v')\n"
    )
    assert referenced_submodules([source], "pulumi_aws") == {"s3", "kms", "sns", "iam", "ecr"}


def test_components_import_no_other_cloud_sdk(footprint: tuple[str, dict]) -> None:
    cloud, result = footprint
    for step in ("components", "platform"):
        others = [
            m
            for m in result[step]["present"]
            if m.split(".")[0] in set(PROVIDERS.values()) - {PROVIDERS[cloud]}
        ]
        assert not others, f"{step} step of {cloud} loaded another cloud's SDK: {others[:10]}"


def test_components_load_only_submodules_they_use(footprint: tuple[str, dict]) -> None:
    cloud, result = footprint
    package = PROVIDERS[cloud]
    allowed = _first_level(result["provider"]["loaded"], package) | referenced_submodules(
        _sources(cloud), package
    )
    assert result["resources"] > 20, "the platform did not build: the check would be vacuous"
    platform = _first_level(result["platform"]["loaded"], package)
    # Non-vacuous: the platform really loaded submodules beyond the package's eager set.
    assert platform - _first_level(result["provider"]["loaded"], package), (
        f"no {package} submodule loaded; is lazy-module detection broken?"
    )
    for step, what in (
        ("components", f"import mlops_iac.components.{cloud}"),
        ("platform", f"building the {cloud}-prod platform"),
    ):
        unexpected = sorted(_first_level(result[step]["loaded"], package) - allowed)
        assert not unexpected, (
            f"{what} loaded {package} submodules that components/{cloud} does not reference: "
            f"{unexpected}"
        )
