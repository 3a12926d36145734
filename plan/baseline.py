"""A findings baseline: adopt the pack on an existing estate, fail only on what is new.

``plan --write-baseline F`` writes the plan's advisory findings, each by a fingerprint that does
not move with code lines: the rule id, the resource URN (its logical name, or ``stack``) and the
message with numbers and generated hex suffixes masked. ``plan --baseline F`` then fails (exit 1)
on an advisory finding whose fingerprint the file does not list, and says how many it found
baselined. Mandatory findings are never baselined: the writer leaves them out, and a baseline
entry of a rule that is mandatory here, or that no waiver may switch off, is ignored with a
message; a mandatory finding fails the plan as always.

A baseline is read strictly (``BaselineError``, one line): a regular file (never through a
symbolic link) of at most ``MAX_BASELINE_BYTES``, UTF-8 JSON without duplicate keys, of this
module's shape.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac.plan.deploy.state import StateError, _parse
from mlops_iac.policies.offline import ResultSet, Violation

MAX_BASELINE_BYTES = 8 * 1024 * 1024
"""Largest baseline read (8 MiB: tens of thousands of findings)."""
MAX_ENTRIES = 100_000
VERSION = 1
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_HEX = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{7,}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message is one line naming the file."""


def normalised(message: str) -> str:
    """``message`` without what changes between runs of the same finding: whitespace runs,
    generated hex suffixes (auto-names, digests) and numbers."""
    text = " ".join(message.split())
    return _NUMBER.sub("#", _HEX.sub("<hex>", text))


def fingerprint(violation: Violation) -> str:
    """``sha256`` of rule id, URN (``stack`` for a stack-wide finding) and normalised message."""
    subject = violation.urn or "stack"
    body = "\0".join((violation.policy, subject, normalised(violation.message)))
    return hashlib.sha256(body.encode()).hexdigest()


def document(results: ResultSet, stack: str, unwaivable: Collection[str] = ()) -> dict[str, Any]:
    """The baseline of ``results``' advisory findings; mandatory ones and those of rules in
    ``unwaivable`` are never written."""
    findings = sorted(
        (
            {
                "fingerprint": fingerprint(v),
                "policy": v.policy,
                "resource": v.urn or "stack",
                "message": v.message,
            }
            for v in results.advisory
            if v.policy not in unwaivable
        ),
        key=lambda f: (f["policy"], f["resource"], f["fingerprint"]),
    )
    unique = list({f["fingerprint"]: f for f in findings}.values())
    return {"version": VERSION, "stack": stack, "findings": unique}


@dataclass(frozen=True)
class Baseline:
    path: Path
    entries: Mapping[str, str]
    """Fingerprint -> rule id."""


def read(path: str | os.PathLike[str]) -> Baseline:
    """Read and check a baseline; ``BaselineError`` (one line) for anything not exact."""
    where = f"--baseline {os.fspath(path)!r}"
    raw = _read_bytes(Path(path), where)
    try:
        data = _parse(raw, where)
    except StateError as exc:
        raise BaselineError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise BaselineError(f"{where}: not a baseline (an object with a findings list)")
    if data.get("version") != VERSION:
        raise BaselineError(f"{where}: version must be {VERSION}, not {data.get('version')!r}")
    if len(data["findings"]) > MAX_ENTRIES:
        raise BaselineError(f"{where}: more than {MAX_ENTRIES} findings")
    entries: dict[str, str] = {}
    for index, item in enumerate(data["findings"]):
        at = f"{where}: findings[{index}]"
        if not isinstance(item, dict):
            raise BaselineError(f"{at} must be an object")
        mark, policy = item.get("fingerprint"), item.get("policy")
        if not isinstance(mark, str) or not _FINGERPRINT.match(mark):
            raise BaselineError(f"{at}.fingerprint must be 64 lowercase hex characters")
        if not isinstance(policy, str) or not policy:
            raise BaselineError(f"{at}.policy must be a rule id")
        entries[mark] = policy
    return Baseline(Path(path), entries)


def _read_bytes(path: Path, where: str) -> bytes:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise BaselineError(f"{where}: does not exist") from None
    except OSError as exc:
        raise BaselineError(f"{where}: cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise BaselineError(f"{where}: is a symbolic link; a baseline is read from a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise BaselineError(f"{where}: is not a regular file")
    if info.st_size > MAX_BASELINE_BYTES:
        raise BaselineError(f"{where}: is {info.st_size} bytes, more than the 8 MiB allowed")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_BASELINE_BYTES + 1)
    except OSError as exc:
        raise BaselineError(f"{where}: cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_BASELINE_BYTES:
        raise BaselineError(f"{where}: is more than the 8 MiB allowed")
    if not raw.strip():
        raise BaselineError(f"{where}: is empty")
    return raw


@dataclass(frozen=True)
class Applied:
    """What a baseline did to one plan's findings."""

    baselined: tuple[Violation, ...]
    new: tuple[Violation, ...]
    ignored: tuple[str, ...]
    """Why entries were not used (a rule mandatory here or never waivable)."""

    @property
    def failed(self) -> bool:
        return bool(self.new)

    def as_dict(self) -> dict[str, Any]:
        return {
            "baselined": len(self.baselined),
            "new": [
                {
                    "policy": v.policy,
                    "urn": v.urn,
                    "resourceName": v.resource_name,
                    "message": v.message,
                    "fingerprint": fingerprint(v),
                }
                for v in self.new
            ],
            "ignored": list(self.ignored),
        }


def apply(baseline: Baseline, results: ResultSet, unwaivable: Collection[str] = ()) -> Applied:
    """Split ``results``' advisory findings into baselined and new; entries of rules mandatory in
    this plan or in ``unwaivable`` are ignored (each rule named once)."""
    mandatory = {v.policy for v in results.mandatory} | {
        name for name, level in results.levels.items() if level == "mandatory"
    }
    refused = sorted({p for p in baseline.entries.values() if p in mandatory or p in unwaivable})
    ignored = tuple(
        f"baseline entries of {rule} ignored: "
        + ("it is never waivable" if rule in unwaivable else "it is mandatory here")
        for rule in refused
    )
    usable = {m for m, p in baseline.entries.items() if p not in refused}
    baselined, new = _split(results.advisory, usable)
    return Applied(tuple(baselined), tuple(new), ignored)


def _split(
    findings: Iterable[Violation], usable: Collection[str]
) -> tuple[list[Violation], list[Violation]]:
    baselined: list[Violation] = []
    new: list[Violation] = []
    for v in findings:
        (baselined if fingerprint(v) in usable else new).append(v)
    return baselined, new
