"""``mlops-iac dvc-remote`` on Azure and GCP stacks: the remote, its auth, and what it refuses."""

from __future__ import annotations

import shutil
import stat

import pytest

from mlops_iac.cli.dvc_remote import DvcConfig
from tests.conftest import STACKS
from tests.ops.conftest import write_outputs

ACCOUNT = "fraudart1a2b3c4d"
AZURE = {"dvc_remote_url": "azure://dvc/", "storage_account_name": ACCOUNT}
GCP = {"dvc_remote_url": "gs://fraud-detection-art-1a2b3c/dvc"}
SECRET = "s3cr3t-value~from-the-environment"


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(STACKS, root / "stacks")
    return root


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "repo" / ".dvc").mkdir(parents=True)
    return tmp_path / "repo"


def _run(cli, project, stack, outputs, repo, *extra):
    return cli("dvc-remote", "--stack", stack, "--project", project,
               "--outputs", outputs, "--repo", repo, *extra)  # fmt: skip


def _config(repo, name="config"):
    return DvcConfig((repo / ".dvc" / name).read_text())


def test_azure_remote_is_the_container_and_account(cli, project, repo, tmp_path):
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    (repo / ".dvc" / "config").write_text("[core]\n    autostage = true\n# keep me\n")
    assert _run(cli, project, "azure-dev", outputs, repo) == 0, cli.err
    assert (repo / ".dvc" / "config").read_text() == (
        "[core]\n    autostage = true\n    remote = azure-dev\n# keep me\n"
        "['remote \"azure-dev\"']\n    url = azure://dvc/\n"
        f"    account_name = {ACCOUNT}\n"
    )
    assert not (repo / ".dvc" / "config.local").exists()  # nothing secret, nothing local
    assert "DefaultAzureCredential" in cli.out


def test_azure_remote_reads_back_as_dvc_reads_it(cli, project, repo, tmp_path):
    configobj = pytest.importorskip("configobj", reason="configobj comes with the dvc extra")
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    assert _run(cli, project, "azure-dev", outputs, repo, "--name", "data") == 0, cli.err
    parsed = configobj.ConfigObj(str(repo / ".dvc" / "config"))
    assert parsed['remote "data"'] == {"url": "azure://dvc/", "account_name": ACCOUNT}
    assert parsed["core"] == {"remote": "data"}


