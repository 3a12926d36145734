"""``mlops-iac dvc-remote``: ``dvc remote add -d`` semantics on ``.dvc/config``."""

from __future__ import annotations

import pytest

from tests.ops.conftest import write_outputs

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
URL = "s3://fraud-detection-artifacts-1a2b3c/dvc"

EXISTING = """\
[core]
    autostage = true
# team remotes: keep
['remote "shared"']
    url = s3://team-bucket/dvc
    profile = team
[cache]
    type = "reflink,copy"
"""


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "repo" / ".dvc").mkdir(parents=True)
    return tmp_path / "repo"


@pytest.fixture
def outputs(tmp_path):
    return write_outputs(tmp_path / "outputs.json", {"dvc_remote_url": URL, "kms_key_id": KEY})


def _run(cli, project, outputs, repo, *extra):
    return cli("dvc-remote", "--stack", "aws-prod", "--project", project,
               "--outputs", outputs, "--repo", repo, *extra)  # fmt: skip


def test_adds_default_remote_and_keeps_everything_else(cli, project, outputs, repo):
    config = repo / ".dvc" / "config"
    config.write_text(EXISTING)
    assert _run(cli, project, outputs, repo) == 0, cli.err
    assert config.read_text() == (
        "[core]\n"
        "    autostage = true\n"
        "    remote = aws-prod\n"
        "# team remotes: keep\n"
        "['remote \"shared\"']\n"
        "    url = s3://team-bucket/dvc\n"
        "    profile = team\n"
        "[cache]\n"
        '    type = "reflink,copy"\n'
        "['remote \"aws-prod\"']\n"
        f"    url = {URL}\n"
        "    sse = aws:kms\n"
        f"    sse_kms_key_id = {KEY}\n"
    )


def test_result_reads_back_as_dvc_reads_it(cli, project, outputs, repo):
    configobj = pytest.importorskip("configobj", reason="configobj comes with the dvc extra")
    config = repo / ".dvc" / "config"
    config.write_text(EXISTING)
    assert _run(cli, project, outputs, repo, "--name", "artifacts") == 0, cli.err
    parsed = configobj.ConfigObj(str(config))
    assert parsed["core"] == {"autostage": "true", "remote": "artifacts"}
    assert parsed['remote "artifacts"'] == {"url": URL, "sse": "aws:kms", "sse_kms_key_id": KEY}
    assert parsed['remote "shared"'] == {"url": "s3://team-bucket/dvc", "profile": "team"}
    assert parsed["cache"] == {"type": "reflink,copy"}


def test_updates_existing_remote_in_place_and_is_idempotent(cli, project, outputs, repo):
    config = repo / ".dvc" / "config"
    config.write_text(
        "[core]\n\tremote = shared\n"
        "['remote \"aws-prod\"']\n\turl = s3://old-bucket/dvc\n\tendpointurl = https://s3.local\n"
    )
    # The endpoint sends every push elsewhere: kept only when asked for (was kept silently).
    assert _run(cli, project, outputs, repo, "--keep-existing-options") == 0, cli.err
    assert "(default was shared)" in cli.out
    assert "(url was s3://old-bucket/dvc)" in cli.out
    kept = "kept (--keep-existing-options): .dvc/config: endpointurl = 'https://s3.local'"
    assert kept in cli.out
    assert config.read_text() == (
        "[core]\n\tremote = aws-prod\n"
        f"['remote \"aws-prod\"']\n\turl = {URL}\n\tendpointurl = https://s3.local\n"
        f"\tsse = aws:kms\n\tsse_kms_key_id = {KEY}\n"
    )
    before = config.read_bytes()
    assert _run(cli, project, outputs, repo, "--keep-existing-options") == 0
    assert "nothing to change" in cli.out
    assert config.read_bytes() == before


def test_creates_a_missing_config_file(cli, project, outputs, repo):
    assert _run(cli, project, outputs, repo) == 0, cli.err
    text = (repo / ".dvc" / "config").read_text()
    assert text.endswith("[core]\n    remote = aws-prod\n")
    assert (repo / ".dvc" / "config").stat().st_mode & 0o777 == 0o644


def test_refuses_a_directory_without_dvc(cli, project, outputs, tmp_path):
    assert _run(cli, project, outputs, tmp_path) == 2
    assert "is not a DVC repository (no .dvc directory); run `dvc init`" in cli.one_error_line()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kms_key_id": KEY}, "has no 'dvc_remote_url'"),
        ({"dvc_remote_url": URL}, "has no 'kms_key_id'"),
        ({"dvc_remote_url": "gs://bucket/dvc", "kms_key_id": KEY}, "must be s3://"),
        ({"dvc_remote_url": URL, "kms_key_id": 42}, "'kms_key_id' must be a non-empty string"),
    ],
)
def test_malformed_outputs(cli, project, repo, tmp_path, values, message):
    outputs = write_outputs(tmp_path / "o.json", values)
    assert _run(cli, project, outputs, repo) == 2
    assert message in cli.one_error_line()
    assert not (repo / ".dvc" / "config").exists()


def test_bad_remote_name(cli, project, outputs, repo):
    assert _run(cli, project, outputs, repo, "--name", "my remote") == 2
    assert "invalid remote name" in cli.one_error_line()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[core\n    remote = x\n", "line 1"),
        ("[core]\n    remote = x\ngarbage here\n", "line 3"),
    ],
)
def test_refuses_a_config_dvc_could_not_read(cli, project, outputs, repo, text, line):
    config = repo / ".dvc" / "config"
    config.write_text(text)
    assert _run(cli, project, outputs, repo) == 2
    assert f"{line} is neither a [section] nor a key = value" in cli.one_error_line()
    assert config.read_text() == text
