"""The installable library: clear errors for a missing extra, the dependency direction, and
(``slow``) the acceptance run of a wheel installed with only the ``aws`` extra outside the repo.

Every check runs in a fresh interpreter: what one test imports must not hide what another loads.
A missing SDK is simulated with ``sys.modules[name] = None``, which makes ``import name`` raise
``ModuleNotFoundError`` exactly as an absent distribution does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SDKS = {"aws": "pulumi_aws", "azure": "pulumi_azure_native", "gcp": "pulumi_gcp"}
# The library proper: the cloud packages, the platform wiring and the shared modules. The
# offline test engine (components/testing) is a test tool and may read botocore's API models.
COMPONENT_MODULES = sorted(
    f"mlops_iac.components.{path.parent.name}.{path.stem}"
    if path.parent.name != "components"
    else f"mlops_iac.components.{path.stem}"
    for path in (REPO / "components").glob("**/*.py")
    if path.parent.name in {*SDKS, "platform", "components"} and path.stem != "__init__"
)


def python(code: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def blocked(*modules: str) -> str:
    return "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)


@pytest.mark.parametrize("cloud", sorted(SDKS))
def test_a_missing_cloud_sdk_names_the_extra(cloud):
    result = python(blocked(SDKS[cloud]) + f"import mlops_iac.components.{cloud}")
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith("ModuleNotFoundError: mlops_iac.components.")
    assert f"pip install 'mlops-iac[{cloud}]'" in last


def test_the_platform_builder_names_the_extra():
    code = blocked("pulumi_azure_native") + (
        "from mlops_iac.components.testing import ProgramError, run_project\n"
        "try:\n"
        "    run_project('.', 'azure-dev')\n"
        "except ProgramError as exc:\n"
        "    print(exc)\n"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert "pip install 'mlops-iac[azure]'" in result.stdout


def test_plan_without_the_extra_is_one_line_and_exit_2():
    code = blocked("pulumi_gcp") + (
        "from mlops_iac.cli.main import main\n"
        "sys.exit(main(['plan', '--stack', 'gcp-dev', '--quiet', '--no-color']))\n"
    )
    result = python(code)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mlops-iac plan: error: ModuleNotFoundError: ")
    assert "pip install 'mlops-iac[gcp]'" in lines[0]
    assert "Traceback" not in result.stderr


_LOADED = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
roots = {n.split(".")[0] for n in sys.modules}
print(json.dumps({"roots": sorted(roots), "mlops": sorted(n for n in sys.modules
                                                           if n.startswith("mlops_iac."))}))
"""


def loaded(*modules: str) -> dict[str, list[str]]:
    result = python(_LOADED, *modules)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("module", COMPONENT_MODULES)
def test_components_load_no_policies_boto3_rich_or_ruamel(module):
    found = loaded(module)
    assert [n for n in found["mlops"] if n.startswith("mlops_iac.policies")] == []
    assert [n for n in found["mlops"] if n.startswith("mlops_iac.cli")] == []
    assert {"boto3", "botocore", "rich", "ruamel"} & set(found["roots"]) == set()


def test_component_modules_are_all_checked():
    assert "mlops_iac.components.aws.serving_endpoint" in COMPONENT_MODULES
    assert "mlops_iac.components.spec" in COMPONENT_MODULES
    assert "mlops_iac.components.defaults" in COMPONENT_MODULES
    assert "mlops_iac.components.platform.stack" in COMPONENT_MODULES


def test_the_policy_pack_loads_no_component_or_provider_sdk():
    found = loaded("mlops_iac.policies.packs", "mlops_iac.policies.offline", "mlops_iac.policies")
    assert [n for n in found["mlops"] if n.startswith("mlops_iac.components")] == []
    assert set(SDKS.values()) & set(found["roots"]) == set()
