"""``mlops-iac init``: a starter project that plans, and never writes over or through anything."""

from __future__ import annotations

import pytest
import yaml

from mlops_iac.cli import init as init_cmd
from mlops_iac.cli import stackfile
from mlops_iac.plan.engine import Project
from mlops_iac.spec import clouds

FILES = [
    ".github/workflows/mlops-iac.yml",
    ".gitignore",
    "Pulumi.dev.yaml",
    "Pulumi.prod.yaml",
    "Pulumi.yaml",
    "__main__.py",
    "governance/allowed_signers",
    "requirements.txt",
    "tests/test_program.py",
]


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("cloud", clouds.NAMES)
@pytest.mark.parametrize("kind", ["team", "platform"])
def test_writes_a_project_of_each_kind(cli, tmp_path, cloud, kind):
    root = tmp_path / "fraud-scoring"
    assert cli("init", root, "--cloud", cloud, "--kind", kind) == 0, cli.err
    assert _listing(root) == FILES
    manifest = yaml.safe_load((root / "Pulumi.yaml").read_text())
    assert manifest["name"] == "fraud-scoring"
    assert manifest["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    assert Project.load(root).virtualenv == root / ".venv"
    assert (root / "requirements.txt").read_text() == f"mlops-iac[{cloud},testing]\n"
    for env in ("dev", "prod"):
        sf = stackfile.load(root, env)
        assert (sf.kind, sf.cloud, sf.governed.environment) == (kind, cloud, env)
        assert sf.governed.project == "fraud-scoring"
    test = (root / "tests/test_program.py").read_text()
    assert "offline" in test and "len(" not in test  # no pinned resource counts
    workflow = yaml.safe_load((root / ".github/workflows/mlops-iac.yml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["plan"]["steps"]]
    assert ".venv/bin/mlops-iac plan --project . --stack prod --sarif plan-prod.sarif" in runs
    assert ".venv/bin/python -m pytest -W error tests" in runs


def test_refuses_to_overwrite_and_writes_nothing(cli, tmp_path):
    root = tmp_path / "p-team"
    root.mkdir()
    (root / "requirements.txt").write_text("mine\n")
    assert cli("init", root, "--cloud", "aws") == 2
    assert "requirements.txt exists; init never overwrites" in cli.one_error_line()
    assert _listing(root) == ["requirements.txt"]
    assert (root / "requirements.txt").read_text() == "mine\n"


@pytest.mark.parametrize("link", ["Pulumi.yaml", "governance", "tests"])
def test_never_writes_through_a_symlink(cli, tmp_path, link):
    root = tmp_path / "p-team"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / link).symlink_to(outside / link)  # dangling: must not be created through
    assert cli("init", root, "--cloud", "gcp") == 2
    line = cli.one_error_line()
    assert "symbolic link" in line or "exists; init never overwrites" in line
    assert list(outside.iterdir()) == []
    assert _listing(root) == []  # refused before the first write


def test_a_directory_name_that_is_no_project_name(cli, tmp_path):
    assert init_cmd.project_name(tmp_path / "My Team!") == "my-team"
    assert init_cmd.project_name(tmp_path / "_") == "team-project"
    assert cli("init", tmp_path / "x", "--cloud", "aws", "--name", "Bad_Name") == 2
    assert "--name 'Bad_Name'" in cli.one_error_line()
    assert not (tmp_path / "x").exists()
