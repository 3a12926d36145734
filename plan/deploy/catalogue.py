"""The deploy-constraint catalogue: applies the data files to resources, per cloud.

AWS's botocore-derived checks are in ``aws``; Azure's and GCP's rules-as-data are here; the
lifecycle rules (``lifecycle``) run after them. What they share is in ``base``.

Resources are anything with ``urn``, ``type``, ``name`` and ``inputs`` (a ``RecordedResource``, a
resource of a plan's JSON report, a ``pulumi stack export`` entry). Checks never touch the network.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_iac.plan.deploy import aws, base, lifecycle
from mlops_iac.plan.deploy.base import (
    CLOUDS,
    DeployError,
    Report,
    Skipped,
    catalogue,
    data_file,
    error,
    name_input,
    physical_name_of,
    value_problems,
    values,
    with_name,
)
from mlops_iac.plan.deploy.state import OPTION, StateResource, read_state

__all__ = [
    "DeployError",
    "Report",
    "Skipped",
    "StateResource",
    "catalogue",
    "check",
    "check_resource",
    "clear_caches",
    "load_state",
    "name_input",
    "physical_name_of",
]


@functools.cache
def _gcp_labels() -> dict[str, Any]:
    return dict(data_file("gcp")["_labels"])


@functools.cache
def _sdk_enum(dotted: str) -> tuple[str, ...] | None:
    module, _, name = dotted.rpartition(".")
    try:
        enum = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return tuple(str(member.value) for member in enum)


def clear_caches() -> None:
    """Forget loaded data and models (tests that swap a model use this)."""
    base.clear_caches()
    aws.clear_caches()
    for cached in (_gcp_labels, _sdk_enum):
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:
            clear()


# --------------------------------------------------------------------------------------------
# Azure and GCP: rules as data.


def _check_rules(resource: Any, entry: Mapping[str, Any], cloud: str, report: Report) -> None:
    inputs = with_name(resource, entry.get("name"))
    for rule in entry.get("rules", ()):
        rule = dict(rule)
        if "enum" in rule and isinstance(rule["enum"], str):
            allowed = _sdk_enum(rule["enum"])
            if allowed is None:
                report.skipped.append(Skipped(rule["enum"], "SDK enum not importable"))
                continue
            rule["enum"] = list(allowed)
        for where, value in values(inputs, rule["input"]):
            problems = value_problems(value, rule, f"{resource.type}.{rule['input']}", report)
            if problems and "what" in rule and "forbid" not in rule:
                problems = [f"{'; '.join(problems)} ({rule['what']})"]
            for problem in problems:
                scope = f"; uniqueness scope: {rule['scope']}" if rule.get("scope") else ""
                report.errors.append(
                    error(
                        resource,
                        f"{cloud}-rule:{resource.type}.{rule['input']}",
                        where,
                        value,
                        f"{rule['input']} {problem}{scope}",
                        rule["source"],
                    )
                )
    labels_key = entry.get("labels")
    if labels_key:
        key = "labels" if labels_key is True else str(labels_key)
        labels: Any = inputs
        for part in key.split("."):  # a nested labels input: settings.userLabels (Cloud SQL)
            labels = labels.get(part) if isinstance(labels, Mapping) else None
        if isinstance(labels, Mapping):
            spec = _gcp_labels()
            for k, v in labels.items():
                for part, rule, data in (("key", spec["key"], k), ("value", spec["value"], v)):
                    for problem in value_problems(data, rule, f"{resource.type}.{key}", report):
                        report.errors.append(
                            error(
                                resource,
                                f"gcp-rule:label-{part}",
                                f"{key}.{k}",
                                data,
                                f"label {part} {problem} ({rule['what']})",
                                rule["source"],
                            )
                        )


def check_resource(resource: Any, report: Report) -> None:
    """Apply the per-type catalogue entry (if any) to one resource."""
    cloud = CLOUDS.get(str(resource.type).split(":", 1)[0])
    if cloud is None:
        return
    entry = catalogue(cloud).get(resource.type)
    if entry is None:
        return
    if cloud == "aws":
        aws.check(resource, entry, report)
        if entry.get("rules"):
            _check_rules(resource, entry, cloud, report)
    else:
        _check_rules(resource, entry, cloud, report)


# --------------------------------------------------------------------------------------------
# State: what exists before this update (read strictly by ``deploy.state``).


def load_state(path: str | Path) -> list[StateResource]:
    """Resources of a ``pulumi stack export`` file or of a previous ``mlops-iac plan --json``
    (``deploy.state.read_state``, which says what is checked).

    Raises ``ValueError`` (a ``StateError``) with one line naming the file and what is wrong.
    """
    return list(read_state(path, source=OPTION).resources)


# --------------------------------------------------------------------------------------------
# Entry point.


def check(
    resources: Iterable[Any],
    *,
    state: Sequence[StateResource] | None = None,
    config: Mapping[str, Any] | None = None,
    report: Report | None = None,
) -> list[DeployError]:
    """Every deploy error of the resources, catalogue and lifecycle rules alike.

    ``state`` lists what exists before this update (``None``: a first deploy, nothing exists);
    ``config`` is the stack config (regions, opt-ins). Pass a ``Report`` to also see what was
    skipped.
    """
    report = report if report is not None else Report()
    resources = [r for r in resources if getattr(r, "custom", True)]
    for resource in resources:
        check_resource(resource, report)
    lifecycle.check(resources, list(state or ()), dict(config or {}), report)
    return report.errors
