"""The rollout function on GCP: rolls a Cloud Run service's rollout back on an alert and promotes
it after a quiet bake, through the Cloud Run Admin API (v2) with the function's service-account
token. Standard library only.

The service's traffic names the new revision with the tag ``current`` and the previous one with
``previous`` (``ServingEndpoint``); a first deploy has no ``previous`` entry, and the function
then changes nothing. Each run: one ``services.get``; then, only when
:func:`mlops_iac.drift.rollout.decide` changes something, one ``services.patch`` with
``updateMask=traffic,annotations`` (no new revision). ``mlops-iac rollback --now`` builds its
traffic with :func:`retarget` too.
https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/patch
https://cloud.google.com/run/docs/rollouts-rollbacks-traffic-migration
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
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

RUN = "https://run.googleapis.com/v2"
REVISION_TYPE = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
_SERVICE = re.compile(r"^projects/[a-z0-9-]+/locations/[a-z0-9-]+/services/[a-z0-9-]+$")

Transport = Callable[[str, str, Any], Any]
"""``(method, url, body) -> parsed JSON``; raises on an HTTP error."""


def tail(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def retarget(
    entries: Sequence[Mapping[str, Any]], shares: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The service's traffic entries with each revision in ``shares`` at its share (on its first
    entry: Cloud Run allows a revision more than once, tagged and not) and every other at 0%;
    types and tags kept."""
    placed: set[str] = set()
    traffic: list[dict[str, Any]] = []
    for entry in entries:
        revision = tail(str(entry.get("revision", "")))
        percent = 0
        if revision in shares and revision not in placed:
            percent = shares[revision]
            placed.add(revision)
        item: dict[str, Any] = {"type": entry.get("type", REVISION_TYPE), "percent": percent}
        if entry.get("revision"):
            item["revision"] = entry["revision"]
        if entry.get("tag"):
            item["tag"] = entry["tag"]
        traffic.append(item)
    return traffic


def _tagged(entries: Sequence[Mapping[str, Any]], tag: str) -> str | None:
    for entry in entries:
        if entry.get("tag") == tag and entry.get("revision"):
            return tail(str(entry["revision"]))
    return None


def run(
    action: str,
    env: Mapping[str, str],
    transport: Transport,
    now: dt.datetime | None = None,
    why: str = "",
) -> Decision:
    """Apply ``action`` (``rollback`` or ``promote``) to the service ``ROLLOUT_SERVICE``
    (``projects/<p>/locations/<r>/services/<s>``)."""
    settings = settings_from(env)
    service = env.get("ROLLOUT_SERVICE", "")
    if not _SERVICE.match(service):
        raise RolloutError("environment: ROLLOUT_SERVICE is not a Cloud Run service name")
    url = f"{RUN}/{service}"
    current = transport("GET", url, None)
    entries = list(current.get("traffic") or [])
    new = _tagged(entries, "current")
    if new is None:
        raise RolloutError(f"service {tail(service)} has no revision tagged 'current'")
    previous = _tagged(entries, "previous")
    share = sum(
        int(e.get("percent") or 0) for e in entries if tail(str(e.get("revision", ""))) == new
    )
    annotations = dict(current.get("annotations") or {})
    decision = decide(
        action,
        Split(new, previous, share),
        read_record(annotations.get(RECORD_KEY)),
        settings,
        now or _now(),
        why,
    )
    if decision.share is None and decision.record is None:
        return decision
    body: dict[str, Any] = {}
    masks = []
    if decision.share is not None and previous is not None:
        body["traffic"] = retarget(entries, {new: decision.share, previous: 100 - decision.share})
        masks.append("traffic")
    if decision.record is not None:
        annotations[RECORD_KEY] = write_record(decision.record)
        body["annotations"] = annotations
        masks.append("annotations")
    transport("PATCH", f"{url}?updateMask={','.join(masks)}", body)
    return decision


def event_action(event: Any, policies: Collection[str] | None = None) -> tuple[str, str]:
    """(action, reason) of a Pub/Sub message (a CloudEvent's ``data.message.data``, base64):
    ``{"action": "promote"}`` from Cloud Scheduler promotes; a Cloud Monitoring incident whose
    ``state`` is ``open`` and whose ``policy_name`` is one of ``policies`` (any, when None) rolls
    back. Anything else (a closed incident, another policy's, an unknown or malformed message)
    does nothing (``none``).
    https://cloud.google.com/monitoring/support/notification-options#pubsub"""
    message = event.get("message") if isinstance(event, Mapping) else None
    if not isinstance(message, Mapping):
        return "none", "not a Pub/Sub message"
    try:
        payload = json.loads(base64.b64decode(str(message.get("data", "")), validate=True))
    except (ValueError, UnicodeDecodeError):
        return "none", "message is not base64 JSON"
    if not isinstance(payload, Mapping):
        return "none", "message is not a JSON object"
    if payload.get("action") == "promote":
        return "promote", ""
    incident = payload.get("incident")
    if not isinstance(incident, Mapping):
        return "none", "message is neither a promotion nor an incident"
    policy = str(incident.get("policy_name") or "")
    if policies is not None and policy not in policies:
        return "none", f"incident of policy {policy or 'unnamed'!r}, not a rollback alert"
    if str(incident.get("state", "")).lower() != "open":
        return "none", "incident not open"
    return "rollback", f"alert {policy} fired"


def _envelope(event: Any) -> Any:
    """The Pub/Sub envelope ``{"message": {...}}`` from a CloudEvent (``.data``), a legacy
    background event (the message itself), or an HTTP push request (its JSON body)."""
    data = getattr(event, "data", event)
    if hasattr(event, "get_json"):  # a Flask request: a push subscription's body
        data = event.get_json(silent=True)
    if isinstance(data, Mapping) and "message" not in data and "data" in data:
        return {"message": data}
    return data


def _policies(env: Mapping[str, str]) -> list[str] | None:
    try:
        names = json.loads(env["ROLLOUT_POLICIES"])
    except (KeyError, ValueError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def _token() -> str:
    import urllib.request

    from mlops_iac.drift.gcp import _METADATA_TOKEN

    request = urllib.request.Request(_METADATA_TOKEN, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (fixed URL)
        return str(json.loads(response.read())["access_token"])


def _transport(method: str, url: str, body: Any = None) -> Any:
    return call_api(method, url, body, _token())


def gcp_rollout_handler(cloud_event: Any) -> str:
    """Entry point of the Pub/Sub-triggered function (``cloud_event.data`` is the Pub/Sub
    message envelope; the legacy and HTTP forms are read too). Only the alert policies named in
    ``ROLLOUT_POLICIES`` roll back. Returns what it did, one line."""
    action, why = event_action(_envelope(cloud_event), _policies(os.environ))
    if action == "none":
        return f"{why}: nothing to do"
    return run(action, os.environ, _transport, why=why).message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
