"""The installable library: clear errors for a missing extra, the dependency direction, and
the acceptance run of a wheel installed with only the ``aws`` extra outside the repo (offline,
from the cache of ``uv``, which installed the repository's own venv).

Every check runs in a fresh interpreter: what one test imports must not hide what another loads
(one interpreter answers several questions only where the answers cannot hide each other).
A missing SDK is simulated with ``sys.modules[name] = None``, which makes ``import name`` raise
``ModuleNotFoundError`` exactly as an absent distribution does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from mlops_iac.spec import clouds

REPO = Path(__file__).resolve().parents[1]
SDKS = dict(clouds.SDKS)
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


_MISSING_SDKS = """
import json
for cloud in sys.argv[1:]:
    try:
        __import__(f"mlops_iac.components.{cloud}")
        found[cloud] = "imported"
    except ModuleNotFoundError as exc:
        found[cloud] = f"{type(exc).__name__}: {exc}"
from mlops_iac.components.testing import ProgramError, run_project
try:
    run_project(".", "azure-dev")
    found["platform"] = "built"
except ProgramError as exc:
    found["platform"] = str(exc)
print(json.dumps(found))
"""


def test_a_missing_cloud_sdk_names_the_extra():
    # One interpreter with every cloud's SDK missing answers for the three clouds and for the
    # platform builder (each a fresh interpreter would cost a second): a component package that
    # reached for another cloud's SDK would name the wrong extra and fail here.
    result = python(blocked(*SDKS.values()) + "found = {}\n" + _MISSING_SDKS, *sorted(SDKS))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for cloud in sorted(SDKS):
        assert found[cloud].startswith("ModuleNotFoundError: mlops_iac.components."), found
        assert f"pip install 'mlops-iac[{cloud}]'" in found[cloud], (cloud, found[cloud])
    # The platform builder, too, says which extra the stack's cloud needs.
    assert "pip install 'mlops-iac[azure]'" in found["platform"], found["platform"]


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


def _forbidden_for_components(found: dict[str, list[str]]) -> list[str]:
    mlops = [n for n in found["mlops"] if n.startswith(("mlops_iac.policies", "mlops_iac.cli"))]
    return sorted({*mlops, *({"boto3", "botocore", "rich", "ruamel"} & set(found["roots"]))})


def test_components_load_no_policies_boto3_rich_or_ruamel():
    # What a set of modules loads contains what each of them loads, so one interpreter that
    # imports them all proves it for every one; only a failure pays for one interpreter each,
    # to name the module that pulls the forbidden one in.
    if not _forbidden_for_components(loaded(*COMPONENT_MODULES)):
        return
    culprits = {m: bad for m in COMPONENT_MODULES if (bad := _forbidden_for_components(loaded(m)))}
    assert culprits == {}


def test_component_modules_are_all_checked():
    assert "mlops_iac.components.aws.serving_endpoint" in COMPONENT_MODULES
    assert "mlops_iac.components.spec" in COMPONENT_MODULES
    assert "mlops_iac.components.defaults" in COMPONENT_MODULES
    assert "mlops_iac.components.platform.stack" in COMPONENT_MODULES


def test_the_policy_pack_loads_no_component_or_provider_sdk():
    # One interpreter, two snapshots: the pack itself, then the report module on top of it.
    pack_modules = ("mlops_iac.policies.packs", "mlops_iac.policies.offline", "mlops_iac.policies")
    result = python(_LOADED + _THEN_REPORT, *pack_modules)
    assert result.returncode == 0, result.stderr
    pack, with_report = (json.loads(line) for line in result.stdout.splitlines())
    assert [n for n in pack["mlops"] if n.startswith("mlops_iac.components")] == []
    assert set(SDKS.values()) & set(pack["roots"]) == set()
    # The report reads stack files (mlops_iac.components.stackyaml) but still no provider SDK,
    # nor the repository's top-level folder under its old import name.
    assert {*SDKS.values(), "components"} & set(with_report["roots"]) == set()


_THEN_REPORT = """
importlib.import_module("mlops_iac.policies.report")
roots = {n.split(".")[0] for n in sys.modules}
print(json.dumps({"roots": sorted(roots)}))
"""


# --- acceptance: the wheel, only the aws extra, a team repository outside this one -------------

TEAM_TEST = """
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_the_team_program_runs_offline(offline):
    recording = offline.run_project(HERE, "dev")
    assert recording.of_type("mlops:aws:ServingEndpoint")
    assert recording.of_type("aws:sqs/queue:Queue")
