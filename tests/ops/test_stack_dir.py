"""Day-2 commands find stack files the way ``plan`` does: ``Pulumi.yaml``'s ``stackConfigDir``,
else the project directory."""

from __future__ import annotations

import shutil

import pytest

from mlops_iac.cli import OpsError, stackfile
from tests.conftest import STACKS


@pytest.mark.parametrize(
    ("manifest", "folder"),
    [
        ("name: team\nruntime: python\nstackConfigDir: config/stacks\n", "config/stacks"),
        ("name: team\nruntime: python\n", "."),
    ],
)
def test_day2_commands_use_the_stack_config_dir(manifest, folder, tmp_path, cli) -> None:
    (tmp_path / "Pulumi.yaml").write_text(manifest)
    target = tmp_path / folder
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(STACKS / "Pulumi.aws-dev.yaml", target / "Pulumi.aws-dev.yaml")
    assert stackfile.locate(tmp_path, "aws-dev") == target / "Pulumi.aws-dev.yaml"
    assert stackfile.known_stacks(tmp_path) == ["aws-dev"]
    assert cli("rollback", "--stack", "aws-dev", "--project", tmp_path) == 0, cli.err
    assert "rollback: true" in (target / "Pulumi.aws-dev.yaml").read_text()


def test_a_bad_manifest_is_one_line(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: a\nname: b\n")
    with pytest.raises(OpsError, match="duplicate key name at lines 1 and 2"):
        stackfile.locate(tmp_path, "dev")
