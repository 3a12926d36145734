"""Reports of an evaluation: SARIF 2.1.0 for code scanning, a stable JSON document, JUnit XML.

Where a finding points (:class:`Locator`), in order: the stack-file key its message names
(``mlops:platform.governance.approvals[0]``: the line of that list item), else the line of the
program that declared the resource, else the stack file itself. URIs are repository-relative.
Resource URNs are SARIF logical locations. Levels map mandatory to ``error`` and advisory to
``warning``; disabled policies are listed with level ``none``. Every rule links to its entry in
the generated rules reference (:func:`rule_help_uri`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from mlops_iac.spec.stackyaml import KeyLines

from .offline import Recording, ResultSet, Violation
from .packs import PLATFORM_CONFIG_KEY
from .rules import BY_NAME

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
JSON_SCHEMA_VERSION = 1
TOOL_NAME = "mlops-iac-policies"
_SARIF_LEVELS = {
    "mandatory": "error",
    "remediate": "error",
    "advisory": "warning",
    "disabled": "none",
}


DISTRIBUTION = "mlops-iac"
RULES_REFERENCE = "docs/rules.md"
"""The generated rules reference (``python -m tools.docs``): one heading per rule."""
_REPOSITORY_LABELS = ("repository", "source", "sourcecode", "homepage")


def tool_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a plain checkout
        return "0.0.0"


def rule_anchor(name: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading reading ``name``."""
    # Lower-case, punctuation dropped, spaces to hyphens, as described (third-party) at
    # https://gist.github.com/creachadair/e35cefd8e3fbdfe3cce4f6178da1cd70; rule ids
    # (lower-case letters, digits, hyphens) are their own anchor under any variant of the rule.
    return re.sub(r"[^\w\- ]", "", name.strip().lower()).replace(" ", "-")


#: Environment variable naming the repository URL the rule links point into.
DOCS_URL_ENV = "MLOPS_IAC_DOCS_URL"


# Characters no repository URL needs that would end or break a Markdown link ``[..](..)``, a JSON
# string, or an HTML attribute, plus the delimiters of a query and fragment (the rule's path and
# anchor are appended to the base).
_URL_FORBIDDEN = frozenset("()[]<>\"'`\\{}|^?#")


def docs_base(value: str) -> str | None:
    """``value`` without its trailing ``/`` when it is a safe base for rule links, else ``None``.

    Safe: printable ASCII with no space, an absolute ``http``/``https`` URL that
    ``urllib.parse`` splits into a host (no user info, a valid port), none of
    ``()[]<>"'`` `` ` `` ``\\{}|^?#``: nothing that can end the Markdown link in SARIF help
    text, escape a JSON string or smuggle in another scheme.
    """
    if not value or not value.isascii() or not value.isprintable():
        return None
    if any(char.isspace() or char in _URL_FORBIDDEN for char in value):
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in range)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        return None
    return value.rstrip("/")


@functools.cache
def _warn_ignored_docs_url(_value: str) -> None:
    # The value is not echoed: it may hold terminal escapes or a lookalike link.
    print(
        f"mlops-iac: warning: ${DOCS_URL_ENV} is not an absolute http(s) URL without spaces, "
        "quotes, brackets, parentheses or backslashes; ignored",
        file=sys.stderr,
    )


def project_url() -> str | None:
    """The repository URL whose ``docs/rules.md`` SARIF links to, if one is known.

    ``$MLOPS_IAC_DOCS_URL`` wins (an organisation's own mirror of this repository, or a fork);
    else the installed package's ``[project.urls]``: labels are compared normalised (PEP 753:
    case, spaces, ``-`` and ``_`` ignored), and the first of Repository, Source, Source Code,
    Homepage that is a safe http(s) URL (:func:`docs_base`) wins. An unsafe
    ``$MLOPS_IAC_DOCS_URL`` is ignored with a warning on stderr (once per process).
    """
    override = os.environ.get(DOCS_URL_ENV, "").strip()
    if override:
        if base := docs_base(override):
            return base
        _warn_ignored_docs_url(override)
    try:
        entries = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    found: dict[str, str] = {}
    for entry in entries:
        label, _, url = str(entry).partition(",")
        label = re.sub(r"[\s_\-.]", "", label.lower())
        if base := docs_base(url.strip()):
            found.setdefault(label, base)
    return next((found[label] for label in _REPOSITORY_LABELS if label in found), None)