def test_azure_service_principal_goes_to_config_local_only(
    cli, project, repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    code = _run(cli, project, "azure-dev", outputs, repo, "--auth", "service-principal",
                "--tenant-id", "tenant-1", "--client-id", "app-1")  # fmt: skip
    assert code == 0, cli.err
    project_config = (repo / ".dvc" / "config").read_text()
    assert SECRET not in project_config and "client" not in project_config
    local = repo / ".dvc" / "config.local"
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    parsed = _config(repo, "config.local")
    assert parsed.get('remote "azure-dev"', "tenant_id") == "tenant-1"
    assert parsed.get('remote "azure-dev"', "client_id") == "app-1"
    assert parsed.get('remote "azure-dev"', "client_secret") == SECRET
    assert SECRET not in cli.out + cli.err
    assert "config.local (Git-ignored)" in cli.out


def test_existing_config_local_keeps_its_lines_and_becomes_0600(
    cli, project, repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    local = repo / ".dvc" / "config.local"
    text = "# mine\n['remote \"azure-dev\"']\n    connection_string = x\n"
    local.write_text(text)
    local.chmod(0o644)
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    argv = ("--auth", "service-principal", "--tenant-id", "t", "--client-id", "c")
    # A connection string wins over the service principal in DVC: refused unless asked for.
    assert _run(cli, project, "azure-dev", outputs, repo, *argv) == 2
    assert cli.one_error_line().endswith(
        "send its data or credentials elsewhere: .dvc/config.local: connection_string = (hidden); "
        "remove them, or pass --keep-existing-options to keep them"
    )
    assert local.read_text() == text and not (repo / ".dvc" / "config").exists()
    code = _run(cli, project, "azure-dev", outputs, repo, *argv, "--keep-existing-options")
    assert code == 0, cli.err
    assert local.read_text().startswith("# mine\n['remote \"azure-dev\"']\n    connection_string")
    # The secret went into a file others could read before: it is 0600 now, whatever it was.
    assert stat.S_IMODE(local.stat().st_mode) == 0o600


def test_azure_service_principal_refuses_without_the_secret_variable(
    cli, project, repo, tmp_path, monkeypatch
):
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    code = _run(cli, project, "azure-dev", outputs, repo, "--auth", "service-principal",
                "--tenant-id", "t", "--client-id", "c")  # fmt: skip
    assert code == 2
    assert "$AZURE_CLIENT_SECRET (never argv); it is not set" in cli.one_error_line()
    assert not (repo / ".dvc" / "config").exists()


def test_gcp_remote_is_the_bucket_prefix(cli, project, repo, tmp_path):
    outputs = write_outputs(tmp_path / "o.json", GCP)
    assert _run(cli, project, "gcp-dev", outputs, repo) == 0, cli.err
    assert (repo / ".dvc" / "config").read_text() == (
        "['remote \"gcp-dev\"']\n    url = gs://fraud-detection-art-1a2b3c/dvc\n"
        "[core]\n    remote = gcp-dev\n"
    )
    assert "application default credentials" in cli.out
    assert not (repo / ".dvc" / "config.local").exists()


def test_gcp_credential_file_path_goes_to_config_local(cli, project, repo, tmp_path):
    creds = tmp_path / "wif.json"
    creds.write_text('{"type": "external_account"}')
    outputs = write_outputs(tmp_path / "o.json", GCP)
    code = _run(cli, project, "gcp-dev", outputs, repo, "--auth", "credential-file",
                "--credential-path", creds)  # fmt: skip
    assert code == 0, cli.err
    assert "credentialpath" not in (repo / ".dvc" / "config").read_text()
    local = _config(repo, "config.local")
    assert local.get('remote "gcp-dev"', "credentialpath") == str(creds)


@pytest.mark.parametrize(
    ("stack", "values", "extra", "message"),
    [
        # The store of the stack does not exist (never deployed, or outputs of nothing).
        ("azure-dev", {"storage_account_name": ACCOUNT}, (), "has no 'dvc_remote_url'"),
        ("gcp-dev", {}, (), "has no 'dvc_remote_url'"),
        ("azure-dev", {"dvc_remote_url": "azure://dvc/"}, (), "has no 'storage_account_name'"),
        # Outputs of another cloud's stack.
        ("azure-dev", GCP, (), "'dvc_remote_url' must be azure://…"),
        ("gcp-dev", AZURE, (), "'dvc_remote_url' must be gs://…"),
        ("aws-dev", GCP, (), "'dvc_remote_url' must be s3://…"),
        ("azure-dev", {**AZURE, "storage_account_name": "Not-An-Account"}, (), "storage account"),
        ("azure-dev", {**AZURE, "dvc_remote_url": "azure://A_B/"}, (), "not a blob container"),
        ("gcp-dev", {"dvc_remote_url": "gs://UPPER/dvc"}, (), "not a GCS bucket name"),
        ("gcp-dev", GCP, ("--auth", "service-principal"), "is not for GCP"),
        ("azure-dev", AZURE, ("--auth", "credential-file"), "is not for Azure"),
        ("azure-dev", AZURE, ("--auth", "service-principal"), "needs --tenant-id and --client-id"),
        ("gcp-dev", GCP, ("--auth", "credential-file"), "needs --credential-path"),
        (
            "gcp-dev",
            GCP,
            ("--auth", "credential-file", "--credential-path", "/nope.json"),
            "credential file /nope.json not found",
        ),  # fmt: skip
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    cli, project, repo, tmp_path, stack, values, extra, message
):
    outputs = write_outputs(tmp_path / "o.json", values)
    assert _run(cli, project, stack, outputs, repo, *extra) == 2
    assert message in cli.one_error_line()
    assert not (repo / ".dvc" / "config").exists()
    assert not (repo / ".dvc" / "config.local").exists()


def test_unreadable_config_local_refuses_before_touching_config(
    cli, project, repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    (repo / ".dvc" / "config.local").write_text("[core\n")
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    code = _run(cli, project, "azure-dev", outputs, repo, "--auth", "service-principal",
                "--tenant-id", "t", "--client-id", "c")  # fmt: skip
    assert code == 2
    assert "config.local: line 1 is neither a [section] nor a key = value" in cli.one_error_line()
    assert not (repo / ".dvc" / "config").exists()
