"""The trusted governance settings: what a stack file's author must not decide alone.

A stack file is written by the team that deploys it; ``governance/`` is written by the platform
owners and protected by CODEOWNERS (docs/governance.md, "Threat model"). What would let the author
relax the rules on their own is read from there, never from the stack file:

- ``environments``: the environment each stack is judged as (``aws-prod: prod``). A stack that is
  not listed is judged by its name's suffix (``-dev``, ``-staging``, ``-prod``), else as prod;
- ``waivers.maxDays``: the longest a waiver may run (default 90);
- ``approvals.maxAgeDays``: the oldest an approval may be and still count (default: no limit);
- ``approvals.clockSkewMinutes``: how far in the future an approval's date may lie (default 5).

The file is ``governance/settings.yaml`` beside ``governance/allowed_signers``. A missing file
gives the defaults; a file that is not a regular file, is too large or does not validate is a
:class:`TrustError` (exit 2): a broken trust point must never relax a rule.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.spec.identities import looks_alike

from .rules._base import ENVIRONMENTS

GOVERNANCE_DIR = Path("governance")
SETTINGS_FILE = GOVERNANCE_DIR / "settings.yaml"
#: Overrides where the pack process finds ``governance/`` (the directory, not a file).
GOVERNANCE_DIR_ENV = "MLOPS_IAC_GOVERNANCE_DIR"
DEFAULT_MAX_WAIVER_DAYS = 90
DEFAULT_CLOCK_SKEW_MINUTES = 5
#: A settings file is a few lines; anything larger is not one.
MAX_SETTINGS_BYTES = 64 * 1024
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_WORD_SEPARATORS = re.compile(r"[-_./]")


class TrustError(ValueError):
    """The trusted settings cannot be read or do not validate; ``str()`` is one line."""


@dataclass(frozen=True)
class TrustedSettings:
    """The settings as read, with where they came from (reports name the file and its digest)."""

    environments: Mapping[str, str] = field(default_factory=dict)
    max_waiver_days: int = DEFAULT_MAX_WAIVER_DAYS
    max_approval_age_days: int | None = None
    clock_skew_minutes: int = DEFAULT_CLOCK_SKEW_MINUTES
    source: Path | None = None
    """The settings file, or ``None`` when there is none (the defaults hold)."""
    digest: str | None = None
    """``sha256:<hex>`` of the file's bytes."""

    def environment(self, stack: str | None) -> tuple[str, str]:
        """``(environment, why)`` for a stack: the trusted mapping, else its name, else prod.

        An unlisted name is read strictly: a word of it (split at ``-``, ``_``, ``.``, ``/``)
        that reads as ``prod`` or ``staging`` (a look-alike spelling included) makes it that;
        only a name that *ends* with the word ``dev`` and holds neither is dev, so
        ``payments-prod.dev`` and ``prоd-dev`` (a Cyrillic о) are prod.
        """
        if stack and stack in self.environments:
            return self.environments[stack], f"{self.source} ({stack}: {self.environments[stack]})"
        words = [w for w in _WORD_SEPARATORS.split(stack or "") if w]
        for strict in ("prod", "staging"):
            if words and words[-1] == strict:
                return strict, f"the stack name's suffix -{strict}"
            if any(looks_alike(word, strict) for word in words):
                return strict, f"the word {strict!r} in the stack name"
        if words and words[-1] == "dev":
            return "dev", "the stack name's suffix -dev"
        return "prod", f"the strict fallback (prod): the stack is not in {SETTINGS_FILE}"


def governance_dir(project: str | os.PathLike[str] | None = None) -> Path:
    """Where the trusted files live: ``$MLOPS_IAC_GOVERNANCE_DIR``, else ``governance/`` in
    ``project``; without a project (the pack process), the working directory's or its parent's
    (the pack directory sits one level below the program in this repository's layout)."""
    configured = os.environ.get(GOVERNANCE_DIR_ENV)
    if configured:
        return Path(configured)
    if project is not None:
        return Path(project) / GOVERNANCE_DIR
    for base in (Path.cwd(), Path.cwd().parent):
        if (base / GOVERNANCE_DIR).is_dir():
            return base / GOVERNANCE_DIR
    return Path.cwd() / GOVERNANCE_DIR