def rule_help_uri(name: str, base: str | None = None) -> str:
    """Where rule ``name`` is documented: its heading in ``docs/rules.md``.

    Absolute (``<repository>/blob/HEAD/docs/rules.md#<rule>``, the default branch's copy) when
    the package declares a repository URL (``base``, default :func:`project_url`; a ``base`` that
    :func:`docs_base` refuses counts as none); otherwise the repository-relative
    ``docs/rules.md#<rule>``.
    """
    base = project_url() if base is None else base
    base = docs_base(base) if base else None
    path = f"{RULES_REFERENCE}#{rule_anchor(name)}"
    return f"{base}/blob/HEAD/{path}" if base else path


def is_absolute_uri(uri: str) -> bool:
    """``scheme:…`` (RFC 3986 §4.3): what SARIF's ``helpUri`` must be."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", uri) is not None


def stack_file(stack: str) -> str:
    """Where a stack's config lives, relative to the project root."""
    return f"stacks/Pulumi.{stack}.yaml"


def _sarif_rule(summary: Any, base: str | None) -> dict[str, Any]:
    rule = BY_NAME.get(summary.name)
    checkov = list(rule.checkov) if rule else []
    awsguard = list(rule.awsguard) if rule else []
    ids = ", ".join(checkov + awsguard)
    link = rule_help_uri(summary.name, base)
    markdown = f"**Remediation:** {summary.remediation}"
    if ids:
        markdown += f"\n\n**Corresponds to:** {ids}"
    markdown += f"\n\n[Rule reference]({link})"
    descriptor: dict[str, Any] = {
        "id": summary.name,
        "name": "".join(part.title() for part in summary.name.split("-")),
        "shortDescription": {"text": summary.description},
        "fullDescription": {"text": summary.description},
        "help": {
            "text": f"Remediation: {summary.remediation}\n\nRule reference: {link}",
            "markdown": markdown,
        },
        "defaultConfiguration": {"level": _SARIF_LEVELS.get(summary.level, "warning")},
        "properties": {
            # SARIF tags are unique (§3.8.2.1): the governance rules' area is "governance" too.
            "tags": list(dict.fromkeys(["governance", *([rule.area] if rule else []), *checkov])),
            "kind": summary.kind,
            "checkov": checkov,
            "awsguard": awsguard,
            "reference": f"{RULES_REFERENCE}#{rule_anchor(summary.name)}",
        },
    }
    # SARIF 2.1.0 §3.49.12: helpUri is "the absolute URI [RFC3986] of the primary documentation"
    # (schema: "format": "uri"). Without a repository URL there is no absolute one: the
    # repository-relative link stays in help and properties.reference, never in helpUri.
    if is_absolute_uri(link):
        descriptor["helpUri"] = link
    return descriptor


def _fingerprint(violation: Violation) -> str:
    key = "\x1f".join((violation.policy, violation.urn, violation.message))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _label(violation: Violation) -> str:
    if violation.urn:
        return f"{violation.resource_name} ({violation.resource_type})"
    return "stack"


_SEGMENTS = r"(?:\.[A-Za-z0-9_\-]+|\[\d+\])*"
_KEY_PATH = re.compile(re.escape(PLATFORM_CONFIG_KEY) + _SEGMENTS)
_LEADING_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(" + _SEGMENTS + r"): ")


def key_path(text: str) -> str | None:
    """The stack-file key path a finding's text names, in full (``mlops:platform.serving…``).

    Either the first ``mlops:platform…`` path anywhere in the text, or a path relative to
    ``mlops:platform`` that opens the text as ``governance.enforcement: …`` (how the spec and
    the governance review word their problems), when its first key is a top-level spec key.
    """
    text = text or ""
    if match := _KEY_PATH.search(text):
        return match.group()
    leading = _LEADING_KEY.match(text)
    if leading and leading.group(1) in _spec_keys():
        return f"{PLATFORM_CONFIG_KEY}.{leading.group(1)}{leading.group(2)}"
    return None


