"""``mlops-iac dvc-remote`` against hostile input: injected lines, planted options, symlinks.

The attacker writes the outputs file, a flag, ``$AZURE_CLIENT_SECRET``, or files of the DVC
repository (``.dvc/config`` through a pull request). Written files are read back with DVC's own
config loader (``dvc.config.Config.load_file``) where DVC is installed.
"""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from mlops_iac.cli import OpsError
from mlops_iac.cli.dvc_remote import REDIRECTING, DvcConfig, checked, unsafe
from tests.conftest import STACKS
from tests.ops.conftest import write_outputs

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
URL = "s3://fraud-detection-artifacts-1a2b3c/dvc"
ACCOUNT = "fraudart1a2b3c4d"
AZURE = {"dvc_remote_url": "azure://dvc/", "storage_account_name": ACCOUNT}
SECRET = "s3cr3t-value~from-the-environment"
# Every Unicode line boundary str.splitlines (so configobj) honours, and other controls.
BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
CONTROLS = [*BREAKS, "\x00", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff"]


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


def _sp(cli, project, repo, tmp_path, *extra):
    outputs = write_outputs(tmp_path / "o.json", AZURE)
    return _run(cli, project, "azure-dev", outputs, repo, "--auth", "service-principal",
                *extra)  # fmt: skip


def _dvc_load(path):
    config = pytest.importorskip("dvc.config", reason="DVC comes with the dvc extra")
    return config.Config.load_file(str(path))


def _nothing_written(repo):
    assert sorted(p.name for p in (repo / ".dvc").iterdir()) == []


# --- injected values -----------------------------------------------------------------------------


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c[-1]):04X}" for c in CONTROLS])
def test_a_control_character_in_an_output_is_refused(cli, project, repo, tmp_path, char):
    url = f"{URL}{char}    endpointurl = http://127.0.0.1:9/"
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": url, "kms_key_id": KEY})
    assert _run(cli, project, "aws-prod", outputs, repo) == 2
    line = cli.one_error_line()
    assert f"'dvc_remote_url' holds a control character (U+{ord(char[0]):04X}); refusing" in line
    _nothing_written(repo)


