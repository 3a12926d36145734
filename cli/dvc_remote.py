"""``mlops-iac dvc-remote``: make the stack's artifact store the default DVC remote.

Same result as ``dvc remote add -d NAME URL`` plus ``dvc remote modify NAME sse aws:kms`` and
``sse_kms_key_id <stack key>``, written straight into ``DIR/.dvc/config`` so DVC itself is not
needed here. The bucket's policy requires SSE-KMS with its own key, so pushes name the key. Every
other line of the file (other remotes, settings, comments) is kept as it is; an existing remote of
the same name keeps its other options (``endpointurl``, ``profile``…).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from mlops_iac.cli import EXIT_OK, OpsError, add_stack_arguments, aws, command, describe, stackfile
from mlops_iac.cli.outputs import load_outputs

NAME = "dvc-remote"
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SECTION = re.compile(r"^\s*\[\s*([^\[\]].*?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[^=#\s\[][^=]*?)\s*=\s*(?P<value>.*?)\s*$")
_INDENT = "    "  # what DVC (configobj) writes


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


def configure(config: DvcConfig, name: str, url: str, kms_key: str | None) -> str | None:
    """Apply ``dvc remote add -d`` semantics; returns the previous default remote."""
    previous = config.get("core", "remote")
    section = f'remote "{name}"'
    config.set(section, "url", url)
    if kms_key is not None:
        config.set(section, "sse", "aws:kms")
        config.set(section, "sse_kms_key_id", kms_key)
    config.set("core", "remote", name)
    return previous


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Write or update the default remote in ``<repo>/.dvc/config``."""
    sf = stackfile.load(args.project, args.stack)
    if sf.spec.cloud != "aws":
        raise OpsError(
            f"dvc-remote supports AWS stacks only (the stack's cloud is {sf.spec.cloud})"
        )
    outputs = load_outputs(args.outputs)
    url = outputs.string("dvc_remote_url")
    if not url.startswith("s3://"):
        raise OpsError(f"outputs file {args.outputs}: 'dvc_remote_url' must be s3://…, got {url!r}")
    kms_key = aws.require_arn(outputs.string("kms_key_id"), "kms", "output 'kms_key_id'")
    name = args.name or args.stack.rsplit("/", 1)[-1]
    if not _REMOTE_NAME.match(name):
        raise OpsError(f"invalid remote name {name!r} (letters, digits, '.', '_', '-')")

    dvc_dir = Path(args.repo) / ".dvc"
    if not dvc_dir.is_dir():
        raise OpsError(f"{args.repo} is not a DVC repository (no .dvc directory); run `dvc init`")
    path = dvc_dir / "config"
    raw = path.read_bytes() if path.exists() else b""
    try:
        config = DvcConfig(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise OpsError(f"{path} is not UTF-8 text") from None
    if problem := config.problem():
        raise OpsError(f"{path}: {problem}; fix it (or `dvc config --list`) before adding a remote")
    previous = configure(config, name, url, kms_key)
    new = config.text().encode("utf-8")
    if new == raw:
        print(f"{path} already uses {name} -> {url} as the default remote; nothing to change")
        return EXIT_OK
    if path.exists():
        stackfile.write_atomic(path, new, expected=raw)
    else:
        stackfile.write_atomic(path, new)
    was = f" (default was {previous})" if previous and previous != name else ""
    print(f"default DVC remote {name} -> {url}, SSE-KMS with {kms_key}{was}; wrote {path}")
    return EXIT_OK