@functools.cache
def _spec_keys() -> frozenset[str]:
    from mlops_iac.spec.models import PlatformSpec

    return frozenset(f.alias or name for name, f in PlatformSpec.model_fields.items())


@dataclass(frozen=True)
class Location:
    """A repository-relative file (a ``file:`` URI when it is outside the repository), a 1-based
    line and (for a stack-file key) column."""

    uri: str
    line: int
    column: int | None = None
    key_path: str | None = None

    def __str__(self) -> str:
        return f"{self.uri}:{self.line}" + (f":{self.column}" if self.column else "")

    def sarif(self) -> dict[str, Any]:
        region: dict[str, Any] = {"startLine": self.line}
        if self.column:
            region["startColumn"] = self.column
        # SARIF 2.1.0 §3.4.3/§3.4.4: a file outside the checkout is an absolute file URI (never
        # "../", which a viewer resolves against the repository); the rest is %SRCROOT%-relative.
        artifact: dict[str, Any] = {"uri": self.uri}
        if not is_absolute_uri(self.uri):
            artifact["uriBaseId"] = "%SRCROOT%"
        return {
            "physicalLocation": {
                "artifactLocation": artifact,
                "region": region,
            }
        }

    def as_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class Locator:
    """Where findings point; built once per plan from the stack file and the recording.

    ``keys`` are the stack file's key positions (``stackyaml.key_lines``), ``declared`` maps a
    resource URN to the repository-relative ``(file, line)`` of the code that declared it.
    """

    stack_uri: str
    keys: KeyLines = field(default_factory=KeyLines)
    declared: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    def key(self, path: str | None) -> Location | None:
        """The stack-file position of ``path`` (or its nearest enclosing key), if any."""
        found = self.keys.locate(path) if path else None
        if found is None:
            return None
        return Location(self.stack_uri, found[0], found[1], path)

    def source(self, violation: Violation) -> Location | None:
        where = self.declared.get(violation.urn) if violation.urn else None
        return Location(where[0], where[1]) if where else None

    def primary(self, violation: Violation) -> Location:
        """The named stack-file key, else the declaring line, else the stack file."""
        return (
            self.key(key_path(violation.message))
            or self.source(violation)
            or Location(self.stack_uri, 1)
        )


def _suppressed_items(
    suppressed: Sequence[tuple[Any, ...]],
) -> list[tuple[Violation, str, str | None]]:
    """(violation, justification[, waiver key path]) items, the key path defaulting to None."""
    items = []
    for item in suppressed:
        violation, justification, *rest = item
        items.append((violation, justification, rest[0] if rest else None))
    return items


