"""``mlops-iac init``: write a starter project for a team.

``mlops-iac init [DIR] --cloud aws|azure|gcp [--kind team|platform] [--name NAME]`` writes into
DIR (default the working directory): ``Pulumi.yaml`` (python runtime, ``virtualenv: .venv``),
one stack file per environment (``Pulumi.dev.yaml``, ``Pulumi.prod.yaml``), ``__main__.py``,
``requirements.txt`` (``mlops-iac[<cloud>,testing]``), ``governance/allowed_signers`` (empty: add
your approvers' keys), a starter test with the ``offline`` fixture that asserts what the program
must contain (never an exact resource count) and ``.github/workflows/mlops-iac.yml`` (plan both
stacks, run the tests).

``--kind team`` (default): a team stack file (the governance keys only) and a program that
composes components (an artifact store). ``--kind platform``: a platform stack file (``cloud``,
``serving``, ...) and the whole platform program. Existing files are never overwritten and
symlinks are never written through: the command refuses before writing anything.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mlops_iac.cli import EXIT_OK, OpsError, command, describe, nofollow
from mlops_iac.spec.clouds import NAMES
from mlops_iac.spec.keys import ROOT

NAME = "init"

_PROJECT = re.compile(r"[^a-z0-9-]+")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``init`` subcommand."""
    parser = subparsers.add_parser(
        NAME, help="write a starter team project (program, stack files, test, CI)",
        description=describe(__doc__),
    )  # fmt: skip
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where (default: .)")
    parser.add_argument("--cloud", required=True, choices=sorted(NAMES), help="the cloud")
    parser.add_argument(
        "--kind",
        choices=["team", "platform"],
        default="team",
        help="team: governance keys and your own components (default); platform: the whole "
        "platform",
    )
    parser.add_argument(
        "--name", metavar="NAME", help="project name (default: DIR's name, made valid)"
    )
    parser.set_defaults(func=run)


