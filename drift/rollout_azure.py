"""The rollout function on Azure: rolls a managed online endpoint's rollout back on an alert and
promotes it after a quiet bake, through Azure Resource Manager's REST API with the Function's
managed identity. Standard library only.

Each run: one GET of the endpoint and one GET of the new deployment (the model it serves names
the record); then, only when :func:`mlops_iac.drift.rollout.decide` changes something, one PUT of
the endpoint with the body it had, the new ``traffic`` map and the ``mlops-rollout`` tag (the
update operation, PATCH, takes only tags and identity). ``mlops-iac rollback --now`` builds its
PUT with :func:`endpoint_body` too.
https://learn.microsoft.com/rest/api/azureml/online-endpoints/create-or-update
https://learn.microsoft.com/azure/machine-learning/how-to-safely-rollout-online-endpoints
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from mlops_iac.drift.rollout import (
    RECORD_KEY,
    Decision,
    RolloutError,
    Split,
    call_api,
    decide,
    read_record,
    settings_from,
    write_record,
)

ARM = "https://management.azure.com"
TAG_VALUE_LIMIT = 256
"""Characters of an Azure tag value: a longer record would make the PUT, and so the rollback,
fail. https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations"""
MAX_MODEL = 100
"""Characters of the model in the record (longer: a prefix and 8 hex digits of its SHA-256)."""
ML_API = "2024-04-01"
# Writable properties of an online endpoint (OnlineEndpointProperties); a PUT repeats them as
# read, so only ``traffic`` (and the record tag) change.
ENDPOINT_WRITABLE = (
    "authMode",
    "compute",
    "description",
    "mirrorTraffic",
    "properties",
    "publicNetworkAccess",
    "traffic",
)

Transport = Callable[[str, str, Any], Any]
"""``(method, url, body) -> parsed JSON``; raises on an HTTP error."""


def traffic_of(endpoint: Mapping[str, Any]) -> dict[str, int]:
    """The endpoint's traffic map (deployment → percent)."""
    traffic = (endpoint.get("properties") or {}).get("traffic") or {}
    return {str(name): int(pct) for name, pct in traffic.items()}


