"""Review of a stack file's signed governance records before the pack runs, and waivers after.

:func:`review` takes the ``mlops:platform`` object (camelCase, as the stack file holds it) and the
repository's allowed-signers file, and decides:

- each approval's ``signatureStatus`` for the approval gate: ``verified``, or why not. In prod an
  approval must be signed; elsewhere an unsigned one counts, a badly signed one never does;
- the enforcement level that holds: ``advisory`` in staging or prod only with a verified
  ``enforcementApproval`` by a listed approver who is not the owner, else the environment's
  default, and a problem for ``mlops-governance-records``;
- which waivers are active: listed approver, not the owner, not expired, at most
  ``maxWaiverDays`` long, signed (required in prod; verified wherever present).

:func:`apply_waivers` then moves the violations an active waiver covers into a suppressed list,
which the console, JSON and SARIF (``suppressions``) report with the justification.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import signatures, trust
from .identities import exact, impostor, looks_alike, looks_like_message
from .offline import ResultSet, Violation

#: Rules a waiver may never switch off: they guard the records themselves.
UNWAIVABLE = ("mlops-governance-records",)
#: Key paths in messages start here, so reports can point at the stack file's line.
GOVERNANCE = "mlops:platform.governance"


@dataclass(frozen=True)
class Waiver:
    """One waiver as reviewed: the record, whether it applies, and why not when it does not."""

    record: Mapping[str, Any]
    status: str
    """``active``, or the reason it does not apply."""
    key_path: str | None = None
    """Where the record is in the stack file (``mlops:platform.governance.waivers[0]``)."""

    @property
    def active(self) -> bool:
        return self.status == "active"

    def covers(self, violation: Violation) -> bool:
        """Same rule, and the resource's logical name or URN matches the pattern."""
        if not self.active or violation.policy != self.record.get("rule"):
            return False
        pattern = re.compile(
            "^" + ".*".join(re.escape(p) for p in str(self.record.get("resource")).split("*")) + "$"
        )
        target = violation.resource_name if violation.urn else "stack"
        return bool(pattern.match(target) or (violation.urn and pattern.match(violation.urn)))


@dataclass(frozen=True)
class Review:
    """What the signed records allow."""

    approvals: list[dict[str, Any]]
    enforcement: str | None
    waivers: list[Waiver]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Suppressed:
    """A violation an active waiver covers."""

    violation: Violation
    waiver: Mapping[str, Any]
    key_path: str | None = None
    """The waiver's key path in the stack file."""

    @property
    def justification(self) -> str:
        w = self.waiver
        return (
            f"waived until {w.get('expires')} by {w.get('approvedBy')} ({w.get('ticket')}): "
            f"{w.get('reason')}; owner {w.get('owner')}"
        )


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _items(value: Any) -> list[Any]:
    # The pack process reads config the CLI hands over unvalidated: never trust its shape.
    return list(value) if isinstance(value, list | tuple) else []


def _listed(who: Any, approvers: Sequence[str]) -> bool:
    return any(exact(who) == exact(a) for a in approvers)


def _four_eyes(who: Any, owner: Any, approvers: Sequence[str]) -> str | None:
    """Why ``who`` may not approve, or ``None``: the owner or a look-alike of the owner (loose:
    a false match only refuses), a look-alike of a listed approver, or not listed (exact)."""
    if owner and looks_alike(who, owner):
        like = "" if exact(who) == exact(owner) else f"; {looks_like_message(who, owner)}"
        return f"{who} owns the stack (four eyes){like}"
    lookalike = impostor(who, approvers)
    if not _listed(who, approvers):
        like = f" ({looks_like_message(who, lookalike)})" if lookalike else ""
        return f"{who} is not a listed approver{like}"
    if lookalike is not None:
        return f"{looks_like_message(who, lookalike)}, a listed approver"
    return None


