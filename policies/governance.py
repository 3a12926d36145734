"""Review of a stack file's signed governance records before the pack runs, and waivers after.

:func:`review` takes the ``mlops:platform`` object (camelCase, as the stack file holds it), the
repository's allowed-signers file and the TRUSTED environment of the stack (``policies.trust``:
``governance/settings.yaml``, never the stack file), and decides:

- whether the stack file claims a lower environment than the trusted one: a problem for
  ``mlops-governance-records`` (a stricter claim is fine);
- each approval's ``signatureStatus`` for the approval gate: ``verified``, or why not. In prod an
  approval must be signed; elsewhere an unsigned one counts, a badly signed one never does;
- the enforcement level that holds: ``advisory`` in staging or prod only with a verified
  ``enforcementApproval`` by a listed approver who is not the owner, else the environment's
  default, and a problem for ``mlops-governance-records``;
- which waivers are active: a known rule that may be waived (:data:`UNWAIVABLE` may not), for
  this stack, a bounded resource pattern, a listed approver who is not the owner, not expired, at
  most the trusted ``waivers.maxDays`` long, and signed wherever the rule is mandatory (a
  signature is verified wherever present).

:func:`apply_waivers` then moves the violations an active waiver covers into a suppressed list,
which the console, JSON and SARIF (``suppressions``) report with the justification.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_iac.spec import evaluation
from mlops_iac.spec.identities import exact, impostor, looks_alike, looks_like_message
from mlops_iac.spec.keys import ROOT

if TYPE_CHECKING:
    from mlops_iac.spec.models import PlatformSpec, TeamGovernance

from . import signatures, trust
from .offline import ResultSet, Violation
from .rules import BY_NAME, RULES
from .rules._base import ENVIRONMENTS

#: Rules a waiver may never switch off (``Rule.waivable``): their whole purpose is a human
#: decision (the approval gate) or they guard the signed records themselves.
UNWAIVABLE: tuple[str, ...] = tuple(rule.name for rule in RULES if not rule.waivable)
#: Key paths in messages start here, so reports can point at the stack file's line.
GOVERNANCE = f"{ROOT}.governance"
#: A waiver's resource pattern: at most this long, this many ``*``, and at least this many
#: letters or digits that are not ``*`` (``*``, ``**`` or ``*-*`` would waive everything).
MAX_PATTERN_LENGTH = 128
MAX_PATTERN_STARS = 3
MIN_PATTERN_LITERALS = 3
_RANK = {environment: index for index, environment in enumerate(ENVIRONMENTS)}


def pattern_problem(resource: object) -> str | None:
    """Why ``resource`` is not a waivable target, or ``None``: a logical name, a URN, ``stack``
    or a bounded ``*`` pattern (see :data:`MAX_PATTERN_LENGTH` and the constants beside it)."""
    if not isinstance(resource, str) or not resource:
        return "must be a logical name, a URN, 'stack' or a bounded pattern"
    stars = resource.count("*")
    if not stars:
        return None
    if len(resource) > MAX_PATTERN_LENGTH:
        return f"a pattern is at most {MAX_PATTERN_LENGTH} characters"
    if stars > MAX_PATTERN_STARS:
        return f"a pattern has at most {MAX_PATTERN_STARS} '*'"
    name = resource
    if resource.startswith("urn:"):
        # urn:pulumi:<stack>::<project>::<type>::<name>. A URN pattern is matched against URNs
        # only, so a star outside the name (urn:*, urn:pulumi:aws-prod::*::*) is every URN.
        parts = resource.split("::")
        if len(parts) < 4 or "*" in "::".join(parts[:-1]):
            return (
                f"the URN pattern {resource!r} is unbounded: write the stack, project and type "
                "out in full; '*' may stand only in the resource's name"
            )
        name = parts[-1]
    if sum(c.isalnum() for c in name) < MIN_PATTERN_LITERALS:
        return (
            f"the pattern {resource!r} is unbounded: name the resource with at least "
            f"{MIN_PATTERN_LITERALS} letters or digits besides '*'"
        )
    return None


def glob_steps(pattern: str, text: str) -> tuple[bool, int]:
    """``(matches, steps)``: ``*`` matches any run of characters, everything else itself.

    Two pointers, and on a mismatch back to just after the last ``*`` with one more character
    consumed by it: at most ``(len(pattern) + 1) * (len(text) + 1)`` steps whatever the input (a
    regular expression built from ``a*a*a*…`` backtracks exponentially). ``steps`` is returned so
    tests can hold the bound without timing anything.
    """
    p = t = steps = 0
    star, mark = -1, 0
    while t < len(text):
        steps += 1
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(pattern) and pattern[p] == text[t]:
            p += 1
            t += 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False, steps
    while p < len(pattern) and pattern[p] == "*":
        p += 1
        steps += 1
    return p == len(pattern), steps


def glob_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` (see :func:`glob_steps`)."""
    return glob_steps(pattern, text)[0]