def endpoint_body(
    current: Mapping[str, Any], traffic: Mapping[str, int], tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The PUT body that keeps the endpoint ``current`` as it is except its ``traffic`` (and, with
    ``tags``, its tags): location, writable properties, kind, sku and identity as read."""
    props = current.get("properties") or {}
    body: dict[str, Any] = {
        "location": current["location"],
        "properties": {k: props[k] for k in ENDPOINT_WRITABLE if k in props}
        | {"traffic": dict(traffic)},
    }
    for key in ("tags", "kind", "sku"):
        if current.get(key) is not None:
            body[key] = current[key]
    if tags is not None:
        body["tags"] = dict(tags)
    identity = current.get("identity")
    if isinstance(identity, dict) and identity.get("type"):
        body["identity"] = {"type": identity["type"]}
        if identity.get("userAssignedIdentities"):
            body["identity"]["userAssignedIdentities"] = {
                uid: {} for uid in identity["userAssignedIdentities"]
            }
    return body


def run(
    action: str,
    env: Mapping[str, str],
    transport: Transport,
    now: dt.datetime | None = None,
    why: str = "",
) -> Decision:
    """Apply ``action`` (``rollback`` or ``promote``) to the endpoint ``ROLLOUT_ENDPOINT_ID``:
    the new version is deployment ``ROLLOUT_NEW_DEPLOYMENT``, the previous one
    ``ROLLOUT_PREVIOUS_DEPLOYMENT`` (empty: none, a first deploy)."""
    settings = settings_from(env)
    endpoint_id = env.get("ROLLOUT_ENDPOINT_ID", "")
    new = env.get("ROLLOUT_NEW_DEPLOYMENT", "")
    if not endpoint_id.startswith("/subscriptions/") or "/onlineEndpoints/" not in endpoint_id:
        raise RolloutError("environment: ROLLOUT_ENDPOINT_ID is not an online endpoint id")
    if not new:
        raise RolloutError("environment: ROLLOUT_NEW_DEPLOYMENT not set")
    url = f"{ARM}{endpoint_id}"
    current = transport("GET", f"{url}?api-version={ML_API}", None)
    deployment = transport("GET", f"{url}/deployments/{new}?api-version={ML_API}", None)
    traffic = traffic_of(current)
    previous = env.get("ROLLOUT_PREVIOUS_DEPLOYMENT") or None
    if previous is not None and previous not in traffic:
        previous = None  # not deployed (yet): nothing to roll back to
    model = str((deployment.get("properties") or {}).get("model", ""))
    split = Split(f"{new}:{model_key(model)}", previous, traffic.get(new, 0))
    tags = dict(current.get("tags") or {})
    decision = decide(
        action, split, read_record(tags.get(RECORD_KEY)), settings, now or _now(), why
    )
    if decision.share is None and decision.record is None:
        return decision
    if decision.share is not None and previous is not None:
        traffic = {name: 0 for name in traffic} | {
            new: decision.share,
            previous: 100 - decision.share,
        }
    if decision.record is not None:
        tags[RECORD_KEY] = bounded_record(decision.record)
    transport("PUT", f"{url}?api-version={ML_API}", endpoint_body(current, traffic, tags))
    return decision


def model_key(model: str) -> str:
    """How the record names a deployment's model: the model itself up to ``MAX_MODEL``
    characters, else a prefix and 8 hex digits of its SHA-256 (still one key per model)."""
    if len(model) <= MAX_MODEL:
        return model
    return f"{model[: MAX_MODEL - 9]}~{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def bounded_record(record: Mapping[str, Any]) -> str:
    """The record as a tag value of at most ``TAG_VALUE_LIMIT`` characters: ``why`` is cut
    first (the rest is bounded: ``new`` by :func:`model_key`, deployment names by Azure)."""
    text = write_record(record)
    excess = len(text) - TAG_VALUE_LIMIT
    if excess > 0:
        why = str(record.get("why", ""))
        text = write_record({**record, "why": why[: max(len(why) - excess, 0)]})
    if len(text) > TAG_VALUE_LIMIT:
        raise RolloutError(f"rollout record longer than {TAG_VALUE_LIMIT} characters: {text}")
    return text


def alert_reason(payload: Any) -> tuple[bool, str]:
    """(whether the alert fired, its rule) from Azure Monitor's common alert schema; an
    unrecognised body counts as fired (the webhook only exists for the rollout's alerts).
    https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-common-schema"""
    essentials = ((payload or {}).get("data") or {}).get("essentials") or {}
    if not isinstance(essentials, Mapping):
        return True, "an alert fired"
    fired = str(essentials.get("monitorCondition", "Fired")).lower() == "fired"
    return fired, f"alert {essentials.get('alertRule') or 'unnamed'} fired"


class ArmTransport:
    """ARM requests with the Function's managed identity (``mlops_iac.drift.azure.AzureToken``)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        from mlops_iac.drift.azure import AzureToken

        self.token = AzureToken(env)

    def __call__(self, method: str, url: str, body: Any = None) -> Any:
        return call_api(method, url, body, self.token(ARM + "/"))


def azure_rollout_handler(action: str, request_body: bytes | None = None) -> str:
    """Entry point: ``rollback`` from the alert webhook (``request_body``: the alert), ``promote``
    from the timer. Returns what it did, one line (logged by the Functions host)."""
    env = os.environ
    why = ""
    if action == "rollback":
        try:
            payload = json.loads(request_body or b"{}")
        except ValueError:
            payload = {}
        fired, why = alert_reason(payload)
        if not fired:
            return "alert resolved: nothing to do"
    return run(action, env, ArmTransport(env), why=why).message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