def _when(value: Any) -> dt.datetime | None:
    """``approvedAt`` as an aware UTC datetime (a date is its midnight, UTC), or ``None``."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = str(value).strip()
        try:
            moment = (
                dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
                if len(text) == 10
                else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def date_problem(approved_at: Any, now: dt.datetime, settings: trust.TrustedSettings) -> str | None:
    """Why an approval's date does not count, or ``None``: dated later than ``now`` plus the
    trusted clock skew, or older than the trusted maximum age (when one is set)."""
    when = _when(approved_at)
    if when is None:
        return f"approvedAt {approved_at!r} is not a date"
    skew = settings.clock_skew_minutes
    if when > now + dt.timedelta(minutes=skew):
        return (
            f"approvedAt {approved_at} is dated in the future (beyond the {skew}-minute clock skew)"
        )
    limit = settings.max_approval_age_days
    if limit is not None and now - when > dt.timedelta(days=limit):
        return f"approvedAt {approved_at} is older than {limit} days (approvals.maxAgeDays)"
    return None


def review(
    platform: Mapping[str, Any],
    allowed_signers: Path,
    *,
    today: dt.date | None = None,
    settings: trust.TrustedSettings | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Decide what the stack file's approvals, enforcement change and waivers allow.

    ``settings``: the trusted settings (clock skew, maximum approval age); default
    ``trust.load()`` (``$MLOPS_IAC_GOVERNANCE_DIR``, else the working directory's or its
    parent's ``governance/``). ``now``: the time approvals are judged at; default the clock.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    now = now or dt.datetime.now(dt.UTC)
    settings = settings if settings is not None else trust.load()
    environment = str(platform.get("environment") or "prod")
    project = str(platform.get("project") or "")
    owner = platform.get("owner")
    governance = platform.get("governance")
    governance = governance if isinstance(governance, Mapping) else {}
    approvers = [str(a) for a in _items(governance.get("approvers"))]
    problems: list[str] = []

    approvals = []
    for index, record in enumerate(_items(governance.get("approvals"))):
        if not isinstance(record, Mapping):
            continue
        entry = dict(record)
        entry.pop("signature", None)
        entry["keyPath"] = f"{GOVERNANCE}.approvals[{index}]"
        signature = record.get("signature")
        if signature or environment == "prod":
            checked = signatures.check(
                signatures.approval_payload(project, record),
                signature,
                str(record.get("approvedBy")),
                allowed_signers,
            )
            entry["signatureStatus"] = checked.status
            if checked.verified:
                entry["verifiedBy"] = checked.as_dict()
        if (dated := date_problem(record.get("approvedAt"), now, settings)) is not None:
            entry["dateStatus"] = dated
        approvals.append(entry)

    enforcement = governance.get("enforcement")
    if enforcement == "advisory" and environment in ("staging", "prod"):
        record = governance.get("enforcementApproval")
        if not isinstance(record, Mapping):
            reason = "no governance.enforcementApproval"
        elif (refused := _four_eyes(record.get("approvedBy"), owner, approvers)) is not None:
            reason = refused
        elif (dated := date_problem(record.get("approvedAt"), now, settings)) is not None:
            reason = dated
        else:
            status = signatures.verify(
                signatures.enforcement_payload(project, environment, "advisory", record),
                record.get("signature"),
                str(record.get("approvedBy")),
                allowed_signers,
            )
            reason = None if status == signatures.VERIFIED else f"the approval is {status}"
        if reason is not None:
            problems.append(
                f"governance.enforcement: advisory in {environment} is refused ({reason}); "
                "every rule stays at its default level"
            )
            enforcement = None

    max_days = governance.get("maxWaiverDays", 90)
    waivers = []
    for index, record in enumerate(_items(governance.get("waivers"))):
        if not isinstance(record, Mapping):
            continue
        waivers.append(
            Waiver(
                record,
                _waiver_status(
                    record, environment, project, owner, approvers, max_days, allowed_signers, today
                ),
                f"{GOVERNANCE}.waivers[{index}]",
            )
        )
    return Review(approvals, enforcement, waivers, problems)


def _waiver_status(
    record: Mapping[str, Any],
    environment: str,
    project: str,
    owner: Any,
    approvers: Sequence[str],
    max_days: Any,
    allowed_signers: Path,
    today: dt.date,
) -> str:
    who = record.get("approvedBy")
    start, end = _date(record.get("approvedAt")), _date(record.get("expires"))
    if record.get("rule") in UNWAIVABLE:
        return f"{record.get('rule')} cannot be waived"
    if (refused := _four_eyes(who, owner, approvers)) is not None:
        return refused
    if start is None or end is None:
        return "approvedAt and expires must be dates"
    if isinstance(max_days, int) and (end - start).days > max_days:
        return f"runs {(end - start).days} days, more than maxWaiverDays ({max_days})"
    if start > today:
        return f"approvedAt {start} is in the future"
    if today > end:
        return f"expired on {end}"
    signature = record.get("signature")
    if signature or environment == "prod":
        status = signatures.verify(
            signatures.waiver_payload(project, record), signature, str(who), allowed_signers
        )
        if status != signatures.VERIFIED:
            return status
    return "active"


def apply_waivers(
    results: ResultSet, waivers: Sequence[Waiver]
) -> tuple[ResultSet, list[Suppressed]]:
    """Split violations into those still reported and those an active waiver covers."""
    kept: list[Violation] = []
    suppressed: list[Suppressed] = []
    for violation in results.violations:
        waiver = next((w for w in waivers if w.covers(violation)), None)
        if waiver is None:
            kept.append(violation)
        else:
            suppressed.append(Suppressed(violation, waiver.record, waiver.key_path))
    return dataclasses.replace(results, violations=tuple(kept)), suppressed