"""
SHADOWS = "raise ImportError('the team folder {0}/ was imported instead of mlops_iac.{0}')\n"


def _team_repository(root: Path) -> Path:
    """A team repository: its own ``components/`` and ``policies/`` packages, a program that uses
    the AWS components, its stacks (one approved prod, one unapproved) and an offline test."""
    example = REPO / "examples" / "team-stack-aws"
    team = root / "team"
    team.mkdir()
    for folder in ("components", "policies"):
        (team / folder).mkdir()
        (team / folder / "__init__.py").write_text(SHADOWS.format(folder))
    (team / "__main__.py").write_text((example / "__main__.py").read_text())
    (team / "Pulumi.yaml").write_text(
        "name: fraud-serving\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        "    virtualenv: venv\n"
    )
    (team / "governance").mkdir()
    signers = example / "governance" / "allowed_signers"
    (team / "governance" / "allowed_signers").write_text(signers.read_text())
    for stack in ("dev", "prod"):
        (team / f"Pulumi.{stack}.yaml").write_text((example / f"Pulumi.{stack}.yaml").read_text())
    unapproved = yaml.safe_load((example / "Pulumi.prod.yaml").read_text())
    unapproved["config"]["mlops:platform"]["governance"]["approvals"] = []
    (team / "Pulumi.unapproved.yaml").write_text(yaml.safe_dump(unapproved))
    (team / "test_team.py").write_text(TEAM_TEST)
    return team


def _uv(*args: str, cwd: Path) -> None:
    """``uv`` (the repository's pinned installer) offline: ``make`` installed this venv with it, so
    its cache already holds every wheel the ``aws`` extra and the build backend need."""
    uv = Path(sys.prefix) / "bin" / "uv"
    if not uv.exists():
        pytest.fail(f"{uv} is missing: run `make test`, which installs the pinned set with uv")
    result = subprocess.run(
        [str(uv), *args, "--offline", "--quiet"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**_clean_env(), "UV_NO_PROGRESS": "1"},
    )
    assert result.returncode == 0, f"uv {' '.join(args)}: {result.stderr}"


def test_the_wheel_with_only_the_aws_extra_serves_a_team_outside_the_repo(tmp_path):
    dist = tmp_path / "dist"
    _uv("build", "--wheel", "--out-dir", str(dist), str(REPO), cwd=tmp_path)
    [wheel] = dist.glob("mlops_iac-*.whl")

    team = _team_repository(tmp_path)
    venv = team / "venv"
    _uv("venv", "--python", sys.executable, str(venv), cwd=team)
    bin_dir = venv / "bin"
    _uv(
        "pip",
        "install",
        "--python",
        str(bin_dir / "python"),
        "-c",
        str(REPO / "constraints.txt"),
        f"mlops-iac[aws] @ {wheel.as_uri()}",
        "pytest",
        cwd=team,
    )

    def in_team(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=team, capture_output=True, text=True, timeout=600, env=_clean_env()
        )

    # One interpreter answers both import questions (each start costs a second).
    imports = in_team(str(bin_dir / "python"), "-c", _IMPORT_ERRORS)
    assert imports.returncode == 0, imports.stderr
    missing, extra = imports.stdout.splitlines()
    assert missing == "ModuleNotFoundError: No module named 'pulumi_azure_native'"
    assert extra.startswith("ModuleNotFoundError: ")
    assert "pip install 'mlops-iac[azure]'" in extra

    # The first plan compiles the installed SDK's bytecode; the three runs after it only read it,
    # and they are independent of each other, so they run side by side.
    plan = in_team(str(bin_dir / "mlops-iac"), "plan", "--stack", "prod", "--quiet", "--no-color")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "PASS: no mandatory violation" in plan.stdout
    cli, python = str(bin_dir / "mlops-iac"), str(bin_dir / "python")
    commands = [
        (cli, "plan", "--stack", "unapproved", "--quiet", "--no-color"),
        (python, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        (cli, "policy-pack", "--out", "pack"),
    ]
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        refused, tests, pack = pool.map(lambda command: in_team(*command), commands)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "FAIL" in refused.stdout and "mlops-approval-gate" in refused.stdout

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout

    assert pack.returncode == 0, pack.stderr
    assert f"virtualenv: {venv.resolve()}" in (team / "pack" / "PulumiPolicy.yaml").read_text()


# Each import in its own ``try``; an exception message is printed on one line.
_IMPORT_ERRORS = """
for name in ("pulumi_azure_native", "mlops_iac.components.azure"):
    try:
        __import__(name)
        print(f"imported {name}")
    except ModuleNotFoundError as exc:
        print(f"ModuleNotFoundError: {exc}".replace("\\n", " "))
"""


def _clean_env() -> dict[str, str]:
    """The environment without this repository on the import path or its venv activated.

    Bytecode writing is left on, as on a team's machine: ``uv pip install`` does not compile, so
    with ``PYTHONDONTWRITEBYTECODE`` set every command would recompile the SDK it imports (about
    7 s of each ``mlops-iac plan``). The venv is the test's own, in its tmp_path.
    """
    import os

    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTHONSAFEPATH"}
    return {k: v for k, v in os.environ.items() if k not in dropped | {"PYTHONDONTWRITEBYTECODE"}}


def test_every_range_starts_at_the_tested_pin():
    """docs/compatibility.md's promise: each declared range's lower bound is constraints.txt's
    pin (the set every test runs against), and each range has an upper bound."""
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = dict(
        re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (REPO / "constraints.txt").read_text(), re.M)
    )
    pins = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    extras = project["optional-dependencies"]
    ranged = [*project["dependencies"], *(r for cloud in clouds.NAMES for r in extras[cloud])]
    for requirement in ranged:
        name, low, high = re.fullmatch(r"([A-Za-z0-9_.-]+)>=(\S+),<(\S+)", requirement).groups()
        pinned = pins[name.lower().replace("_", "-")]
        assert pinned.startswith(low) or pinned == low, (requirement, pinned)
        assert high, requirement
    assert set(extras) >= {*clouds.NAMES, "all"}
    assert project["requires-python"] == ">=3.11,<3.14"
    for folder in ("components", "policies", "cli"):
        assert (REPO / folder / "py.typed").exists()
