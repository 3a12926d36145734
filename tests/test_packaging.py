"""The installable library: clear errors for a missing extra, the dependency direction, and
the acceptance run of a wheel installed with only the ``aws`` extra outside the repo (offline,
from the cache of ``uv``, which installed the repository's own venv).

Every check runs in a fresh interpreter: what one test imports must not hide what another loads
(one interpreter answers several questions only where the answers cannot hide each other).
A missing SDK is simulated with ``sys.modules[name] = None``, which makes ``import name`` raise
``ModuleNotFoundError`` exactly as an absent distribution does.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
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
# offline plan (plan/) is not part of it and may read botocore's API models.
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
from mlops_iac.plan.testing import ProgramError, run_project
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
    # The program's own line that imported the component comes first (file:line of __main__.py).
    assert re.match(r"mlops-iac plan: error: __main__\.py:\d+: ModuleNotFoundError: ", lines[0])
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
    above = ("mlops_iac.policies", "mlops_iac.cli", "mlops_iac.plan")
    mlops = [n for n in found["mlops"] if n.startswith(above)]
    return sorted({*mlops, *({"boto3", "botocore", "rich", "ruamel"} & set(found["roots"]))})


def test_components_load_no_policies_plan_cli_boto3_rich_or_ruamel():
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
    assert "mlops_iac.components.platform.stack" in COMPONENT_MODULES


SPEC_MODULES = sorted(f"mlops_iac.spec.{path.stem}" for path in (REPO / "spec").glob("*.py"))


def test_the_spec_loads_no_pulumi_sdk_component_or_policy():
    # The ground floor: the stack file's models, parser, loader, defaults, GPU catalogue and cloud
    # limits. Pulumi is imported only when load_spec() reads a stack's config.
    found = loaded(*SPEC_MODULES)
    assert "mlops_iac.spec.parse" in found["mlops"] and "mlops_iac.spec.limits" in found["mlops"]
    outside = [n for n in found["mlops"] if not n.startswith(("mlops_iac.spec", "mlops_iac.drift"))]
    assert outside == []
    assert {"pulumi", "pulumi_policy", *SDKS.values()} & set(found["roots"]) == set()


def test_the_policy_pack_loads_no_component_or_provider_sdk():
    # One interpreter, two snapshots: the pack itself, then the report module on top of it.
    pack_modules = ("mlops_iac.policies.packs", "mlops_iac.policies.offline", "mlops_iac.policies")
    result = python(_LOADED + _THEN_REPORT, *pack_modules)
    assert result.returncode == 0, result.stderr
    pack, with_report = (json.loads(line) for line in result.stdout.splitlines())
    assert [n for n in pack["mlops"] if n.startswith("mlops_iac.components")] == []
    assert set(SDKS.values()) & set(pack["roots"]) == set()
    above = ("mlops_iac.plan", "mlops_iac.cli")
    assert [n for n in with_report["mlops"] if n.startswith(above)] == []
    # The report reads stack files (mlops_iac.spec.stackyaml) but still no provider SDK,
    # nor the repository's top-level folder under its old import name.
    assert {*SDKS.values(), "components"} & set(with_report["roots"]) == set()


_THEN_REPORT = """
importlib.import_module("mlops_iac.policies.report")
roots = {n.split(".")[0] for n in sys.modules}
print(json.dumps({"roots": sorted(roots), "mlops": sorted(n for n in sys.modules
                                                           if n.startswith("mlops_iac."))}))
"""


# --- the dependency direction: cli -> plan service -> plan engine -> components -> spec ---------
# Each folder's imports, read with ``ast`` (function-level imports included, which a fresh
# interpreter would not load), against what the folder may never import.

FOLDERS = {"cli": "cli", "components": "components", "plan": "plan", "policies": "policies"}
FOLDERS |= {"spec": "spec", "drift": "drift"}
PROVIDER_SDKS = (*SDKS.values(), "pulumi_kubernetes", "boto3", "botocore")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _is_under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def forbidden_imports(
    folder: str,
    forbidden: tuple[str, ...],
    *,
    allowed: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
) -> dict[str, list[str]]:
    """``{file: [forbidden modules it imports]}`` for the Python files of a top-level folder."""
    found = {}
    for path in sorted((REPO / folder).glob("**/*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(skip):
            continue
        bad = sorted(
            m
            for m in imported_modules(path)
            if _is_under(m, forbidden) and not _is_under(m, allowed)
        )
        if bad:
            found[relative] = bad
    return found


def test_components_import_neither_the_plan_nor_the_cli():
    # components/testing/ is the documented alias of mlops_iac.plan.testing (the team test kit,
    # which is the plan side), importing it by name only when a name is used; see the next test.
    assert (
        forbidden_imports(
            "components",
            ("mlops_iac.plan", "mlops_iac.cli", "mlops_iac.policies"),
            skip=("components/testing/",),
        )
        == {}
    )


def test_the_plan_engine_imports_neither_the_service_nor_the_cli():
    # cli -> bring-up driver -> plan service -> engine: the engine, the mocks, the catalogue and
    # the test kit are what the service builds on, never the other way round. The bring-up
    # driver (`plan --bring-up`) runs the service step by step, so it sits above it.
    assert (
        forbidden_imports(
            "plan",
            ("mlops_iac.plan.service", "mlops_iac.plan.bringup", "mlops_iac.cli"),
            skip=("plan/service.py", "plan/bringup.py"),
        )
        == {}
    )
    assert forbidden_imports("plan", ("mlops_iac.cli", "rich")) == {}


def test_the_policies_read_the_spec_but_no_component_plan_cli_or_sdk():
    assert (
        forbidden_imports(
            "policies",
            ("mlops_iac.components", "mlops_iac.plan", "mlops_iac.cli", *PROVIDER_SDKS),
        )
        == {}
    )


def test_the_spec_is_the_ground_floor():
    above = ("mlops_iac.components", "mlops_iac.plan", "mlops_iac.cli", "mlops_iac.policies")
    assert forbidden_imports("spec", (*above, *PROVIDER_SDKS)) == {}


def test_the_import_check_sees_function_level_and_from_imports(tmp_path):
    # The checker itself: an import inside a function and a `from package import module` count.
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from mlops_iac.plan import service\n"
        "import mlops_iac.cli.plan as p\nfrom . import sibling\n"
    )
    found = imported_modules(source)
    assert {"mlops_iac.plan", "mlops_iac.plan.service", "mlops_iac.cli.plan"} <= found
    assert not any(m.endswith("sibling") for m in found)


_PLAN_SIDE = """
import importlib, json, sys
def mlops():
    return sorted(n for n in sys.modules if n.startswith("mlops_iac."))