def test_a_line_break_in_the_kms_key_output_is_refused(cli, project, repo, tmp_path):
    outputs = write_outputs(
        tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": f"{KEY}\n[core]\nremote = x"}
    )
    assert _run(cli, project, "aws-prod", outputs, repo) == 2
    assert "'kms_key_id' holds a control character (U+000A)" in cli.one_error_line()
    _nothing_written(repo)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--tenant-id", "t\n    endpointurl = http://evil"),
        ("--client-id", "c\r['remote \"x\"']"),
        ("--tenant-id", "t\u2028client_secret = planted"),
    ],
)
def test_a_control_character_in_a_flag_is_refused(
    cli, project, repo, tmp_path, monkeypatch, flag, value
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    ids = {"--tenant-id": "t", "--client-id": "c", flag: value}
    assert _sp(cli, project, repo, tmp_path, *[x for kv in ids.items() for x in kv]) == 2
    assert cli.one_error_line().startswith(f"mlops-iac dvc-remote: error: {flag} holds a control")
    _nothing_written(repo)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (f"{SECRET}\n[core]\n    remote = evil", "a control character (U+000A)"),
        (f"{SECRET}\x1b[2J", "a control character (U+001B)"),  # no NUL in an environment
        (f"{SECRET}\x85endpointurl = http://evil", "a control character (U+0085)"),
        ("a%(client_id)sb", "'%(' (configobj interpolation)"),
        ('it\'s "both"', "both quote characters"),
    ],
)
def test_an_unwritable_secret_is_refused_without_echoing_it(
    cli, project, repo, tmp_path, monkeypatch, secret, reason
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", secret)
    assert _sp(cli, project, repo, tmp_path, "--tenant-id", "t", "--client-id", "c") == 2
    line = cli.one_error_line()
    assert line == (
        f"mlops-iac dvc-remote: error: $AZURE_CLIENT_SECRET holds {reason}; "
        "refusing to write it to a DVC config"
    )
    assert secret not in cli.out + cli.err
    _nothing_written(repo)


def test_a_control_character_in_the_credential_path_is_refused(cli, project, repo, tmp_path):
    creds = tmp_path / "wif\n    endpointurl = http:"
    creds.write_text("{}")
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": "gs://bucket-1a2b/dvc"})
    code = _run(cli, project, "gcp-dev", outputs, repo, "--auth", "credential-file",
                "--credential-path", creds)  # fmt: skip
    assert code == 2
    assert "--credential-path holds a control character (U+000A)" in cli.one_error_line()
    _nothing_written(repo)


# A small generated corpus: every value either round-trips through DVC's own reader as exactly one
# value (and no other key or section appears), or is refused.
_PIECES = ["a", " ", "#", ",", "'", '"', "'''", '"""', "=", "[x]", "%", "%(", "$a", "\\", "\t"]
_PIECES += CONTROLS
_CORPUS = sorted({a + b + c for a in _PIECES[:8] for b in _PIECES for c in ("", "z", "#z")})


def test_generated_values_round_trip_through_dvc_or_are_refused(tmp_path):
    config_module = pytest.importorskip("dvc.config", reason="DVC comes with the dvc extra")
    path = tmp_path / "config"
    refused = 0
    for value in _CORPUS:
        if unsafe(value):
            refused += 1
            with pytest.raises(OpsError):
                checked(value, "v")
            continue
        if value != value.strip() and not value.strip():
            continue  # whitespace-only: quoted, read back as is (below) unless empty
        config = DvcConfig("")
        config.set('remote "r"', "url", "s3://b/p")
        config.set('remote "r"', "client_secret", value)
        config.set("core", "remote", "r")
        path.write_text(config.text())
        loaded = config_module.Config.load_file(str(path))
        assert loaded["remote"] == {"r": {"url": "s3://b/p", "client_secret": value}}, repr(value)
        assert loaded["core"] == {"remote": "r"}, repr(value)
    assert refused and refused < len(_CORPUS)


# --- options already planted in the remote --------------------------------------------------------


@pytest.mark.parametrize(
    ("planted", "shown"),
    [
        ("endpointurl = http://127.0.0.1:9000", "endpointurl = 'http://127.0.0.1:9000'"),
        ("EndpointURL = http://127.0.0.1:9000", "endpointurl = 'http://127.0.0.1:9000'"),
        ("'endpointurl' = http://x", "endpointurl = 'http://x'"),
        ("profile = attacker", "profile = 'attacker'"),
        ("credentialpath = /tmp/creds", "credentialpath = '/tmp/creds'"),
        ("configpath = /tmp/aws-config", "configpath = '/tmp/aws-config'"),
        ("ssl_verify = false", "ssl_verify = 'false'"),
        ("use_ssl = false", "use_ssl = 'false'"),
        ("grant_full_control = id=123", "grant_full_control = 'id=123'"),
        ("acl = public-read", "acl = 'public-read'"),
        ("secret_access_key = AKIAplanted", "secret_access_key = (hidden)"),
    ],
)
def test_planted_redirecting_options_are_shown_and_refused(
    cli, project, repo, tmp_path, planted, shown
):
    config = repo / ".dvc" / "config"
    # A lookalike header (case, spacing) is the same remote to DVC.
    text = f"['REMOTE   \"aws-prod\"']\n    url = s3://old/dvc\n    {planted}\n"
    config.write_text(text)
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": KEY})
    assert _run(cli, project, "aws-prod", outputs, repo) == 2
    line = cli.one_error_line()
    expected = (
        "remote aws-prod already has options that send its data or credentials elsewhere: "
        f".dvc/config: {shown}; remove them, or pass --keep-existing-options"
    )
    assert expected in line
    assert "AKIAplanted" not in line
    assert config.read_text() == text


def test_config_local_overrides_are_refused(cli, project, repo, tmp_path):
    local = repo / ".dvc" / "config.local"
    text = (
        "[core]\n    remote = evil\n"
        "['remote \"aws-prod\"']\n    url = s3://attacker/dvc\n    sse_kms_key_id = arn:x\n"
        "    jobs = 4\n"
    )
    local.write_text(text)
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": KEY})
    assert _run(cli, project, "aws-prod", outputs, repo) == 2
    line = cli.one_error_line()
    assert (
        ".dvc/config.local: url = 's3://attacker/dvc'; .dvc/config.local: sse_kms_key_id = "
        "'arn:x'; .dvc/config.local: core.remote = 'evil'; remove them" in line
    )
    assert "jobs" not in line  # harmless options are left alone
    assert local.read_text() == text
    _dvc_files = sorted(p.name for p in (repo / ".dvc").iterdir())
    assert _dvc_files == ["config.local"]


def test_every_redirecting_option_is_refused(cli, project, repo, tmp_path):
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": KEY})
    config = repo / ".dvc" / "config"
    for option in sorted(REDIRECTING):
        config.write_text(f"['remote \"aws-prod\"']\n    url = {URL}\n    {option} = v\n")
        assert _run(cli, project, "aws-prod", outputs, repo) == 2, option
        assert f".dvc/config: {option} = " in cli.one_error_line()


@pytest.mark.parametrize(
    "text",
    [
        # DVC lower-cases section names: two sections are one remote, and the last one wins.
        "['remote \"aws-prod\"']\n    url = s3://a/b\n['remote \"AWS-PROD\"']\n    url = s3://x/y\n",
        # DVC lower-cases keys: the later URL would win over the one written here.
        "['remote \"aws-prod\"']\n    url = s3://a/b\n    URL = s3://x/y\n",
    ],
)
def test_aliased_sections_and_keys_are_refused(cli, project, repo, tmp_path, text):
    config = repo / ".dvc" / "config"
    config.write_text(text)
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": KEY})
    assert _run(cli, project, "aws-prod", outputs, repo) == 2
    assert "DVC" in cli.one_error_line()
    assert config.read_text() == text


def test_keep_existing_options_keeps_them_and_dvc_reads_them(cli, project, repo, tmp_path):
    config = repo / ".dvc" / "config"
    config.write_text("['remote \"aws-prod\"']\n    url = s3://old/dvc\n    profile = team\n")
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": KEY})
    assert _run(cli, project, "aws-prod", outputs, repo, "--keep-existing-options") == 0, cli.err
    assert "kept (--keep-existing-options): .dvc/config: profile = 'team'" in cli.out
    loaded = _dvc_load(config)
    assert loaded["remote"]["aws-prod"]["profile"] == "team"
    assert loaded["remote"]["aws-prod"]["url"] == URL


# --- symlinks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target_kind", ["file", "dangling", "directory"])
@pytest.mark.parametrize("name", ["config", "config.local"])
def test_a_symlinked_config_file_is_refused(
    cli, project, repo, tmp_path, monkeypatch, name, target_kind
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    outside = tmp_path / "outside"
    if target_kind == "file":
        outside.write_text("[core]\n")
    elif target_kind == "directory":
        outside.mkdir()
    link = repo / ".dvc" / name
    link.symlink_to(outside)
    assert _sp(cli, project, repo, tmp_path, "--tenant-id", "t", "--client-id", "c") == 2
    assert cli.one_error_line().endswith(
        f"{link} is a symbolic link; refusing to follow it (replace it)"
    )
    assert link.is_symlink()
    if target_kind == "file":
        assert outside.read_text() == "[core]\n"
    elif target_kind == "dangling":
        assert not outside.exists()
    else:
        assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (repo / ".dvc").iterdir()) == [name]


def test_a_symlinked_dvc_directory_is_refused(cli, project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".dvc").symlink_to(outside)
    outputs = write_outputs(tmp_path / "o.json", {"dvc_remote_url": URL, "kms_key_id": KEY})
    assert _run(cli, project, "aws-prod", outputs, repo) == 2
    assert "DVC directory" in cli.one_error_line()
    assert "is a symbolic link" in cli.err
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o400])
def test_the_secrets_file_is_0600_whatever_mode_it_had(
    cli, project, repo, tmp_path, monkeypatch, mode
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    local = repo / ".dvc" / "config.local"
    local.write_text("[core]\n    autostage = true\n")
    local.chmod(mode)
    assert _sp(cli, project, repo, tmp_path, "--tenant-id", "t", "--client-id", "c") == 0, cli.err
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    assert SECRET in local.read_text()
    # Unchanged content but a wider mode (someone chmod-ed it): narrowed again.
    local.chmod(0o644)
    assert _sp(cli, project, repo, tmp_path, "--tenant-id", "t", "--client-id", "c") == 0, cli.err
    assert stat.S_IMODE(local.stat().st_mode) == 0o600


def test_a_new_secrets_file_never_exists_with_a_wider_mode(
    cli, project, repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    old = os.umask(0)  # a permissive umask must not widen it either
    try:
        assert _sp(cli, project, repo, tmp_path, "--tenant-id", "t", "--client-id", "c") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((repo / ".dvc" / "config.local").stat().st_mode) == 0o600
    assert stat.S_IMODE((repo / ".dvc" / "config").stat().st_mode) == 0o644
    assert [p.name for p in (repo / ".dvc").iterdir() if p.name.endswith(".tmp")] == []
