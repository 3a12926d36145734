"""``mlops-iac waive``: record a time-boxed, signed exception to one rule for one resource.

The waiver is appended to ``governance.waivers`` in the stack file with the same atomic,
comment-preserving edit as ``approve``. It names the stack, a rule that may be waived (not the
approval gate nor the governance records) and a resource: a logical name, a URN, ``stack`` or a
bounded ``*`` pattern. The approver must be listed in ``governance.approvers`` and must not be
the stack owner; the waiver expires at most ``waivers.maxDays`` (default 90) days from today, as
``governance/settings.yaml`` sets it; with ``--key`` it is signed with the approver's SSH key
over every field, the stack included (required wherever the rule is mandatory: staging and prod,
by the environment ``governance/settings.yaml`` gives the stack). ``plan`` then reports the
covered violations as suppressed, with the reason, until the expiry date, after which the rule
fails again.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from mlops_iac.cli import EXIT_OK, OpsError, add_stack_arguments, command, describe, stackfile
from mlops_iac.cli.approve import _canonical_approver, _owner_like, _refuse_lookalike, _sign
from mlops_iac.policies import governance, signatures, trust
from mlops_iac.spec.keys import ROOT

NAME = "waive"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``waive`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="record a signed, expiring exception to one rule for one resource",
        description=describe(__doc__),
    )
    add_stack_arguments(parser)
    parser.add_argument("--rule", required=True, help="rule name, e.g. mlops-storage-lifecycle")
    parser.add_argument(
        "--resource",
        required=True,
        help="logical name, URN or 'stack'; or a bounded pattern (* matches any run of "
        "characters; at most 3, with at least 3 letters or digits)",
    )
    parser.add_argument("--reason", required=True, help="why the exception is safe")
    parser.add_argument("--ticket", required=True, help="change ticket, e.g. CHG-1234")
    parser.add_argument("--owner", required=True, help="who fixes it before it expires (email)")
    parser.add_argument(
        "--approver", required=True, help="approver's email (governance.approvers, not the owner)"
    )
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--expires", type=dt.date.fromisoformat, help="last day (YYYY-MM-DD, UTC)")
    when.add_argument("--days", type=int, help="days from today")
    parser.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="the approver's private SSH key: signs the waiver (required wherever the rule is "
        "mandatory: staging and prod)",
    )
    parser.set_defaults(func=run)


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Validate, sign and append the waiver atomically."""
    from mlops_iac.policies.rules import BY_NAME

    sf = stackfile.load(args.project, args.stack)
    spec = sf.governed
    if args.rule not in BY_NAME:
        raise OpsError(f"unknown rule {args.rule!r} (see `mlops-iac policies -s {args.stack}`)")
    if args.rule in governance.UNWAIVABLE:
        raise OpsError(
            f"{args.rule} cannot be waived: it is a human decision, not a finding "
            f"(unwaivable: {', '.join(governance.UNWAIVABLE)})"
        )
    if problem := governance.pattern_problem(args.resource):
        raise OpsError(f"--resource {args.resource!r}: {problem}")
    try:
        trusted = trust.load(args.project)
    except trust.TrustError as exc:
        raise OpsError(str(exc)) from None
    environment, why = trusted.environment(args.stack)
    if (like := _owner_like(args.approver, spec.owner)) is not None:
        raise OpsError(
            f"{args.approver} owns the stack and cannot approve a waiver (four eyes){like}"
        )
    _refuse_lookalike(args.approver, spec.governance.approvers, sf.display)
    approver = _canonical_approver(args.approver, spec.governance.approvers)
    if approver is None:
        listed = ", ".join(spec.governance.approvers) or "nobody"
        raise OpsError(
            f"{args.approver} is not in governance.approvers of {sf.display} (listed: {listed})"
        )
    today = dt.datetime.now(dt.UTC).date()
    expires = args.expires or today + dt.timedelta(days=args.days)
    limit = trusted.max_waiver_days
    if expires < today:
        raise OpsError(f"--expires {expires} is in the past")
    if (expires - today).days > limit:
        raise OpsError(
            f"a waiver runs at most waivers.maxDays ({limit}) days "
            f"(governance/settings.yaml): expires by {today + dt.timedelta(days=limit)}"
        )
    if args.key is None and governance.signature_required(
        args.rule, environment, spec.governance.enforcement
    ):
        raise OpsError(
            f"a {environment} waiver must be signed ({args.rule} is mandatory in {args.stack}, "
            f"{environment} from {why}): pass --key with {approver}'s private SSH key"
        )
    entry: dict[str, Any] = {
        "stack": args.stack,
        "rule": args.rule,
        "resource": args.resource,
        "reason": args.reason,
        "ticket": args.ticket,
        "owner": args.owner,
        "approvedBy": approver,
        "approvedAt": today.isoformat(),
        "expires": expires.isoformat(),
    }
    signature = _sign(args, sf, signatures.waiver_payload(spec.project, entry), approver, "waiver")
    rendered = [
        (
            key,
            stackfile.quoted(value)
            if key in ("approvedAt", "expires")
            else stackfile.scalar(value),
        )
        for key, value in entry.items()
    ]
    if signature:
        rendered.append(("signature", stackfile.scalar(signature)))
    keys = ["config", ROOT, "governance"]

    def splice(text: str, root: Any) -> str:
        return stackfile.append_to_sequence(
            text, root, keys, "waivers", rendered, after="approvals"
        )

    def change(platform: dict[str, Any]) -> None:
        record = dict(entry)
        if signature:
            record["signature"] = signature
        platform.setdefault("governance", {}).setdefault("waivers", []).append(record)

    new = stackfile.edit(sf, splice, change)
    stackfile.write_atomic(sf.path, new, expected=sf.raw)
    print(
        f"recorded waiver of {args.rule} for {args.resource} until {expires} by {approver} "
        f"({args.ticket}) in {sf.display}; commit the stack file"
    )
    return EXIT_OK
