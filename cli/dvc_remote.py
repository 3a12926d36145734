"""``mlops-iac dvc-remote``: make the stack's artifact store the default DVC remote.

Same result as ``dvc remote add -d NAME URL`` plus the ``dvc remote modify`` options the cloud
needs, written straight into ``DIR/.dvc/config`` so DVC itself is not needed here. AWS: ``sse
aws:kms`` and ``sse_kms_key_id`` (the bucket policy requires the store's key). Azure: ``url
azure://<container>/<prefix>`` and ``account_name``. GCP: ``url gs://<bucket>/<prefix>``. Every
other line of the file (other remotes, settings, comments) is kept as it is; an existing remote
of the same name keeps its other options (``endpointurl``, ``profile``…).

Credentials never go to ``.dvc/config``: by default DVC uses the cloud's own chain (AWS profiles
and roles; Azure ``az login``, a service principal or workload identity in ``AZURE_*`` variables,
managed identity; GCP application default credentials, including workload identity federation).
``--auth service-principal`` (Azure) and ``--auth credential-file`` (GCP) write to the Git-ignored
``.dvc/config.local`` instead, created with mode 0600. See docs/dvc.md.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlops_iac.cli import EXIT_OK, OpsError, add_stack_arguments, aws, command, describe, stackfile
from mlops_iac.cli.outputs import Outputs, load_outputs

NAME = "dvc-remote"
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SECTION = re.compile(r"^\s*\[\s*([^\[\]].*?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[^=#\s\[][^=]*?)\s*=\s*(?P<value>.*?)\s*$")
_INDENT = "    "  # what DVC (configobj) writes
AUTH_MODES = ("default", "service-principal", "credential-file")
# https://learn.microsoft.com/en-us/azure/storage/common/storage-account-overview (3-24, a-z0-9)
_AZURE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
# https://learn.microsoft.com/en-us/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
_AZURE_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# https://cloud.google.com/storage/docs/buckets#naming (dots allowed, 3-222 with dots)
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_SECRET_ENV = "AZURE_CLIENT_SECRET"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dvc-remote`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="make the artifact store the default DVC remote of a repository",
        description=describe(__doc__),
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--outputs", required=True, metavar="F", help="file from `pulumi stack output --json`"
    )
    parser.add_argument(
        "--repo", default=".", metavar="DIR", help="DVC repository (default: current directory)"
    )
    parser.add_argument(
        "--name", metavar="NAME", help="remote name (default: the stack name, e.g. aws-prod)"
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="default",
        help="default: the cloud's credential chain, nothing written (az login / ADC / AWS "
        "profile, or CI's AZURE_* / workload identity); service-principal (Azure): tenant_id, "
        "client_id and $AZURE_CLIENT_SECRET to .dvc/config.local; credential-file (GCP): "
        "credentialpath to .dvc/config.local",
    )
    parser.add_argument("--tenant-id", metavar="ID", help="Azure tenant (service-principal)")
    parser.add_argument("--client-id", metavar="ID", help="Azure app id (service-principal)")
    parser.add_argument(
        "--credential-path",
        metavar="F",
        help="GCP credential file (credential-file): a workload identity federation "
        "configuration or a service account key",
    )
    parser.set_defaults(func=run)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()  # configobj: unquoted values end at an inline comment


def _ini_value(value: str) -> str:
    """A configobj value: bare when safe, else quoted (``,`` would make a list, ``#`` a comment)."""
    if not re.search(r"[,#'\"]|^\s|\s$", value):
        return value
    for quote in ('"', "'"):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise OpsError(f"cannot write {value!r} to a DVC config (it holds both quote characters)")


@dataclass
class _Section:
    name: str
    header: int  # line index of the header
    end: int  # one past the last key line of the section


class DvcConfig:
    """A line-preserving editor for ``.dvc/config`` (INI as configobj reads it)."""

    def __init__(self, text: str) -> None:
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.lines = text.splitlines()
        self.trailing_newline = text.endswith(("\n", "\r"))

    def _sections(self) -> list[_Section]:
        sections: list[_Section] = []
        for index, line in enumerate(self.lines):
            match = _SECTION.match(line)
            if match:
                sections.append(_Section(_unquote(match.group(1)), index, index + 1))
            elif sections and _KEY.match(line) and not line.lstrip().startswith(("#", ";")):
                sections[-1].end = index + 1
        return sections

    def problem(self) -> str | None:
        """The first line DVC (configobj) could not read, so we never append to a broken file."""
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", ";")):
                continue
            if not (_SECTION.match(line) or _KEY.match(line)):
                return f"line {number} is neither a [section] nor a key = value: {stripped!r}"
        return None

    def _find(self, section: str) -> _Section | None:
        return next((s for s in self._sections() if s.name == section), None)

    def get(self, section: str, key: str) -> str | None:
        found = self._find(section)
        if found is None:
            return None
        for line in self.lines[found.header + 1 : found.end]:
            match = _KEY.match(line)
            if match and match.group("key") == key and not line.lstrip().startswith("#"):
                return _unquote(match.group("value"))
        return None

    def set(self, section: str, key: str, value: str) -> None:
        """Set ``key`` in ``section``, in place when present, else after the section's last key."""
        rendered = _ini_value(value)
        found = self._find(section)
        if found is None:
            header = f"['{section}']" if " " in section else f"[{section}]"
            self.lines += [header, f"{_INDENT}{key} = {rendered}"]
            return
        indent = _INDENT
        for index in range(found.header + 1, found.end):
            line = self.lines[index]
            match = _KEY.match(line)
            if not match or line.lstrip().startswith(("#", ";")):
                continue
            indent = match.group("indent")
            if match.group("key") == key:
                self.lines[index] = f"{indent}{key} = {rendered}"
                return
        self.lines.insert(found.end, f"{indent}{key} = {rendered}")

    def text(self) -> str:
        body = self.newline.join(self.lines)
        return body + self.newline if self.lines else ""


@dataclass
class Remote:
    """What one stack's store puts in the DVC config: project options and local-only ones."""

    url: str
    options: dict[str, str]
    local: dict[str, str]
    summary: str


def configure(config: DvcConfig, name: str, url: str, options: dict[str, str]) -> str | None:
    """Apply ``dvc remote add -d`` semantics; returns the previous default remote."""
    previous = config.get("core", "remote")
    section = f'remote "{name}"'
    config.set(section, "url", url)
    for key, value in options.items():
        config.set(section, key, value)
    config.set("core", "remote", name)
    return previous


def _split(url: str, scheme: str, outputs: Outputs) -> tuple[str, str]:
    """``scheme://first/rest`` -> (first, rest) or ``OpsError`` naming the outputs file."""
    if not url.startswith(f"{scheme}://"):
        raise OpsError(
            f"outputs file {outputs.path}: 'dvc_remote_url' must be {scheme}://…, got {url!r} "
            "(outputs of another stack?)"
        )
    first, _, rest = url[len(scheme) + 3 :].partition("/")
    return first, rest


def aws_remote(outputs: Outputs, args: argparse.Namespace) -> Remote:
    url = outputs.string("dvc_remote_url")
    _split(url, "s3", outputs)
    kms_key = aws.require_arn(outputs.string("kms_key_id"), "kms", "output 'kms_key_id'")
    if args.auth != "default":
        raise OpsError(f"--auth {args.auth} is not for AWS (use AWS_PROFILE or a role)")
    options = {"sse": "aws:kms", "sse_kms_key_id": kms_key}
    return Remote(url, options, {}, f"SSE-KMS with {kms_key}")


def azure_remote(outputs: Outputs, args: argparse.Namespace) -> Remote:
    url = outputs.string("dvc_remote_url")
    container, _ = _split(url, "azure", outputs)
    if not _AZURE_CONTAINER.match(container):
        raise OpsError(f"outputs file {outputs.path}: {container!r} is not a blob container name")
    # The platform exports storage_account_name; a lone ArtifactStore's bucket_name is the same.
    key = "storage_account_name"
    if not outputs.has(key) and outputs.has("bucket_name"):
        key = "bucket_name"
    account = outputs.string(key)
    if not _AZURE_ACCOUNT.match(account):
        raise OpsError(
            f"outputs file {outputs.path}: {key!r} must be a storage account name "
            f"(3-24 lowercase letters and digits), got {account!r}"
        )
    local: dict[str, str] = {}
    if args.auth == "service-principal":
        if not (args.tenant_id and args.client_id):
            raise OpsError("--auth service-principal needs --tenant-id and --client-id")
        secret = os.environ.get(_SECRET_ENV)
        if not secret:
            raise OpsError(
                f"--auth service-principal reads the secret from ${_SECRET_ENV} (never argv); "
                "it is not set"
            )
        local = {"tenant_id": args.tenant_id, "client_id": args.client_id, "client_secret": secret}
    elif args.auth != "default":
        raise OpsError(f"--auth {args.auth} is not for Azure (default or service-principal)")
    how = "service principal" if local else "DefaultAzureCredential (az login, AZURE_*, MI)"
    return Remote(url, {"account_name": account}, local, f"account {account}, {how}")


def gcp_remote(outputs: Outputs, args: argparse.Namespace) -> Remote:
    url = outputs.string("dvc_remote_url")
    bucket, _ = _split(url, "gs", outputs)
    if not _GCS_BUCKET.match(bucket):
        raise OpsError(f"outputs file {outputs.path}: {bucket!r} is not a GCS bucket name")
    local: dict[str, str] = {}
    if args.auth == "credential-file":
        if not args.credential_path:
            raise OpsError("--auth credential-file needs --credential-path")
        path = Path(args.credential_path).expanduser()
        if not path.is_file():
            raise OpsError(f"credential file {args.credential_path} not found")
        local = {"credentialpath": str(path.resolve())}
    elif args.auth != "default":
        raise OpsError(f"--auth {args.auth} is not for GCP (default or credential-file)")
    how = "credential file" if local else "application default credentials"
    return Remote(url, {}, local, how)


_REMOTES = {"aws": aws_remote, "azure": azure_remote, "gcp": gcp_remote}


def _read(path: Path) -> tuple[bytes, DvcConfig]:
    raw = path.read_bytes() if path.exists() else b""
    try:
        config = DvcConfig(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise OpsError(f"{path} is not UTF-8 text") from None
    if problem := config.problem():
        raise OpsError(f"{path}: {problem}; fix it (or `dvc config --list`) before adding a remote")
    return raw, config


def _write(path: Path, raw: bytes, config: DvcConfig, private: bool = False) -> bool:
    """Write ``config`` when it changed; a new private file is created 0600 before any secret."""
    new = config.text().encode("utf-8")
    if new == raw:
        return False
    if path.exists():
        stackfile.write_atomic(path, new, expected=raw)
        return True
    if private:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        stackfile.write_atomic(path, new, expected=b"")
    else:
        stackfile.write_atomic(path, new)
    return True


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Write or update the default remote in ``<repo>/.dvc/config`` (+ ``config.local``)."""
    sf = stackfile.load(args.project, args.stack)
    outputs = load_outputs(args.outputs)
    remote = _REMOTES[sf.spec.cloud](outputs, args)
    name = args.name or args.stack.rsplit("/", 1)[-1]
    if not _REMOTE_NAME.match(name):
        raise OpsError(f"invalid remote name {name!r} (letters, digits, '.', '_', '-')")

    dvc_dir = Path(args.repo) / ".dvc"
    if not dvc_dir.is_dir():
        raise OpsError(f"{args.repo} is not a DVC repository (no .dvc directory); run `dvc init`")
    path = dvc_dir / "config"
    local_path = dvc_dir / "config.local"
    # Read (and refuse) both files before writing either: no half-applied remote.
    raw, config = _read(path)
    local_raw, local = _read(local_path) if remote.local or local_path.exists() else (b"", None)
    previous = configure(config, name, remote.url, remote.options)
    changed = _write(path, raw, config)
    if remote.local and local is not None:
        for key, value in remote.local.items():
            local.set(f'remote "{name}"', key, value)
        changed = _write(local_path, local_raw, local, private=True) or changed
    if not changed:
        print(
            f"{path} already uses {name} -> {remote.url} as the default remote; nothing to change"
        )
        return EXIT_OK
    was = f" (default was {previous})" if previous and previous != name else ""
    print(f"default DVC remote {name} -> {remote.url}, {remote.summary}{was}; wrote {path}")
    if remote.local:
        print(f"credentials of {name} ({', '.join(remote.local)}) in {local_path} (Git-ignored)")
    return EXIT_OK