found = {}
importlib.import_module("mlops_iac.components.testing")
found["alias"] = mlops()
for name in ("mlops_iac.plan.testing.plugin", "mlops_iac.plan.deploy", "mlops_iac.plan.engine"):
    importlib.import_module(name)
found["engine"] = mlops()
found["engine_roots"] = sorted({n.split(".")[0] for n in sys.modules})
importlib.import_module("mlops_iac.plan.service")
found["service"] = mlops()
found["service_roots"] = sorted({n.split(".")[0] for n in sys.modules})
importlib.import_module("mlops_iac.cli.plan")
found["cli"] = mlops()
print(json.dumps(found))
"""


def test_cli_then_plan_service_then_engine_in_a_fresh_interpreter():
    # One interpreter, snapshots in the order of the dependency direction: each layer loads only
    # what is below it (a later snapshot contains the earlier ones).
    result = python(_PLAN_SIDE)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # The alias of the test kit is lazy: importing it loads no plan module at all.
    assert [n for n in found["alias"] if n.startswith("mlops_iac.plan")] == []
    assert [
        n for n in found["engine"] if n.startswith(("mlops_iac.cli", "mlops_iac.plan.service"))
    ] == []
    assert "rich" not in found["engine_roots"]
    assert "mlops_iac.plan.service" in found["service"]
    assert [n for n in found["service"] if n.startswith("mlops_iac.cli")] == []
    assert "mlops_iac.plan.service" in found["cli"]


_ALIAS = """
import json
import mlops_iac.components.testing.moto_s3 as old_moto
from mlops_iac.components.testing import Recording, emulators, run_project
from mlops_iac.plan import testing
from mlops_iac.plan.testing import moto_s3
print(json.dumps([
    Recording is testing.Recording,
    run_project is testing.run_project,
    emulators is testing.emulators,
    old_moto is moto_s3,
    "run_project" in dir(__import__("mlops_iac.components.testing").components.testing),
]))
"""


def test_the_documented_old_test_kit_paths_are_the_same_objects():
    result = python(_ALIAS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True] * 5
    missing = python("import mlops_iac.components.testing as t\nt.no_such_name\n")
    assert "AttributeError: module 'mlops_iac.components.testing' has no attribute" in (
        missing.stderr
    )


# --- acceptance: the wheel, only the aws extra, a team repository outside this one -------------

TEAM_TEST = """
from pathlib import Path

from mlops_iac.components.testing import Recording

HERE = Path(__file__).resolve().parent


def test_the_team_program_runs_offline(offline):
    recording = offline.run_project(HERE, "dev")
    assert isinstance(recording, Recording)  # the documented older import path, installed
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
    # The model cards the approvals sign (their digests are in the signed records).
    shutil.copytree(example / "governance" / "model-cards", team / "governance" / "model-cards")
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


def test_the_wheel_with_only_the_aws_extra_serves_a_team_outside_the_repo(tmp_path, aws_venv):
    # The venv (the wheel with its aws and testing extras, which is pytest) is the run's one, which
    # the AWS persona also uses (tests/conftest.py): linked where the team's Pulumi.yaml says.
    team = _team_repository(tmp_path)
    venv = team / "venv"
    venv.symlink_to(aws_venv, target_is_directory=True)
    bin_dir = venv / "bin"

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
    # Publishable: the pack's own relative venv, made from its requirements.txt.
    assert "virtualenv: venv" in (team / "pack" / "PulumiPolicy.yaml").read_text()
    assert (team / "pack" / "requirements.txt").read_text() == "mlops-iac==0.1.0\n"


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
    ranged = [
        *project["dependencies"],
        *(r for cloud in clouds.NAMES for r in extras[cloud]),
        *extras["testing"],  # what `mlops-iac init` asks a team to install
    ]
    for requirement in ranged:
        name, low, high = re.fullmatch(r"([A-Za-z0-9_.-]+)>=(\S+),<(\S+)", requirement).groups()
        pinned = pins[name.lower().replace("_", "-")]
        assert pinned.startswith(low) or pinned == low, (requirement, pinned)
        assert high, requirement
    assert set(extras) >= {*clouds.NAMES, "all"}
    assert project["requires-python"] == ">=3.11,<3.14"
    for folder in ("components", "policies", "cli"):
        assert (REPO / folder / "py.typed").exists()


def test_every_package_of_the_mapped_folders_is_in_the_wheel():
    # setuptools lists packages by hand: a new subpackage left out installs nowhere, and the
    # wheel fails on import (the deploy catalogue imports its permissions package).
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {
        ".".join((package, *init.parent.relative_to(REPO / folder).parts))
        for package, folder in setuptools["package-dir"].items()
        for init in (REPO / folder).glob("**/__init__.py")
    }
    assert found - listed == set()