class Unreadable(Exception):
    """A trust point that cannot be used as it is; ``kind`` says why, for the caller's message."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        """``missing``, ``symlink``, ``not-regular``, ``too-large`` or ``unreadable``."""
        self.detail = detail


def read_trust_point(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes, read without following a
    symlink (``O_NOFOLLOW`` closes the race with an ``lstat``-then-open check); otherwise
    :class:`Unreadable`. A trust point that is a link, a directory or a device never counts."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise Unreadable("missing") from None
    except OSError as exc:
        raise Unreadable("unreadable", str(exc.strerror or exc)) from None
    if stat.S_ISLNK(info.st_mode):
        raise Unreadable("symlink")
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable("not-regular")
    if info.st_size > limit:
        raise Unreadable("too-large")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise Unreadable("unreadable", str(exc.strerror or exc)) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise Unreadable("not-regular")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise Unreadable("too-large")
    return data


def load(project: str | os.PathLike[str] | None = None) -> TrustedSettings:
    """The trusted settings of ``project`` (see :func:`governance_dir`)."""
    path = governance_dir(project) / SETTINGS_FILE.name
    try:
        data = read_trust_point(path, MAX_SETTINGS_BYTES)
    except Unreadable as exc:
        if exc.kind == "missing":
            return TrustedSettings()
        if exc.kind == "too-large":
            raise TrustError(f"{path}: larger than {MAX_SETTINGS_BYTES} bytes") from None
        if exc.kind == "unreadable":
            raise TrustError(f"{path}: cannot be read ({exc.detail})") from None
        raise TrustError(f"{path}: must be a regular file (not a symlink or directory)") from None
    try:
        document = yaml.safe_load(data.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TrustError(f"{path}: not valid YAML ({problem})") from None
    return _parse(document, path, "sha256:" + hashlib.sha256(data).hexdigest())


def _parse(document: Any, path: Path, digest: str) -> TrustedSettings:
    if not isinstance(document, Mapping):
        raise TrustError(f"{path}: must be a mapping")
    unknown = sorted(set(map(str, document)) - {"environments", "waivers", "approvals"})
    if unknown:
        raise TrustError(f"{path}: unknown key {unknown[0]!r}")
    environments = _section(document, "environments", path)
    for stack, environment in environments.items():
        if not isinstance(stack, str) or not _STACK_NAME.fullmatch(stack):
            raise TrustError(f"{path}: environments: {stack!r} is not a stack name")
        if environment not in ENVIRONMENTS:
            raise TrustError(
                f"{path}: environments.{stack}: {environment!r} is not one of "
                f"{', '.join(ENVIRONMENTS)}"
            )
    waivers = _section(document, "waivers", path)
    approvals = _section(document, "approvals", path)
    _only(waivers, {"maxDays"}, f"{path}: waivers")
    _only(approvals, {"maxAgeDays", "clockSkewMinutes"}, f"{path}: approvals")
    return TrustedSettings(
        environments=dict(environments),
        max_waiver_days=_days(waivers, "maxDays", DEFAULT_MAX_WAIVER_DAYS, f"{path}: waivers"),
        max_approval_age_days=_days(approvals, "maxAgeDays", None, f"{path}: approvals"),
        clock_skew_minutes=_days(
            approvals, "clockSkewMinutes", DEFAULT_CLOCK_SKEW_MINUTES, f"{path}: approvals"
        ),
        source=path,
        digest=digest,
    )


def _section(document: Mapping[str, Any], key: str, path: Path) -> Mapping[Any, Any]:
    value = document.get(key) or {}
    if not isinstance(value, Mapping):
        raise TrustError(f"{path}: {key} must be a mapping")
    return value


def _only(section: Mapping[Any, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in section if k not in allowed)
    if unknown:
        raise TrustError(f"{where}: unknown key {unknown[0]!r}")


def _days(section: Mapping[str, Any], key: str, default: Any, where: str) -> Any:
    value = section.get(key, default)
    if value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36500:
        raise TrustError(f"{where}.{key}: must be a whole number from 0 to 36500")
    return value