def project_name(directory: Path) -> str:
    """A valid project name from the directory's name (``team-project`` if none)."""
    name = _PROJECT.sub("-", directory.resolve().name.lower()).strip("-")
    if not re.match(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$", name):
        return "team-project"
    return name


_CONFIG = {
    "aws": "  aws:region: us-east-1\n",
    "azure": "  azure-native:location: westeurope\n",
    "gcp": "  gcp:project: {name}-{env}\n  gcp:region: europe-west4\n",
}

_MODEL_URI = {
    "aws": "s3://{name}-models/model/{version}/model.tar.gz",
    "azure": "azureml://registries/{name}-registry/models/model/versions/{version}",
    # A path in the stack's own model bucket (the image comes from its own repository).
    "gcp": "model/{version}/",
}

_IMAGE = {
    "aws": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311",
    "azure": None,
    "gcp": None,
}


def _model(cloud: str, key: str, version: str, name: str) -> list[str]:
    lines = [
        f"      {key}:",
        "        name: model",
        f'        version: "{version}"',
        f"        artifactUri: {_MODEL_URI[cloud].format(name=name, version=version)}",
    ]
    if image := _IMAGE[cloud]:
        lines.append(f"        image: {image}")
    return lines


def stack_file(cloud: str, kind: str, env: str, name: str) -> str:
    """One environment's stack file text."""
    lines = [
        f"# The {env} stack of {name} ({kind} stack file; `mlops-iac plan -s {env}` checks it).",
        "config:",
        _CONFIG[cloud].format(name=name, env=env).rstrip("\n"),
        f"  {ROOT}:",
        f"    cloud: {cloud}",
        f"    environment: {env}",
        f"    project: {name}",
        f"    owner: {name}-owners@example.com",
        "    lineage:",
        '      gitSha: "0000000"',
        "      datasetVersion: v1",
    ]
    if kind == "platform":
        # The served version and the one `mlops-iac rollback` returns to.
        lines += ["    serving:", *_model(cloud, "model", "2", name)]
        lines += _model(cloud, "previousModel", "1", name)
        # Step one of the bring-up: the cluster's Kubernetes side comes with a machine inside its
        # network (docs/training-clusters.md); drop this line for the second `pulumi up`.
        lines += ["    training:", "      kubernetes: deferred"]
        lines += ["    monitoring:", "      alertEmails:", f"        - {name}-oncall@example.com"]
    lines += [
        "    governance:",
        "      # Who may approve model versions and sign waivers (not the owner); their",
        "      # public keys go in governance/allowed_signers.",
        "      approvers:",
        f"        - {name}-lead@example.com",
    ]
    return "\n".join(lines) + "\n"


_TEAM_PROGRAM = '''"""{name}: the team's resources, composed from mlops-iac components."""

import pulumi

from mlops_iac.components.{cloud} import ArtifactStore, ArtifactStoreArgs
from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.spec import SpecError, load_team_governance

try:
    team = load_team_governance()  # the team stack file's governance keys
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack file:\\n{{exc}}") from None

# Before any resource: every resource registered after it gets the lineage tags.
register_lineage_transform(team)
store = ArtifactStore("artifacts", ArtifactStoreArgs(environment=team.environment))

pulumi.export("artifact_bucket_name", store.bucket_name)
pulumi.export("dvc_remote_url", store.dvc_remote_url)
'''

_PLATFORM_PROGRAM = '''"""{name}: the platform, from the platform stack file."""

import pulumi

from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.platform.stack import MlopsStack
from mlops_iac.components.spec import SpecError, load_spec

try:
    spec = load_spec()
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack file:\\n{{exc}}") from None

register_lineage_transform(spec)
platform = MlopsStack("mlops", spec)
for name, value in platform.exports.items():
    pulumi.export(name, value)
'''

_TEST = '''"""Offline tests of this program (no cloud, no Pulumi CLI): `pytest`.

The `offline` fixture comes with mlops-iac (its docs/testing.md); it fails a test when the real
deploy would refuse the program. Assert what must be there, not how many resources there are.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_runs_offline_with_lineage(offline, stack):
    recording = offline.run_project(HERE, stack)
    assert recording.exports["artifact_bucket_name"]
    tagged = [r for r in recording.resources if "{tag}" in (r.inputs.get("{tags}") or {{}})]
    assert tagged, "no resource carries the lineage tags"
'''

_LINEAGE_TAG = {"aws": "mlops:git-sha", "azure": "mlops:git-sha", "gcp": "mlops-git-sha"}
_TAGS_INPUT = {"aws": "tags", "azure": "tags", "gcp": "labels"}

_WORKFLOW = """# Plan both stacks offline (no cloud credentials) and run the offline tests.
name: mlops-iac
on: [push, pull_request]
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      # The virtualenv Pulumi.yaml names, as the Pulumi CLI would use it.
      - run: python -m venv .venv && .venv/bin/pip install -r requirements.txt
      - run: .venv/bin/mlops-iac plan --project . --stack dev --sarif plan-dev.sarif
      - run: .venv/bin/mlops-iac plan --project . --stack prod --sarif plan-prod.sarif
      - run: .venv/bin/python -m pytest -W error tests
"""

_GITIGNORE = ".venv/\n__pycache__/\n*.sarif\n"


def files(cloud: str, kind: str, name: str) -> dict[str, str]:
    """The starter project's files (relative path: text)."""
    program = _TEAM_PROGRAM if kind == "team" else _PLATFORM_PROGRAM
    test = _TEST.replace("{tag}", _LINEAGE_TAG[cloud]).replace("{tags}", _TAGS_INPUT[cloud])
    return {
        "Pulumi.yaml": (
            f"name: {name}\n"
            f"description: {name} ({cloud}, mlops-iac {kind} program)\n"
            "runtime:\n"
            "  name: python\n"
            "  options:\n"
            "    toolchain: pip\n"
            "    virtualenv: .venv\n"
        ),
        "Pulumi.dev.yaml": stack_file(cloud, kind, "dev", name),
        "Pulumi.prod.yaml": stack_file(cloud, kind, "prod", name),
        "__main__.py": program.format(name=name, cloud=cloud),
        "requirements.txt": f"mlops-iac[{cloud},testing]\n",
        "governance/allowed_signers": (
            "# <approver email> <ssh public key>, one a line (ssh-keygen -Y verify format).\n"
        ),
        "tests/test_program.py": test.replace("{{}}", "{}"),
        ".github/workflows/mlops-iac.yml": _WORKFLOW,
        ".gitignore": _GITIGNORE,
    }


def _directories(root: Path, directory: Path) -> None:
    """Create ``directory`` under ``root``, refusing any symlink on the way (never written
    through)."""
    nofollow.refuse_symlink(root, "directory")
    root.mkdir(parents=True, exist_ok=True)
    current = root
    for part in directory.relative_to(root).parts:
        current = current / part
        nofollow.refuse_symlink(current, "directory")
        current.mkdir(parents=True, exist_ok=True)


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Write the starter files; refuse (nothing written) if any exists."""
    root = Path(args.dir)
    name = args.name or project_name(root)
    if not re.match(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$", name):
        raise OpsError(f"--name {name!r}: lowercase letters, digits and '-', 3-40 characters")
    wanted = files(args.cloud, args.kind, name)
    existing = [p for p in wanted if (root / p).exists() or (root / p).is_symlink()]
    if existing:
        raise OpsError(f"{root / existing[0]} exists; init never overwrites (choose an empty DIR)")
    # Every directory on the way is checked before the first write: nothing half-written.
    nofollow.refuse_symlink(root, "directory")
    for relative in wanted:
        for parent in list(Path(relative).parents)[:-1]:
            nofollow.refuse_symlink(root / parent, "directory")
    for relative, text in wanted.items():
        path = root / relative
        _directories(root, path.parent)
        nofollow.write_atomic(path, text.encode(), expected=b"")
    print(
        f"wrote a {args.kind} project for {args.cloud} in {root} ({len(wanted)} files); next: "
        f"cd {root} && python -m venv .venv && .venv/bin/pip install -r requirements.txt && "
        ".venv/bin/mlops-iac plan -s dev"
    )
    return EXIT_OK