def environment_problem(declared: object, environment: str, stack: str, why: str) -> str | None:
    """The problem when the stack file claims a lower environment than the trusted one."""
    if declared in _RANK and _RANK[str(declared)] < _RANK[environment]:
        return (
            f"environment: the stack file says {declared} but {stack} is {environment} "
            f"(from {why}); the stack is judged as {environment}: write environment: "
            f"{environment}, or have a platform owner change governance/settings.yaml"
        )
    return None


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
        """Same rule, and the pattern matches the resource's URN (a pattern that starts with
        ``urn:``) or its logical name (any other pattern; a stack-level violation's name is
        ``stack``). A name pattern never sees the URN: ``*pulumi*`` must not match every URN."""
        if not self.active or violation.policy != self.record.get("rule"):
            return False
        pattern = str(self.record.get("resource"))
        if pattern.startswith("urn:"):
            return bool(violation.urn) and glob_match(pattern, violation.urn)
        return glob_match(pattern, violation.resource_name if violation.urn else "stack")


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


#: Clouds whose serving component runs ``serving.model.image`` (AzureML serves the model files
#: with its curated environment, so only the artifact digest binds an Azure approval).
IMAGE_CLOUDS = ("aws", "gcp")
#: The most bytes of a model card read to check its digest.
MAX_CARD_BYTES = 256 * 1024