def to_sarif(
    results: ResultSet,
    *,
    stack: str,
    artifact_uri: str | None = None,
    suppressed: Sequence[tuple[Any, ...]] = (),
    locations: Mapping[str, tuple[str, int]] | None = None,
    key_lines: KeyLines | None = None,
    help_base: str | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every policy as a rule and every violation as a result.

    ``suppressed`` are (violation, justification[, waiver key path]) items a waiver covers:
    reported as results with an accepted external suppression, so code scanning shows them as
    dismissed, not hidden; the suppression's location is the waiver's line. ``locations`` maps a
    resource URN to the repository-relative (file, line) that declares it; ``key_lines`` are the
    stack file's key positions (see :class:`Locator` for the order). ``help_base``: the
    repository URL rule links start from (default: the package's ``[project.urls]``).
    """
    locator = Locator(artifact_uri or stack_file(stack), key_lines or KeyLines(), locations or {})
    summaries = list(results.policies)
    index = {s.name: i for i, s in enumerate(summaries)}
    sarif_results = [_sarif_result(v, index, locator) for v in results.violations]
    for violation, justification, waiver_path in _suppressed_items(suppressed):
        result = _sarif_result(violation, index, locator)
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": justification,
        }
        if (waiver := locator.key(waiver_path)) is not None:
            suppression["location"] = waiver.sarif()
        result["suppressions"] = [suppression]
        sarif_results.append(result)
    base = (project_url() if help_base is None else help_base) or ""
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version(),
                        "rules": [_sarif_rule(s, base) for s in summaries],
                    }
                },
                "automationDetails": {"id": f"mlops-iac/{stack}/"},
                # §3.14.27: a run over text artifacts SHALL say how columns are counted; stack
                # file columns are UTF-16 code units (stackyaml.KeyLines).
                "columnKind": "utf16CodeUnits",
                "results": sarif_results,
            }
        ],
    }


def _sarif_result(
    violation: Violation, index: Mapping[str, int], locator: Locator
) -> dict[str, Any]:
    primary = locator.primary(violation)
    location = primary.sarif()
    if violation.urn:
        location["logicalLocations"] = [
            {
                "fullyQualifiedName": violation.urn,
                "name": violation.resource_name,
                "kind": "resource",
            }
        ]
    result: dict[str, Any] = {
        "ruleId": violation.policy,
        "level": _SARIF_LEVELS[violation.level],
        "message": {"text": f"{_label(violation)}: {violation.message or violation.description}"},
        "locations": [location],
        "partialFingerprints": {"mlopsIacViolation/v1": _fingerprint(violation)},
    }
    declared = locator.source(violation)
    if primary.key_path and declared is not None:
        # The stack-file key is what to change; the declaring line is where the resource is.
        related = declared.sarif()
        related["id"] = 1
        related["message"] = {"text": f"declares {violation.resource_name}"}
        result["relatedLocations"] = [related]
    if violation.policy in index:
        result["ruleIndex"] = index[violation.policy]
    return result


SECRET = "[secret]"
_MIN_SECRET = 4
"""Shorter secret values are not scrubbed from free text (they would mangle ordinary words)."""


def _redact(value: Any, secret_paths: frozenset[str] = frozenset(), path: str = "") -> Any:
    """Secret values stay secret in a report that CI may upload.

    A value is secret when it is still wrapped as one, or when its dotted path (``a.b[0].c``,
    the engine's ``secret_inputs`` spelling) is listed in ``secret_paths``.
    """
    if path and path in secret_paths:
        return SECRET
    if isinstance(value, Mapping):
        if value.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            return SECRET
        return {
            str(k): _redact(v, secret_paths, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(v, secret_paths, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list | tuple):
        return [leaf for v in value for leaf in _leaves(v)]
    return []


def _at(value: Any, path: str) -> Any:
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, Mapping) else None
    return value


def secret_values(recording: Recording | None, extra: Sequence[str] = ()) -> set[str]:
    """Every secret string the recording holds (secret inputs, secret exports) plus ``extra``."""
    found = {s for s in extra if isinstance(s, str)}
    if recording is not None:
        lifted: set[str] = set()
        for resource in recording.resources:
            for path in getattr(resource, "secret_inputs", ()) or ():
                value = _at(resource.inputs, path)
                (found if isinstance(value, str) else lifted).update(_leaves(value))
        if lifted:
            found |= lifted - _public(recording, lifted)
        exports = getattr(recording, "exports", {}) or {}
        for name in getattr(recording, "secret_exports", ()) or ():
            found.update(_leaves(exports.get(name)))
    return {s for s in found if len(s) >= _MIN_SECRET and s != SECRET}


def _public(recording: Recording, candidates: set[str]) -> set[str]:
    """The ``candidates`` that occur inside a plain (non-secret) input of another resource.

    A secret nested in a list or object makes the SDK mark the whole property secret, so the
    engine cannot tell which leaf is the secret one (an action group's receiver: its name, the
    function's name and id are plain, only the URL with the key is secret). Such a leaf that
    another resource also holds in the open is not a secret, and scrubbing it from free text
    would turn every occurrence of a common word into ``[secret]``; the resource's own secret
    property is still redacted whole."""
    plain: list[str] = []
    for resource in recording.resources:
        if getattr(resource, "secret_inputs", None):
            continue
        plain.extend(_leaves(resource.inputs))
    return {c for c in candidates if any(c in text for text in plain)}


def scrub(document: Any, secrets: Collection[str]) -> Any:
    """``document`` with every occurrence of a secret value, even inside text, as ``[secret]``."""
    # Longest first (a secret inside another goes with it), then by value: ``secrets`` is often
    # a set, and two overlapping secrets of one length must not scrub by its iteration order.
    ordered = sorted(secrets, key=lambda s: (-len(s), s))

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for secret in ordered:
                if secret in value:
                    value = value.replace(secret, SECRET)
            return value
        if isinstance(value, Mapping):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(document) if ordered else document


def redacted_exports(recording: Recording) -> dict[str, Any]:
    """The stack outputs with each secret one as ``[secret]``."""
    secret = set(getattr(recording, "secret_exports", ()) or ())
    exports = getattr(recording, "exports", {}) or {}
    return {k: SECRET if k in secret else _redact(v) for k, v in exports.items()}


def to_json(
    results: ResultSet,
    *,
    stack: str,
    project: str | None = None,
    environment: str | None = None,
    recording: Recording | None = None,
    suppressed: Sequence[tuple[Any, ...]] = (),
    locator: Locator | None = None,
) -> dict[str, Any]:
    """The JSON report: summary, policies with levels, violations and (optionally) resources.

    Keys are stable (``schemaVersion`` changes when they do). With ``recording`` every resource
    is listed with urn, type, name, parent and inputs, secrets redacted. Each finding carries the
    stack-file ``keyPath`` its message names (or null) and its ``location`` (see
    :class:`Locator`; null without a locator); each policy its ``helpUri``.
    """
    where = locator or Locator(stack_file(stack))
    base = project_url() or ""

    def located(violation: Violation) -> dict[str, Any]:
        return {
            "keyPath": key_path(violation.message),
            "location": where.primary(violation).as_dict() if locator else None,
        }

    document: dict[str, Any] = {
        "schemaVersion": JSON_SCHEMA_VERSION,
        "stack": stack,
        "project": project if project is not None else getattr(recording, "project", None),
        "environment": environment,
        "passed": results.passed(),
        "summary": {
            "resources": results.resource_count,
            "policies": len(results.policies),
            "mandatory": len(results.mandatory),
            "advisory": len(results.advisory),
            "notApplicable": len(results.not_applicable),
        },
        "policies": [
            {
                "name": s.name,
                "kind": s.kind,
                "level": s.level,
                "description": s.description,
                "remediation": s.remediation,
                "checkov": list(BY_NAME[s.name].checkov) if s.name in BY_NAME else [],
                "awsguard": list(BY_NAME[s.name].awsguard) if s.name in BY_NAME else [],
                "helpUri": rule_help_uri(s.name, base),
            }
            for s in results.policies
        ],
        "violations": [
            {
                "policy": v.policy,
                "level": v.level,
                "urn": v.urn,
                "resourceName": v.resource_name,
                "resourceType": v.resource_type,
                "message": v.message,
                "remediation": v.remediation,
                **located(v),
            }
            for v in results.violations
        ],
        "suppressed": [
            {
                "policy": v.policy,
                "level": v.level,
                "urn": v.urn,
                "resourceName": v.resource_name,
                "resourceType": v.resource_type,
                "message": v.message,
                "justification": justification,
                **located(v),
            }
            for v, justification, _ in _suppressed_items(suppressed)
        ],
    }
    if recording is not None:
        document["resources"] = [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "protect": r.protect,
                "inputs": _redact(r.inputs, frozenset(getattr(r, "secret_inputs", ()) or ())),
            }
            for r in recording.resources
        ]
    return document


# Deploy errors: what the real providers or clouds would refuse (not governance). They are their
# own kind in both reports, so code scanning and JSON consumers never mistake one for a policy.
DEPLOY_ERROR_KIND = "deploy-error"


def add_deploy_errors(document: dict[str, Any], errors: Any, skipped: Any = ()) -> dict[str, Any]:
    """Add ``deployErrors`` (rule, resource, input, value, message, source) to a JSON report.

    Any deploy error makes ``passed`` false: the deploy would fail whatever the policies say.
    ``deployChecksSkipped`` lists the constraints that could not be applied, with the reason.
    """
    items = [{"kind": DEPLOY_ERROR_KIND, **e.as_dict()} for e in errors]
    document["deployErrors"] = _redact(items)
    document["deployChecksSkipped"] = list(skipped)
    document.setdefault("summary", {})["deployErrors"] = len(items)
    if items:
        document["passed"] = False
    return document


def _deploy_fingerprint(error: Any) -> str:
    key = "\x1f".join((DEPLOY_ERROR_KIND, error.rule, error.urn, error.input))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def add_deploy_errors_sarif(
    log: dict[str, Any],
    errors: Any,
    *,
    artifact_uri: str | None = None,
    locations: Mapping[str, tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """Add each deploy error as an ``error`` result of a rule of kind ``deploy-error``.

    A result points at the line that declared the resource (``locations``, as for
    :func:`to_sarif`), else at ``artifact_uri``.
    """
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    index = {r["id"]: i for i, r in enumerate(rules)}
    uri = artifact_uri or "Pulumi.yaml"
    declared = locations or {}
    for error in errors:
        rule_id = f"deploy/{error.rule}"
        if rule_id not in index:
            index[rule_id] = len(rules)
            rules.append(
                {
                    "id": rule_id,
                    "name": "DeployError",
                    "shortDescription": {"text": f"Refused at deploy: {error.rule}"},
                    "helpUri": error.source,
                    "help": {"text": f"Source: {error.source}"},
                    "defaultConfiguration": {"level": "error"},
                    "properties": {"tags": ["deploy"], "kind": DEPLOY_ERROR_KIND},
                }
            )
        where = f"{error.resource_name} ({error.resource_type})"
        field_ = f" {error.input}" if error.input else ""
        run["results"].append(
            {
                "ruleId": rule_id,
                "ruleIndex": index[rule_id],
                "level": "error",
                "kind": "fail",
                "message": {"text": f"{where}{field_}: {error.message} ({error.source})"},
                "locations": [
                    {
                        **Location(*(declared.get(error.urn) or (uri, 1))).sarif(),
                        "logicalLocations": [
                            {
                                "fullyQualifiedName": error.urn,
                                "name": error.resource_name,
                                "kind": "resource",
                            }
                        ],
                    }
                ],
                "partialFingerprints": {"mlopsIacDeployError/v1": _deploy_fingerprint(error)},
                "properties": {"kind": DEPLOY_ERROR_KIND, "input": error.input},
            }
        )
    return log


def to_junit(
    results: ResultSet,
    *,
    stack: str,
    suppressed: Sequence[tuple[Any, ...]] = (),
    locator: Locator | None = None,
) -> str:
    """A JUnit XML report: one test case per policy, failed by its mandatory violations.

    Advisory violations and waived ones are listed in the case's output without failing it, so
    a CI test view shows what blocks the deployment and what merely warns. With ``locator`` each
    line ends with where to look (``[stacks/Pulumi.aws-prod.yaml:57:11]``).
    """

    def line(v: Violation) -> str:
        text = f"{_label(v)}: {v.message or v.description}"
        return f"{text} [{locator.primary(v)}]" if locator else text

    from xml.etree import ElementTree as ET

    by_policy: dict[str, list[Violation]] = {}
    for violation in results.violations:
        by_policy.setdefault(violation.policy, []).append(violation)
    waived: dict[str, list[str]] = {}
    for violation, justification, _ in _suppressed_items(suppressed):
        waived.setdefault(violation.policy, []).append(f"{_label(violation)}: {justification}")
    suite = ET.Element(
        "testsuite",
        name=f"mlops-iac plan {stack}",
        tests=str(len(results.policies)),
        failures=str(len(results.mandatory)),
        skipped=str(sum(1 for p in results.policies if p.level == "disabled")),
    )
    for summary in results.policies:
        case = ET.SubElement(suite, "testcase", classname=f"mlops-iac.{stack}", name=summary.name)
        if summary.level == "disabled":
            ET.SubElement(case, "skipped", message="disabled")
            continue
        found = by_policy.get(summary.name, [])
        mandatory = [v for v in found if v.level == "mandatory"]
        if mandatory:
            failure = ET.SubElement(
                case, "failure", message=f"{len(mandatory)} mandatory violation(s)"
            )
            failure.text = "\n".join(line(v) for v in mandatory)
        notes = [f"advisory: {line(v)}" for v in found if v.level != "mandatory"] + [
            f"waived: {line}" for line in waived.get(summary.name, [])
        ]
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
