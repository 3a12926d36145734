"""Reports of an evaluation: SARIF 2.1.0 for code scanning and a stable JSON document.

SARIF results point at the stack file (``stacks/Pulumi.<stack>.yaml``), the one artifact a
reviewer can change, and carry the resource URN as a logical location. Levels map mandatory to
``error`` and advisory to ``warning``; disabled policies are listed with level ``none``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from importlib import metadata
from typing import Any

from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from .offline import Recording, ResultSet, Violation
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


def tool_version() -> str:
    try:
        return metadata.version("mlops-iac")
    except metadata.PackageNotFoundError:  # running from a plain checkout
        return "0.0.0"


def stack_file(stack: str) -> str:
    """Where a stack's config lives, relative to the project root."""
    return f"stacks/Pulumi.{stack}.yaml"


def _sarif_rule(summary: Any) -> dict[str, Any]:
    rule = BY_NAME.get(summary.name)
    checkov = list(rule.checkov) if rule else []
    awsguard = list(rule.awsguard) if rule else []
    ids = ", ".join(checkov + awsguard)
    markdown = f"**Remediation:** {summary.remediation}"
    if ids:
        markdown += f"\n\n**Corresponds to:** {ids}"
    return {
        "id": summary.name,
        "name": "".join(part.title() for part in summary.name.split("-")),
        "shortDescription": {"text": summary.description},
        "fullDescription": {"text": summary.description},
        "help": {"text": f"Remediation: {summary.remediation}", "markdown": markdown},
        "defaultConfiguration": {"level": _SARIF_LEVELS.get(summary.level, "warning")},
        "properties": {
            "tags": ["governance", *([rule.area] if rule else []), *checkov],
            "kind": summary.kind,
            "checkov": checkov,
            "awsguard": awsguard,
        },
    }


def _fingerprint(violation: Violation) -> str:
    key = "\x1f".join((violation.policy, violation.urn, violation.message))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _label(violation: Violation) -> str:
    if violation.urn:
        return f"{violation.resource_name} ({violation.resource_type})"
    return "stack"


def to_sarif(
    results: ResultSet,
    *,
    stack: str,
    artifact_uri: str | None = None,
    suppressed: Sequence[tuple[Violation, str]] = (),
    locations: Mapping[str, tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every policy as a rule and every violation as a result.

    ``suppressed`` are (violation, justification) pairs a waiver covers: reported as results with
    an accepted external suppression, so code scanning shows them as dismissed, not hidden.
    ``locations`` maps a resource URN to the repository-relative (file, line) that declares it;
    other results point at the stack file.
    """
    uri = artifact_uri or stack_file(stack)
    summaries = list(results.policies)
    index = {s.name: i for i, s in enumerate(summaries)}
    where = locations or {}
    sarif_results = [_sarif_result(v, uri, index, where) for v in results.violations]
    for violation, justification in suppressed:
        result = _sarif_result(violation, uri, index, where)
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": justification}
        ]
        sarif_results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version(),
                        "rules": [_sarif_rule(s) for s in summaries],
                    }
                },
                "automationDetails": {"id": f"mlops-iac/{stack}/"},
                "results": sarif_results,
            }
        ],
    }


def _sarif_result(
    violation: Violation,
    uri: str,
    index: Mapping[str, int],
    locations: Mapping[str, tuple[str, int]],
) -> dict[str, Any]:
    path, line = locations.get(violation.urn) or (uri, 1)
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line},
        }
    }
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
        for resource in recording.resources:
            for path in getattr(resource, "secret_inputs", ()) or ():
                found.update(_leaves(_at(resource.inputs, path)))
        exports = getattr(recording, "exports", {}) or {}
        for name in getattr(recording, "secret_exports", ()) or ():
            found.update(_leaves(exports.get(name)))
    return {s for s in found if len(s) >= _MIN_SECRET and s != SECRET}


def scrub(document: Any, secrets: Collection[str]) -> Any:
    """``document`` with every occurrence of a secret value, even inside text, as ``[secret]``."""
    ordered = sorted(secrets, key=len, reverse=True)

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
    suppressed: Sequence[tuple[Violation, str]] = (),
) -> dict[str, Any]:
    """The JSON report: summary, policies with levels, violations and (optionally) resources.

    Keys are stable (``schemaVersion`` changes when they do). With ``recording`` every resource
    is listed with urn, type, name, parent and inputs, secrets redacted.
    """
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
            }
            for v, justification in suppressed
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
    log: dict[str, Any], errors: Any, *, artifact_uri: str | None = None
) -> dict[str, Any]:
    """Add each deploy error as an ``error`` result of a rule of kind ``deploy-error``."""
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    index = {r["id"]: i for i, r in enumerate(rules)}
    uri = artifact_uri or "Pulumi.yaml"
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
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": 1},
                        },
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
    results: ResultSet, *, stack: str, suppressed: Sequence[tuple[Violation, str]] = ()
) -> str:
    """A JUnit XML report: one test case per policy, failed by its mandatory violations.

    Advisory violations and waived ones are listed in the case's output without failing it, so
    a CI test view shows what blocks the deployment and what merely warns.
    """
    from xml.etree import ElementTree as ET

    by_policy: dict[str, list[Violation]] = {}
    for violation in results.violations:
        by_policy.setdefault(violation.policy, []).append(violation)
    waived: dict[str, list[str]] = {}
    for violation, justification in suppressed:
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
            failure.text = "\n".join(
                f"{_label(v)}: {v.message or v.description}" for v in mandatory
            )
        notes = [
            f"advisory: {_label(v)}: {v.message or v.description}"
            for v in found
            if v.level != "mandatory"
        ] + [f"waived: {line}" for line in waived.get(summary.name, [])]
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True)