def served_models(platform: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(key path, model)`` of each version the stack may serve: ``serving.model`` and, kept
    deployable for a rollback, ``serving.previousModel``."""
    serving = platform.get("serving")
    if not isinstance(serving, Mapping):
        return []
    return [
        (f"{ROOT}.serving.{key}", model)
        for key in ("model", "previousModel")
        if isinstance(model := serving.get(key), Mapping)
    ]


def card_digest(project_dir: Path, card: str) -> str:
    """sha256 of a model card under ``governance/model-cards/``; ``ValueError`` saying why not."""
    path = project_dir / card
    if not card.startswith("governance/model-cards/") or ".." in Path(card).parts:
        raise ValueError(f"model card {card!r} is not under governance/model-cards/")
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"model card {card} is missing or not a regular file")
    data = path.read_bytes()[: MAX_CARD_BYTES + 1]
    if len(data) > MAX_CARD_BYTES:
        raise ValueError(f"model card {card} is larger than {MAX_CARD_BYTES} bytes")
    return hashlib.sha256(data).hexdigest()


def binding_problems(
    record: Mapping[str, Any],
    model: Mapping[str, Any],
    where: str,
    *,
    cloud: Any,
    stack: str,
    project_dir: Path | None = None,
) -> list[str]:
    """Why the approval ``record`` does not cover what ``model`` (a served version, camelCase)
    serves: the artifact and image digests it signed, the metrics it signed against the stack
    file's criteria and against the criteria it signed itself, and its model card."""
    name, version = record.get("model"), record.get("version")
    rerun = (
        f"re-approve it: mlops-iac approve -s {stack} --model {name} --version {version} "
        "--artifact FILE --metrics FILE (or --run-id ID) --approver EMAIL --ticket T --key FILE"
    )
    problems: list[str] = []
    signed = record.get("artifactSha256")
    served = model.get("artifactSha256")
    if not signed:
        problems.append(
            f"it records no artifact digest (made before approvals were bound to the artifact); "
            f"{rerun}"
        )
    elif not served:
        problems.append(
            f"{where}.artifactSha256 is not set; write the approved artifact's sha256 {signed}"
        )
    elif served != signed:
        problems.append(
            f"{where}.artifactSha256 is {served} but the approval signed {signed} (another "
            "artifact under the same version)"
        )
    if cloud in IMAGE_CLOUDS:
        image = model.get("image")
        digest = evaluation.image_digest(image) if image else model.get("imageDigest")
        approved = record.get("imageDigest")
        if digest is None and image:
            problems.append(
                f"{where}.image is {image!r}, a tag: reference the image by digest "
                "(…@sha256:<64 hex>), a tag can be re-pushed"
            )
        elif digest is None:
            problems.append(
                f"{where} serves the image by a tag (its repository's <name>:<version>): set "
                f"{where}.imageDigest (or an image …@sha256:<64 hex>), a tag can be re-pushed"
            )
        elif not approved:
            problems.append(f"it records no image digest; {rerun}")
        elif approved != digest:
            problems.append(
                f"{where}.image serves {digest} but the approval signed {approved} (another "
                "image under the same version)"
            )
    criteria_text: list[Any] = []
    try:
        stack_criteria = evaluation.parse_criteria(
            c if not isinstance(c, Mapping) else dict(c) for c in _items(model.get("criteria"))
        )
        signed_criteria = evaluation.parse_criteria(_items(record.get("criteria")))
    except ValueError as exc:
        return [*problems, f"criteria: {exc}"]
    criteria_text = [*stack_criteria, *signed_criteria]
    metrics = record.get("metrics")
    if criteria_text and not isinstance(metrics, Mapping):
        problems.append(f"it records no metrics to judge against the criteria; {rerun}")
    elif isinstance(metrics, Mapping):
        for miss in evaluation.misses(stack_criteria, metrics):
            problems.append(f"{miss} ({where}.criteria)")
        for miss in evaluation.misses(signed_criteria, metrics):
            if f"{miss} ({where}.criteria)" not in problems:
                problems.append(f"{miss} (the criteria the approval signed)")
    card, card_sha = record.get("modelCard"), record.get("modelCardSha256")
    if project_dir is not None and card:
        try:
            actual = card_digest(project_dir, str(card))
        except ValueError as exc:
            problems.append(str(exc))
        else:
            if actual != card_sha:
                problems.append(f"model card {card} has sha256 {actual}, not the signed {card_sha}")
    return problems


def review(
    platform: Mapping[str, Any] | PlatformSpec | TeamGovernance,
    allowed_signers: Path,
    *,
    stack: str,
    environment: str,
    environment_source: str = "governance/settings.yaml",
    today: dt.date | None = None,
    settings: trust.TrustedSettings | None = None,
    now: dt.datetime | None = None,
    project_dir: Path | None = None,
) -> Review:
    """Decide what the stack file's approvals, enforcement change and waivers allow.

    ``environment`` is the trusted one (``trust.load(...).environment(stack)``), with
    ``environment_source`` saying where it came from; the stack file's own ``environment`` only
    matters when it is lower (a problem). ``settings``: the trusted settings (waiver cap, clock
    skew, maximum approval age); default ``trust.load()`` (``$MLOPS_IAC_GOVERNANCE_DIR``, else
    the working directory's or its parent's ``governance/``). ``now``: the time records are
    judged at; default the clock. ``project_dir``: where model cards are read to check their
    digests; default none (the signature still covers the digest). ``platform`` is the typed
    spec (``mlops_iac.spec``) or, for a stack file that does not validate, the object as the
    file holds it (camelCase): the review
    reads both the same way, so an invalid file is still reviewed, fail-closed.
    """
    if not isinstance(platform, Mapping):
        platform = platform.model_dump(by_alias=True, mode="json")
    if environment not in _RANK:
        raise ValueError(f"unknown environment {environment!r}")
    now = now or dt.datetime.now(dt.UTC)
    today = today or now.date()
    settings = settings if settings is not None else trust.load()
    project = str(platform.get("project") or "")
    owner = platform.get("owner")
    governance = platform.get("governance")
    governance = governance if isinstance(governance, Mapping) else {}
    approvers = [str(a) for a in _items(governance.get("approvers"))]
    problems: list[str] = []
    lowered = environment_problem(
        platform.get("environment"), environment, stack, environment_source
    )
    if lowered:
        problems.append(lowered)

    approvals = []
    binding: list[tuple[dict[str, Any], list[str]]] = []
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
        if environment in ("staging", "prod"):
            bound = _bind(record, signature, platform, stack=stack, project_dir=project_dir)
            if bound is not None:
                binding.append((entry, bound))
            if bound:
                entry["bindingStatus"] = "; ".join(bound)
            entry["binding"] = binding_state(record, bound)
        else:
            entry["binding"] = "not-required"
        approvals.append(entry)
    # One approval that covers a served version is enough (a re-approval after the migration
    # leaves the old record in the audit trail); otherwise each one says why it does not. It
    # covers only when it also counts: verified signature, dated right, four eyes (a forged
    # record with the right digests must not silence the real one's problems).
    covered = {
        (e.get("model"), e.get("version"))
        for e, bound in binding
        if not bound
        and e.get("signatureStatus") == signatures.VERIFIED
        and not e.get("dateStatus")
        and _four_eyes(e.get("approvedBy"), owner, approvers) is None
    }
    problems.extend(
        f"approval of {entry.get('model')!r} version {entry.get('version')!r} "
        f"({entry['keyPath']}) does not cover what is served: {problem}"
        for entry, bound in binding
        if (entry.get("model"), entry.get("version")) not in covered
        for problem in bound
    )

    enforcement = governance.get("enforcement")
    if enforcement is not None and enforcement not in ("advisory", "mandatory"):
        # The pack process reads config unvalidated: "disabled" (a level pulumi_policy knows)
        # must not switch every rule off.
        problems.append(
            f"governance.enforcement: {enforcement!r} is not advisory or mandatory; every rule "
            "stays at its default level"
        )
        enforcement = None
    if enforcement == "advisory" and environment in ("staging", "prod"):
        record = governance.get("enforcementApproval")
        reason: str | None
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

    context = _WaiverContext(
        stack,
        environment,
        project,
        owner,
        approvers,
        enforcement if isinstance(enforcement, str) else None,
        settings.max_waiver_days,
        allowed_signers,
        today,
    )
    waivers = [
        Waiver(record, context.status(record), f"{GOVERNANCE}.waivers[{index}]")
        for index, record in enumerate(_items(governance.get("waivers")))
        if isinstance(record, Mapping)
    ]
    return Review(approvals, enforcement, waivers, problems)


BINDING_STATES = ("bound", "digest-mismatch", "unbound-legacy", "not-covering", "not-required")


def binding_state(record: Mapping[str, Any], bound: list[str] | None) -> str:
    """One word for the JSON report: ``not-required`` (not a served version, or dev),
    ``unbound-legacy`` (no artifact digest: made before approvals were bound),
    ``digest-mismatch`` (signed another artifact or image), ``not-covering`` (another problem:
    unsigned, metrics, model card, an image served by tag) or ``bound``."""
    if bound is None:
        return "not-required"
    if not record.get("artifactSha256"):
        return "unbound-legacy"
    if any(problem.endswith("under the same version)") for problem in bound):
        return "digest-mismatch"
    return "not-covering" if bound else "bound"


def _bind(
    record: Mapping[str, Any],
    signature: Any,
    platform: Mapping[str, Any],
    *,
    stack: str,
    project_dir: Path | None,
) -> list[str] | None:
    """Binding problems of an approval of a served version; ``None`` for another version."""
    served = [
        (where, model)
        for where, model in served_models(platform)
        if (str(model.get("name")), str(model.get("version")))
        == (str(record.get("model")), str(record.get("version")))
    ]
    if not served:
        return None
    problems: list[str] = []
    for where, model in served:
        if not signature:
            # Unsigned, its metrics and digests are the stack author's word.
            problems.append("it is unsigned, so its metrics and digests prove nothing (--key)")
        problems += binding_problems(
            record,
            model,
            where,
            cloud=platform.get("cloud"),
            stack=stack,
            project_dir=project_dir,
        )
    return list(dict.fromkeys(problems))


def signature_required(rule: str, environment: str, enforcement: str | None = None) -> bool:
    """Whether a waiver of ``rule`` must be signed: wherever the rule is mandatory, by default
    (staging and prod; dev too for a rule mandatory there) or by ``governance.enforcement:
    mandatory``. A lowered enforcement does not lower this: the waiver must hold on its own."""
    found = BY_NAME.get(rule)
    default = found.levels.get(environment, "mandatory") if found else "mandatory"
    return default != "advisory" or enforcement == "mandatory"


@dataclass(frozen=True)
class _WaiverContext:
    stack: str
    environment: str
    project: str
    owner: Any
    approvers: Sequence[str]
    enforcement: str | None
    max_days: int
    allowed_signers: Path
    today: dt.date

    def status(self, record: Mapping[str, Any]) -> str:
        """``active``, or why the waiver does not apply."""
        rule, who = record.get("rule"), record.get("approvedBy")
        start, end = _date(record.get("approvedAt")), _date(record.get("expires"))
        if rule not in BY_NAME:
            return f"unknown rule {rule!r}"
        if rule in UNWAIVABLE:
            return f"{rule} cannot be waived: it is a human decision, not a finding"
        if record.get("stack") != self.stack:
            named = record.get("stack")
            return (
                f"the waiver is for stack {named!r}, not {self.stack!r}"
                if named
                else f"the waiver names no stack (write stack: {self.stack})"
            )
        if problem := pattern_problem(record.get("resource")):
            return f"resource: {problem}"
        if (refused := _four_eyes(who, self.owner, self.approvers)) is not None:
            return refused
        if start is None or end is None:
            return "approvedAt and expires must be dates"
        if (end - start).days > self.max_days:
            return (
                f"runs {(end - start).days} days, more than waivers.maxDays ({self.max_days}) "
                "in governance/settings.yaml"
            )
        if start > self.today:
            return f"approvedAt {start} is in the future"
        if self.today > end:
            return f"expired on {end}"
        signature = record.get("signature")
        if signature or signature_required(str(rule), self.environment, self.enforcement):
            try:
                data = signatures.waiver_payload(self.project, record)
            except KeyError as exc:  # the pack process reads records unvalidated
                return f"incomplete record: no {exc.args[0]}"
            status = signatures.verify(
                data,
                signature,
                str(who),
                self.allowed_signers,
            )
            if status != signatures.VERIFIED:
                if not signature:
                    return f"{status}: {rule} is mandatory in {self.environment}"
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
