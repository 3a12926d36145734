"""No command writes a file through a symbolic link: a link committed to the checkout (where CI
writes `plan.sarif`, or as the stack file itself) must not send a report or an edit elsewhere."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.ops.conftest import write_outputs
from tests.ops.keys import key_for


def _links(tmp_path, name: str) -> dict[str, tuple]:
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir()
    victim.write_text("untouched\n")
    live, dangling = tmp_path / f"live-{name}", tmp_path / f"dangling-{name}"
    live.symlink_to(victim)
    dangling.symlink_to(tmp_path / "outside" / "created-by-the-link")
    return {"live": (live, victim), "dangling": (dangling, dangling.resolve())}


@pytest.mark.parametrize("flag", ["--json", "--sarif", "--junit", "--write-policy-config"])
@pytest.mark.parametrize("kind", ["live", "dangling"])
def test_plan_reports_are_never_written_through_a_symlink(cli, tmp_path, flag, kind):
    link, target = _links(tmp_path, flag.strip("-"))[kind]
    code = cli("plan", "-s", "aws-dev", "--project", REPO, "-q", flag, link)
    assert code == 2
    assert "symbolic link" in cli.one_error_line()
    assert link.is_symlink()
    if kind == "live":
        assert target.read_text() == "untouched\n"
    else:
        assert not target.exists()


def test_a_report_in_a_symlinked_directory_is_refused(cli, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "reports").symlink_to(real)
    code = cli(
        "plan", "-s", "aws-dev", "--project", REPO, "-q", "--json", tmp_path / "reports/p.json"
    )
    assert code == 2
    assert "symbolic link" in cli.one_error_line()
    assert list(real.iterdir()) == []


def test_train_smoke_script_is_not_written_through_a_symlink(cli, tmp_path):
    from tests.k8s.test_train_smoke import AWS_OUTPUTS

    link, victim = _links(tmp_path, "smoke.py")["live"]
    outputs = write_outputs(tmp_path / "out.json", AWS_OUTPUTS)
    code = cli(
        "train-smoke", "-s", "aws-prod", "--project", REPO, "--outputs", outputs, "--script", link
    )
    assert code == 2
    assert "symbolic link" in cli.one_error_line()
    assert victim.read_text() == "untouched\n"


def test_approve_does_not_edit_through_a_symlinked_stack_file(cli, project, tmp_path):
    stack_file = project / "stacks/Pulumi.aws-prod.yaml"
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_bytes(stack_file.read_bytes())
    stack_file.unlink()
    stack_file.symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    code = cli(
        "approve", "--stack", "aws-prod", "--project", project, "--model", "fraud-detector",
        "--version", "8", "--approver", "raj@example.com", "--ticket", "CHG-2001",
        "--key", key_for("raj@example.com"),
    )  # fmt: skip
    assert code == 2
    assert "symbolic link" in cli.one_error_line()
    assert elsewhere.read_bytes() == before and stack_file.is_symlink()
