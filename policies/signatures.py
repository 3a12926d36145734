"""Signed governance records: approvals, waivers and enforcement changes, verified offline.

Anyone who can edit a stack file can type ``approvedBy: jane@example.com``; only Jane's key can
sign it. Each record carries an SSH signature (``ssh-keygen -Y sign``, the format git uses for
signed commits; https://man.openbsd.org/ssh-keygen.1 and
https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.sshsig) over a canonical payload
of the record's fields, in the namespace :data:`NAMESPACE`. ``plan`` verifies it with
``ssh-keygen -Y verify`` against the repository's allowed-signers file
(:data:`ALLOWED_SIGNERS`, one ``principal [options] key`` line per approver), so a record edited by
one character, signed by a key not listed for that approver, or signed for another kind of record
does not verify. Nothing here touches the network.

The signature is stored as one base64 line (the armour's body) so a YAML edit stays one scalar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac.spec import evaluation

NAMESPACE = "mlops-iac-approval"
ALLOWED_SIGNERS = Path("governance/allowed_signers")
"""Where the approvers' public keys live, relative to the project directory (protect it with
CODEOWNERS: whoever can change it can approve)."""
VERIFIED = "verified"
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_TIMEOUT = 20
#: An allowed-signers file is a few lines per approver; anything larger is not one.
MAX_SIGNERS_BYTES = 1024 * 1024
# What ssh-keygen -Y verify prints on success (ssh-keygen.c, sig_verify).
_GOOD = re.compile(
    r'^Good "(?P<namespace>[^"]*)" signature for (?P<principal>.+) with '
    r"(?P<type>\S+) key (?P<key>SHA256:[A-Za-z0-9+/=]+)\s*$",
    re.M,
)


class SigningError(Exception):
    """Signing failed (no ssh-keygen, unreadable or protected key); ``str()`` is one line."""


def _text(value: Any) -> str:
    return str(value)


def _when(value: Any) -> str:
    """A date or timestamp in one spelling, however YAML, JSON or pydantic handed it over:
    ``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else value
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def payload(kind: str, project: str, fields: Mapping[str, Any]) -> bytes:
    """The exact bytes signed for one record: canonical JSON of its kind, project and fields.

    ``kind`` and ``project`` are part of it so a waiver's signature cannot pass for an approval,
    nor one project's approval for another's.
    """
    document = {"kind": kind, "project": project, **{k: _text(v) for k, v in fields.items()}}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


#: The evaluation and artifact fields an approval signs when it has them (``mlops-iac approve``
#: records them all); an older approval without them signs only the five fields above them.
APPROVAL_BINDING = (
    "metrics",
    "criteria",
    "artifactSha256",
    "imageDigest",
    "modelCard",
    "modelCardSha256",
)


def _binding_text(key: str, value: Any) -> str:
    """One spelling of a bound field however YAML or JSON typed it (``0.9`` and ``0.90``)."""
    if key == "metrics" and isinstance(value, Mapping):
        try:
            return evaluation.canonical_metrics(value)
        except (TypeError, ValueError):
            return json.dumps(value, sort_keys=True, default=str)
    if key == "criteria" and isinstance(value, list | tuple):
        try:
            return "; ".join(evaluation.parse_criterion(c).text for c in value)
        except ValueError:
            return json.dumps(list(value), default=str)
    return _text(value)


def approval_payload(project: str, record: Mapping[str, Any]) -> bytes:
    """Payload of ``governance.approvals[]``: model, version, ticket, date and approver, and the
    metrics, criteria, artifact and image digests and model card digest when the record has
    them (so a forged metric or a swapped artifact under the same version does not verify)."""
    fields = {
        "model": record["model"],
        "version": record["version"],
        "ticket": record["ticket"],
        "date": _when(record["approvedAt"]),
        "approver": record["approvedBy"],
    }
    for key in APPROVAL_BINDING:
        if record.get(key) is not None:
            fields[key] = _binding_text(key, record[key])
    return payload("approval", project, fields)


def enforcement_payload(
    project: str, environment: str, enforcement: str, record: Mapping[str, Any]
) -> bytes:
    """Payload of ``governance.enforcementApproval``: the level, environment, ticket, date."""
    return payload(
        "enforcement",
        project,
        {
            "environment": environment,
            "enforcement": enforcement,
            "ticket": record["ticket"],
            "date": _when(record["approvedAt"]),
            "approver": record["approvedBy"],
        },
    )


def waiver_payload(project: str, record: Mapping[str, Any]) -> bytes:
    """Payload of ``governance.waivers[]``: every field but the signature, the stack included
    (a waiver signed for ``aws-dev`` does not verify when copied into ``aws-prod``)."""
    fields = ("stack", "rule", "resource", "reason", "ticket", "owner", "approvedBy")
    return payload(
        "waiver",
        project,
        {
            **{k: record[k] for k in fields},
            "approvedAt": _when(record["approvedAt"]),
            "expires": _when(record["expires"]),
        },
    )


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SigningError("ssh-keygen not found (install OpenSSH 8.2 or later)")
    return found


def compact(armored: str) -> str:
    """The armour's base64 body on one line."""
    lines = [line.strip() for line in armored.strip().splitlines()]
    if not lines or lines[0] != _BEGIN or lines[-1] != _END:
        raise SigningError("ssh-keygen did not return an SSH signature")
    return "".join(lines[1:-1])


