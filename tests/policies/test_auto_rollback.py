"""mlops-serving-auto-rollback over the reference programs the components record, and over
hostile changes to them: a program that composes the parts itself is judged by what it deploys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from mlops_iac.plan.engine import RecordedResource, Recording
from mlops_iac.policies import packs
from mlops_iac.policies.offline import ResultSet
from tests.conftest import reference_recording
from tests.policies.test_real_stacks import _config

RULE = "mlops-serving-auto-rollback"
STACKS = ["aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod"]
OTHER_ENDPOINT = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/another-endpoint"
)


def _get(rec: Recording, name: str) -> RecordedResource:
    return next(r for r in rec.resources if r.name == name)


def _set(rec: Recording, name: str, key: str, value: Any) -> None:
    """Set a top-level property on what a resource declared and what the engine reports."""
    res = _get(rec, name)
    res.inputs[key] = value
    res.outputs[key] = value


def _remove(rec: Recording, *names: str) -> None:
    rec.resources = [r for r in rec.resources if r.name not in names]


def _without_guard(rec: Recording) -> None:
    """The program without the RolloutGuard component and everything under it."""
    guard = _get(rec, "mlops-rollout").urn
    rec.resources = [r for r in rec.resources if guard not in (r.urn, r.parent)]


def _app_setting(rec: Recording, name: str, value: Any) -> None:
    res = _get(rec, "mlops-rollout-function")
    for props in (res.inputs, res.outputs):
        for setting in props["siteConfig"]["appSettings"]:
            if setting["name"] == name:
                setting["value"] = value


def _function_env(rec: Recording, name: str, value: Any) -> None:
    res = _get(rec, "mlops-rollout-function")
    for props in (res.inputs, res.outputs):
        props["serviceConfig"]["environmentVariables"][name] = value


def _depends_not_on(rec: Recording, name: str, key: str, target: str) -> None:
    res = _get(rec, name)
    urn = _get(rec, target).urn
    res.property_dependencies[key] = [u for u in res.property_dependencies[key] if u != urn]


def _evaluate(rec: Recording, stack: str) -> ResultSet:
    return packs.evaluate(rec, _config(stack))


def _fires_once(rec: Recording, stack: str, resource: str, fragment: str) -> ResultSet:
    """The pack's result, after asserting the rule fired once, mandatory, on ``resource``, with
    ``fragment`` in its message."""
    result = _evaluate(rec, stack)
    violations = [v for v in result.violations if v.policy == RULE]
    assert len(violations) == 1, [v.message for v in result.violations]
    (violation,) = violations
    assert violation.resource_name == resource
    assert violation.level == "mandatory"
    assert fragment in violation.message
    return result


def _messages(rec: Recording, stack: str) -> list[str]:
    return [v.message for v in _evaluate(rec, stack).violations if v.policy == RULE]


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_pass_the_whole_pack(stack: str) -> None:
    result = _evaluate(reference_recording(stack), stack)
    assert [(v.policy, v.resource_name, v.message) for v in result.violations] == []
    level = result.levels[RULE]
    assert level == ("mandatory" if stack.endswith("prod") else "advisory")
    not_applicable = {n.policy for n in result.not_applicable}
    # SageMaker endpoints are judged by mlops-serving-rollback (autoRollbackConfiguration).
    assert (RULE in not_applicable) is stack.startswith("aws")


def _alias_endpoint(rec: Recording) -> None:
    res = _get(rec, "mlops-serving-endpoint")
    res.type = "azure-native:machinelearningservices/v20240401:OnlineEndpoint"


def _grant_elsewhere(rec: Recording) -> None:
    _set(rec, "mlops-rollout-endpoint", "scope", OTHER_ENDPOINT)
    _depends_not_on(rec, "mlops-rollout-endpoint", "scope", "mlops-serving-endpoint")


def _role_reads_only(rec: Recording) -> None:
    _set(
        rec,
        "mlops-rollout-role",
        "permissions",
        [{"actions": [f"{ONLINE}/read", f"{ONLINE}/deployments/read"], "notActions": []}],
    )


ONLINE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
NO_FUNCTION = "no rollout function names this endpoint"
NO_GRANT = "holds no role assignment on this endpoint"
NO_ALERT = "no enabled alert on this endpoint calls rollout function 'mlops-rollout-function'"

AZURE_MUTATIONS: dict[str, tuple[Callable[[Recording], Any], str]] = {
    "no-guard": (_without_guard, NO_FUNCTION),
    "decoy-guard-for-another-endpoint": (
        lambda r: _app_setting(r, "ROLLOUT_ENDPOINT_ID", OTHER_ENDPOINT),
        NO_FUNCTION,
    ),
    "guard-without-traffic-grant": (
        lambda r: _remove(r, "mlops-rollout-endpoint"),
        NO_GRANT,
    ),
    "grant-on-another-endpoint": (_grant_elsewhere, NO_GRANT),
    "role-cannot-write": (_role_reads_only, NO_GRANT),
    "grant-to-another-identity": (
        lambda r: _set(r, "mlops-rollout-endpoint", "principalId", "mallory"),
        NO_GRANT,
    ),
    "alerts-removed": (
        lambda r: _remove(r, "mlops-rollout-errors", "mlops-rollout-latency"),
        NO_ALERT,
    ),
    "alerts-disabled": (
        lambda r: (
            _set(r, "mlops-rollout-errors", "enabled", False),
            _set(r, "mlops-rollout-latency", "enabled", False),
        ),
        NO_ALERT,
    ),
    "action-group-calls-nothing": (
        lambda r: _set(r, "mlops-rollout-actions", "azureFunctionReceivers", []),
        NO_ALERT,
    ),
    "aliased-endpoint-type-without-guard": (
        lambda r: (_alias_endpoint(r), _without_guard(r)),
        NO_FUNCTION,
    ),
    "unknown-setting-computed-from-nothing": (
        lambda r: (
            _app_setting(r, "ROLLOUT_ENDPOINT_ID", UNKNOWN_STRING_VALUE),
            _depends_not_on(r, "mlops-rollout-function", "siteConfig", "mlops-serving-endpoint"),
        ),
        NO_FUNCTION,
    ),
}


@pytest.mark.parametrize("case", AZURE_MUTATIONS, ids=str)
def test_azure_endpoint_without_automatic_rollback_fires(case: str) -> None:
    mutate, fragment = AZURE_MUTATIONS[case]
    rec = reference_recording("azure-prod")
    mutate(rec)
    result = _fires_once(rec, "azure-prod", "mlops-serving-endpoint", fragment)
    assert not result.passed()


def test_azure_aliased_types_and_unknowns_from_the_endpoint_stay_quiet() -> None:
    rec = reference_recording("azure-prod")
    _alias_endpoint(rec)
    _get(rec, "mlops-rollout-function").type = "azure-native:web/v20240401:WebApp"
    # A preview of a new stack: the endpoint's id is not known yet, but computed from it.
    _app_setting(rec, "ROLLOUT_ENDPOINT_ID", UNKNOWN_STRING_VALUE)
    _set(rec, "mlops-rollout-endpoint", "scope", UNKNOWN_STRING_VALUE)
    assert _messages(rec, "azure-prod") == []


def test_azure_dev_is_advisory() -> None:
    rec = reference_recording("azure-dev")
    _without_guard(rec)
    result = _evaluate(rec, "azure-dev")
    assert [(v.policy, v.level) for v in result.violations] == [(RULE, "advisory")]
    assert result.passed()


def _service_name(rec: Recording) -> str:
    return str(_get(rec, "mlops-serving-service").outputs["name"])


def _alert_on_another_service(rec: Recording) -> None:
    name = _service_name(rec)
    for alert in ("mlops-rollout-errors", "mlops-rollout-latency"):
        res = _get(rec, alert)
        for props in (res.inputs, res.outputs):
            for condition in props["conditions"]:
                threshold = condition["conditionThreshold"]
                for key in ("filter", "denominatorFilter"):
                    if key in threshold:
                        threshold[key] = threshold[key].replace(name, "another-service")


GCP_NO_FUNCTION = "no rollout function names this service"
GCP_NO_GRANT = "holding no role on this service that may update it"
GCP_NO_ALERT = "no enabled alert policy on this service notifies rollout function"

GCP_MUTATIONS: dict[str, tuple[Callable[[Recording], Any], str]] = {
    "no-guard": (_without_guard, GCP_NO_FUNCTION),
    "decoy-guard-for-another-service": (
        lambda r: _function_env(
            r, "ROLLOUT_SERVICE", "projects/p/locations/us-central1/services/another-service"
        ),
        GCP_NO_FUNCTION,
    ),
    "guard-without-traffic-grant": (lambda r: _remove(r, "mlops-rollout-run-update"), GCP_NO_GRANT),
    "grant-can-only-invoke": (
        lambda r: _set(r, "mlops-rollout-run-update", "role", "roles/run.invoker"),
        GCP_NO_GRANT,
    ),
    "grant-to-another-account": (
        lambda r: _set(
            r, "mlops-rollout-run-update", "member", "serviceAccount:x@p.iam.gserviceaccount.com"
        ),
        GCP_NO_GRANT,
    ),
    "alerts-removed": (
        lambda r: _remove(r, "mlops-rollout-errors", "mlops-rollout-latency"),
        GCP_NO_ALERT,
    ),
    "alerts-disabled": (
        lambda r: (
            _set(r, "mlops-rollout-errors", "enabled", False),
            _set(r, "mlops-rollout-latency", "enabled", False),
        ),
        GCP_NO_ALERT,
    ),
    "alerts-watch-another-service": (_alert_on_another_service, GCP_NO_ALERT),
    "channel-not-on-the-trigger-topic": (
        lambda r: _set(r, "mlops-rollout-channel", "labels", {"topic": "projects/p/topics/other"}),
        GCP_NO_ALERT,
    ),
}


@pytest.mark.parametrize("case", GCP_MUTATIONS, ids=str)
def test_cloud_run_model_service_without_automatic_rollback_fires(case: str) -> None:
    mutate, fragment = GCP_MUTATIONS[case]
    rec = reference_recording("gcp-prod")
    mutate(rec)
    _fires_once(rec, "gcp-prod", "mlops-serving-service", fragment)


def test_cloud_run_service_without_a_model_is_not_an_endpoint() -> None:
    rec = reference_recording("gcp-prod")
    _without_guard(rec)
    service = _get(rec, "mlops-serving-service")
    for props in (service.inputs, service.outputs):
        props["labels"] = {k: v for k, v in props["labels"].items() if k != "mlops-model"}
    result = _evaluate(rec, "gcp-prod")
    assert RULE not in {v.policy for v in result.violations}
    assert RULE in {n.policy for n in result.not_applicable}


def test_cloud_run_unknown_service_name_from_the_service_stays_quiet() -> None:
    rec = reference_recording("gcp-prod")
    _function_env(rec, "ROLLOUT_SERVICE", UNKNOWN_STRING_VALUE)
    assert _messages(rec, "gcp-prod") == []
    _depends_not_on(rec, "mlops-rollout-function", "serviceConfig", "mlops-serving-service")
    assert any(GCP_NO_FUNCTION in m for m in _messages(rec, "gcp-prod"))


def _unknown(rec: Recording, name: str, *path: str) -> None:
    """The value at ``path`` is unknown, as in a preview of a resource still to be created."""
    res = _get(rec, name)
    for props in (res.inputs, res.outputs):
        *parents, last = path
        target: Any = props
        for key in parents:
            target = target[key]
        target[last] = UNKNOWN_STRING_VALUE


def _azure_preview(rec: Recording) -> None:
    """What a preview of a new stack cannot know: ids of resources still to be created."""
    _app_setting(rec, "ROLLOUT_ENDPOINT_ID", UNKNOWN_STRING_VALUE)
    for key in ("scope", "principalId", "roleDefinitionId"):
        _unknown(rec, "mlops-rollout-endpoint", key)
    _unknown(rec, "mlops-rollout-function", "identity")
    _unknown(rec, "mlops-rollout-latency", "actions")
    _unknown(rec, "mlops-rollout-latency", "scopes")


def test_azure_preview_of_a_new_stack_matches_by_what_values_are_computed_from() -> None:
    rec = reference_recording("azure-prod")
    _azure_preview(rec)
    result = _evaluate(rec, "azure-prod")
    # Other rules may not run on unknowns (an advisory "can't run" each); this one runs.
    assert [v.message for v in result.violations if v.policy == RULE] == []
    assert RULE not in {n.policy for n in result.not_applicable}


def test_azure_preview_grant_to_an_identity_the_function_does_not_run_as_fires() -> None:
    rec = reference_recording("azure-prod")
    _azure_preview(rec)
    _depends_not_on(rec, "mlops-rollout-endpoint", "principalId", "mlops-rollout-identity")
    _get(rec, "mlops-rollout-endpoint").property_dependencies["principalId"].append(
        _get(rec, "mlops-drift-identity").urn
    )
    (message,) = _messages(rec, "azure-prod")
    assert NO_GRANT in message


def _gcp_preview(rec: Recording) -> None:
    _function_env(rec, "ROLLOUT_SERVICE", UNKNOWN_STRING_VALUE)
    _unknown(rec, "mlops-rollout-function", "serviceConfig", "serviceAccountEmail")
    _unknown(rec, "mlops-rollout-function", "eventTrigger", "pubsubTopic")
    for key in ("member", "role"):
        _unknown(rec, "mlops-rollout-run-update", key)
    _unknown(rec, "mlops-rollout-channel", "labels", "topic")
    for alert in ("mlops-rollout-errors", "mlops-rollout-latency"):
        _unknown(rec, alert, "notificationChannels")


def test_gcp_preview_of_a_new_stack_matches_by_what_values_are_computed_from() -> None:
    rec = reference_recording("gcp-prod")
    _gcp_preview(rec)
    result = _evaluate(rec, "gcp-prod")
    assert [v.message for v in result.violations if v.policy == RULE] == []


def test_gcp_preview_alerts_notifying_another_channel_fire() -> None:
    rec = reference_recording("gcp-prod")
    _gcp_preview(rec)
    for alert in ("mlops-rollout-errors", "mlops-rollout-latency"):
        _depends_not_on(rec, alert, "notificationChannels", "mlops-rollout-channel")
    (message,) = _messages(rec, "gcp-prod")
    assert GCP_NO_ALERT in message
