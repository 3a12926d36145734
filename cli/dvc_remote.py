"""``mlops-iac dvc-remote``: make the stack's artifact store the default DVC remote.

Same result as ``dvc remote add -d NAME URL`` plus the ``dvc remote modify`` options the cloud
needs, written straight into ``DIR/.dvc/config`` so DVC itself is not needed here. AWS: ``sse
aws:kms`` and ``sse_kms_key_id`` (the bucket policy requires the store's key). Azure: ``url
azure://<container>/<prefix>`` and ``account_name``. GCP: ``url gs://<bucket>/<prefix>``. Every
other line of the file (other remotes, settings, comments) is kept as it is; an existing remote
of the same name keeps its other options, except those that send its data or credentials
elsewhere (``endpointurl``, ``profile``, ``credentialpath``, ``connection_string``, ``acl``…, or a
``url`` or ``core.remote`` in ``config.local``): they are listed and the command refuses unless
``--keep-existing-options`` is given.

Every value written (outputs, flags, ``$AZURE_CLIENT_SECRET``) is refused when it holds a control
or line-separator character or configobj syntax, and no file is read or written through a
symbolic link (``.dvc`` itself, ``config``, ``config.local``).

Credentials never go to ``.dvc/config``: by default DVC uses the cloud's own chain (AWS profiles
and roles; Azure ``az login``, a service principal or workload identity in ``AZURE_*`` variables,
managed identity; GCP application default credentials, including workload identity federation).
``--auth service-principal`` (Azure) and ``--auth credential-file`` (GCP) write to the Git-ignored
``.dvc/config.local`` instead, always left with mode 0600.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from mlops_iac.cli import (
    EXIT_OK,
    OpsError,
    add_stack_arguments,
    aws,
    command,
    describe,
    nofollow,
    stackfile,
)
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
# How DVC (dvc.config._parse_named) reads a named section, after lower-casing every key.
_NAMED = re.compile(r'^\s*(remote|machine|db)\s*"(.*)"\s*$')
# Control, format (bidi, zero-width), surrogate, private-use, unassigned, line/paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
KEEP_FLAG = "--keep-existing-options"
# Remote options that send the remote's traffic or credentials elsewhere, widen who can read what
# is pushed, or change its encryption (DVC's remote schema, dvc/config_schema.py, and
# https://dvc.org/doc/command-reference/remote/modify): kept only with --keep-existing-options.
REDIRECTING = frozenset(
    {
        # where requests go, and whether TLS is verified
        "endpointurl", "use_ssl", "ssl_verify",
        # whose credentials are used (an AWS config file can set endpoint_url too)
        "profile", "credentialpath", "configpath", "access_key_id", "secret_access_key",
        "session_token", "allow_anonymous_login", "account_key", "sas_token",
        "connection_string", "tenant_id", "client_id", "client_secret",
        "exclude_environment_credential", "exclude_visual_studio_code_credential",
        "exclude_shared_token_cache_credential", "exclude_managed_identity_credential",
        # who can read the pushed objects, and which key encrypts them
        "acl", "grant_read", "grant_read_acp", "grant_write_acp", "grant_full_control",
        "sse_customer_algorithm", "sse_customer_key",
    }
)  # fmt: skip
_SECRET_OPTIONS = frozenset(
    {"secret_access_key", "session_token", "account_key", "sas_token", "connection_string",
     "client_secret", "sse_customer_key"}
)  # fmt: skip


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
    parser.add_argument(
        KEEP_FLAG,
        action="store_true",
        help="keep options already set for the remote that send its traffic or credentials "
        "elsewhere (endpointurl, profile, credentialpath, connection_string, acl…); without it "
        "they are listed and the command refuses",
    )
    parser.set_defaults(func=run)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()  # configobj: unquoted values end at an inline comment


def _key_name(key: str) -> str:
    """A key as DVC looks it up: configobj allows a quoted key, DVC lower-cases every key."""
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        key = key[1:-1]
    return key.lower()


def section_identity(name: str) -> str:
    """The section DVC reads ``name`` as: lower-cased, ``remote "x"`` with any spacing."""
    lowered = name.lower()
    match = _NAMED.match(lowered)
    return f'{match.group(1)} "{match.group(2)}"' if match else lowered


def unsafe(value: str) -> str | None:
    """Why ``value`` cannot be written to a DVC config as one value, or ``None``.

    configobj (DVC's reader) splits lines on every Unicode line boundary (``str.splitlines``), so
    any control, format or separator character could start a new key or section; ``%(name)s``
    is configobj's interpolation (another key's value, or an error); a value holding both quote
    characters cannot be quoted.
    """
    for char in value:
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return f"a control character (U+{ord(char):04X})"
    if "%(" in value:
        return "'%(' (configobj interpolation)"
    if '"' in value and "'" in value:
        return "both quote characters"
    return None


def checked(value: str, source: str) -> str:
    """``value`` when it can be written to a DVC config, else ``OpsError`` naming ``source``.

    The message never quotes the value: it can be a secret.
    """
    if reason := unsafe(value):
        raise OpsError(f"{source} holds {reason}; refusing to write it to a DVC config")
    return value


def _ini_value(value: str) -> str:
    """A configobj value: bare when safe, else quoted (``,`` would make a list, ``#`` a comment)."""
    checked(value, "a value")  # callers check first, naming the source; this is the backstop
    if not re.search(r"[,#'\"]|^\s|\s$", value):
        return value
    quote = '"' if '"' not in value else "'"
    return f"{quote}{value}{quote}"


@dataclass
class _Section:
    name: str
    header: int  # line index of the header
    end: int  # one past the last key line of the section


class DvcConfig:
    """A line-preserving editor for ``.dvc/config`` (INI as configobj reads it).

    Sections and keys are matched as DVC matches them (case-insensitively, ``remote "x"`` with
    any spacing), so a lookalike section or key cannot shadow the one written here.
    """

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

    def _keys(self, section: _Section) -> list[tuple[int, str, str]]:
        """(line index, key as DVC reads it, value) of each key line of ``section``."""
        found = []
        for index in range(section.header + 1, section.end):
            line = self.lines[index]
            match = _KEY.match(line)
            if match and not line.lstrip().startswith(("#", ";")):
                found.append((index, _key_name(match.group("key")), _unquote(match.group("value"))))
        return found

    def problem(self) -> str | None:
        """The first thing DVC could not read, or would read differently from this editor."""
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", ";")):
                continue
            if not (_SECTION.match(line) or _KEY.match(line)):
                return f"line {number} is neither a [section] nor a key = value: {stripped!r}"
        seen: dict[str, int] = {}
        for section in self._sections():
            identity = section_identity(section.name)
            if identity in seen:
                return (
                    f"lines {seen[identity]} and {section.header + 1} are both section "
                    f"[{identity}] to DVC (names are case-insensitive); merge them"
                )
            seen[identity] = section.header + 1
            keys: dict[str, int] = {}
            for index, key, _ in self._keys(section):
                if key in keys:
                    return (
                        f"lines {keys[key]} and {index + 1} both set {key!r} of [{identity}] "
                        "(DVC would keep the last); keep one"
                    )
                keys[key] = index + 1
        return None

    def _find(self, section: str) -> _Section | None:
        identity = section_identity(section)
        return next((s for s in self._sections() if section_identity(s.name) == identity), None)

    def items(self, section: str) -> list[tuple[str, str]]:
        """(key, value) of every key of ``section`` (keys lower-cased as DVC reads them)."""
        found = self._find(section)
        return [] if found is None else [(key, value) for _, key, value in self._keys(found)]

    def get(self, section: str, key: str) -> str | None:
        return dict(self.items(section)).get(key.lower())

    def set(self, section: str, key: str, value: str) -> None:
        """Set ``key`` in ``section``, in place when present, else after the section's last key."""
        rendered = _ini_value(value)
        found = self._find(section)
        if found is None:
            header = f"['{section}']" if " " in section else f"[{section}]"
            self.lines += [header, f"{_INDENT}{key} = {rendered}"]
            return
        indent = _INDENT
        for index, name, _ in self._keys(found):
            indent = _KEY.match(self.lines[index]).group("indent")  # type: ignore[union-attr]
            if name == key.lower():
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


def _output(outputs: Outputs, key: str) -> str:
    """A string output that can be written to a DVC config (``OpsError`` naming file and key)."""
    return checked(outputs.string(key), f"outputs file {outputs.path}: {key!r}")


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
    url = _output(outputs, "dvc_remote_url")
    _split(url, "s3", outputs)
    kms_key = aws.require_arn(_output(outputs, "kms_key_id"), "kms", "output 'kms_key_id'")
    if args.auth != "default":
        raise OpsError(f"--auth {args.auth} is not for AWS (use AWS_PROFILE or a role)")
    options = {"sse": "aws:kms", "sse_kms_key_id": kms_key}
    return Remote(url, options, {}, f"SSE-KMS with {kms_key}")


def azure_remote(outputs: Outputs, args: argparse.Namespace) -> Remote:
    url = _output(outputs, "dvc_remote_url")
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
        local = {
            "tenant_id": checked(args.tenant_id, "--tenant-id"),
            "client_id": checked(args.client_id, "--client-id"),
            "client_secret": checked(secret, f"${_SECRET_ENV}"),
        }
    elif args.auth != "default":
        raise OpsError(f"--auth {args.auth} is not for Azure (default or service-principal)")
    how = "service principal" if local else "DefaultAzureCredential (az login, AZURE_*, MI)"
    return Remote(url, {"account_name": account}, local, f"account {account}, {how}")


def gcp_remote(outputs: Outputs, args: argparse.Namespace) -> Remote:
    url = _output(outputs, "dvc_remote_url")
    bucket, _ = _split(url, "gs", outputs)
    if not _GCS_BUCKET.match(bucket):
        raise OpsError(f"outputs file {outputs.path}: {bucket!r} is not a GCS bucket name")
    local: dict[str, str] = {}
    if args.auth == "credential-file":
        if not args.credential_path:
            raise OpsError("--auth credential-file needs --credential-path")
        checked(args.credential_path, "--credential-path")
        path = Path(args.credential_path).expanduser()
        if not path.is_file():
            raise OpsError(f"credential file {args.credential_path} not found")
        local = {"credentialpath": checked(str(path.resolve()), "--credential-path")}
    elif args.auth != "default":
        raise OpsError(f"--auth {args.auth} is not for GCP (default or credential-file)")
    how = "credential file" if local else "application default credentials"
    return Remote(url, {}, local, how)


_REMOTES = {"aws": aws_remote, "azure": azure_remote, "gcp": gcp_remote}


def redirections(
    name: str, remote: Remote, config: DvcConfig, local: DvcConfig | None
) -> list[str]:
    """Options already set for remote ``name`` that this command would leave in force and that
    send its traffic or credentials elsewhere (see ``REDIRECTING``), secrets not shown.

    ``config.local`` overrides ``config`` key by key, so there any option this command writes to
    ``config`` (``url``, ``sse_kms_key_id``…) counts too, and so does a ``core.remote`` naming
    another remote.
    """
    section = f'remote "{name}"'
    found = []
    for label, parsed, ours, overriding in (
        (".dvc/config", config, {"url", *remote.options}, set()),
        (".dvc/config.local", local, set(remote.local), {"url", *remote.options}),
    ):
        if parsed is None:
            continue
        for key, value in parsed.items(section):
            if key in ours or not (key in REDIRECTING or key in overriding):
                continue
            shown = "(hidden)" if key in _SECRET_OPTIONS else repr(value)
            found.append(f"{label}: {key} = {shown}")
    default = local.get("core", "remote") if local is not None else None
    if default is not None and default.lower() != name.lower():
        found.append(f".dvc/config.local: core.remote = {default!r}")
    return found


def _read(path: Path) -> tuple[bytes, DvcConfig]:
    raw = nofollow.read_bytes(path) or b""
    try:
        config = DvcConfig(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise OpsError(f"{path} is not UTF-8 text") from None
    if problem := config.problem():
        raise OpsError(f"{path}: {problem}; fix it (or `dvc config --list`) before adding a remote")
    return raw, config


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Write or update the default remote in ``<repo>/.dvc/config`` (+ ``config.local``)."""
    sf = stackfile.load(args.project, args.stack)
    outputs = load_outputs(args.outputs)
    remote = _REMOTES[sf.cloud](outputs, args)
    name = args.name or args.stack.rsplit("/", 1)[-1]
    if not _REMOTE_NAME.match(name):
        raise OpsError(f"invalid remote name {name!r} (letters, digits, '.', '_', '-')")

    dvc_dir = Path(args.repo) / ".dvc"
    nofollow.refuse_symlink(dvc_dir, "DVC directory")
    if not dvc_dir.is_dir():
        raise OpsError(f"{args.repo} is not a DVC repository (no .dvc directory); run `dvc init`")
    path = dvc_dir / "config"
    local_path = dvc_dir / "config.local"
    # Read (and refuse) both files before writing either: no half-applied remote.
    raw, config = _read(path)
    local_raw, local_config = _read(local_path)
    local = None if not local_raw and not remote.local else local_config
    found = redirections(name, remote, config, local)
    if found and not args.keep_existing_options:
        raise OpsError(
            f"remote {name} already has options that send its data or credentials elsewhere: "
            f"{'; '.join(found)}; remove them, or pass {KEEP_FLAG} to keep them"
        )
    old_url = config.get(f'remote "{name}"', "url")
    previous = configure(config, name, remote.url, remote.options)
    new = config.text().encode("utf-8")
    changed = new != raw
    if changed:
        nofollow.write_atomic(path, new, expected=raw)
    if remote.local and local is not None:
        for key, value in remote.local.items():
            local.set(f'remote "{name}"', key, value)
        new_local = local.text().encode("utf-8")
        # The secrets file is 0600 whatever mode an earlier one had.
        if new_local != local_raw or _mode(local_path) != 0o600:
            nofollow.write_atomic(local_path, new_local, mode=0o600, expected=local_raw)
            changed = True
    for line in found:
        print(f"kept ({KEEP_FLAG}): {line}")
    if not changed:
        print(
            f"{path} already uses {name} -> {remote.url} as the default remote; nothing to change"
        )
        return EXIT_OK
    was = f" (default was {previous})" if previous and previous != name else ""
    moved = f" (url was {old_url})" if old_url and old_url != remote.url else ""
    print(f"default DVC remote {name} -> {remote.url}{moved}, {remote.summary}{was}; wrote {path}")
    if remote.local:
        print(f"credentials of {name} ({', '.join(remote.local)}) in {local_path} (Git-ignored)")
    return EXIT_OK