def armor(signature: str) -> str:
    """The armoured form ``ssh-keygen -Y verify`` reads."""
    return "\n".join([_BEGIN, *textwrap.wrap(signature, 70), _END]) + "\n"


def sign(data: bytes, key: Path) -> str:
    """Sign ``data`` with the private key file ``key``; returns the compact signature."""
    if not key.is_file():
        raise SigningError(f"--key {key}: no such key file")
    try:
        done = subprocess.run(
            [_ssh_keygen(), "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE],
            input=data,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SigningError(
            f"ssh-keygen -Y sign with {key} timed out (a passphrase prompt? use ssh-agent)"
        ) from None
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode(errors="replace").split()) or "failed"
        raise SigningError(f"ssh-keygen -Y sign with {key}: {reason}")
    return compact(done.stdout.decode())


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one signature: the status and, when verified, what verified it."""

    status: str
    """:data:`VERIFIED`, or one short reason why not."""
    principal: str | None = None
    key: str | None = None
    """The signing key's fingerprint as ssh-keygen prints it (``SHA256:...``)."""
    signers_file: str | None = None
    """The allowed-signers file, relative to the git work tree that holds it (else absolute)."""
    signers_digest: str | None = None
    """``sha256:<hex>`` of the allowed-signers file's bytes that ssh-keygen read."""

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED

    def as_dict(self) -> dict[str, str] | None:
        """``verifiedBy`` as plan's JSON report and the approval gate carry it, or ``None``."""
        if not self.verified:
            return None
        return {
            "principal": str(self.principal),
            "key": str(self.key),
            "signersFile": str(self.signers_file),
            "signersDigest": str(self.signers_digest),
        }


def shown_path(path: Path) -> str:
    """``path`` relative to the git work tree that holds it, else as an absolute path."""
    absolute = Path(os.path.abspath(path))
    for directory in absolute.parents:
        if (directory / ".git").exists():
            return absolute.relative_to(directory).as_posix()
    return absolute.as_posix()


def read_signers(allowed_signers: Path) -> bytes | str:
    """The allowed-signers file's bytes, or why it is refused: it must be a regular file (not a
    symlink, directory or device) of at most :data:`MAX_SIGNERS_BYTES`
    (:func:`mlops_iac.policies.trust.read_trust_point`)."""
    from .trust import Unreadable, read_trust_point

    try:
        return read_trust_point(allowed_signers, MAX_SIGNERS_BYTES)
    except Unreadable as exc:
        reasons = {
            "missing": f"no allowed-signers file {allowed_signers}",
            "symlink": f"allowed-signers file {allowed_signers} is a symlink (it must be a "
            "regular file)",
            "not-regular": f"allowed-signers file {allowed_signers} is not a regular file",
            "too-large": f"allowed-signers file {allowed_signers} is larger than "
            f"{MAX_SIGNERS_BYTES} bytes",
        }
        return reasons.get(
            exc.kind, f"allowed-signers file {allowed_signers} cannot be read ({exc.detail})"
        )


def verify(data: bytes, signature: str | None, identity: str, allowed_signers: Path) -> str:
    """:data:`VERIFIED`, or one short reason why ``signature`` is not ``identity``'s over
    ``data`` (see :func:`check`)."""
    return check(data, signature, identity, allowed_signers).status


def check(data: bytes, signature: str | None, identity: str, allowed_signers: Path) -> Verification:
    """Whether ``signature`` is ``identity``'s over ``data`` by a key ``allowed_signers`` lists
    for that principal, and which key and file verified it.

    ssh-keygen reads a private copy of the bytes checked and digested here, so the digest
    reported is of exactly the file that verified.
    """
    if not signature:
        return Verification(
            "unsigned (sign it with `mlops-iac approve --key` or `mlops-iac waive --key`)"
        )
    signers = read_signers(allowed_signers)
    if isinstance(signers, str):
        return Verification(f"cannot be verified: {signers}")
    try:
        tool = _ssh_keygen()
    except SigningError as exc:
        return Verification(f"cannot be verified: {exc}")
    with tempfile.TemporaryDirectory(prefix="mlops-iac-sig-") as tmp:
        sig_file = Path(tmp) / "record.sig"
        sig_file.write_text(armor(signature))
        signers_copy = Path(tmp) / "allowed_signers"
        signers_copy.write_bytes(signers)
        try:
            done = subprocess.run(
                [
                    tool,
                    "-Y",
                    "verify",
                    "-f",
                    str(signers_copy),
                    "-I",
                    identity,
                    "-n",
                    NAMESPACE,
                    "-s",
                    str(sig_file),
                ],
                input=data,
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Verification("cannot be verified: ssh-keygen timed out")
    if done.returncode != 0:
        return Verification(
            f"signature does not verify for {identity} against {allowed_signers} (edited after "
            "signing, or not signed by a key listed for this approver)"
        )
    said = (done.stdout + b"\n" + done.stderr).decode(errors="replace")
    good = _GOOD.search(said)
    if good is None or good["principal"] != identity or good["namespace"] != NAMESPACE:
        # Fail closed: a verification that cannot say which key verified is not reported as one.
        return Verification("cannot be verified: ssh-keygen did not say which key verified it")
    return Verification(
        VERIFIED,
        principal=good["principal"],
        key=good["key"],
        signers_file=shown_path(allowed_signers),
        signers_digest="sha256:" + hashlib.sha256(signers).hexdigest(),
    )
