"""Shared bits of the GCP component tests."""

from __future__ import annotations

import re

from components.testing import run
from components.testing.mocks import GCP_PROJECT_NUMBER

PROJECT = "mlops-offline"
REGION = "us-central1"
CONFIG = {"gcp:project": PROJECT, "gcp:region": REGION}
KMS_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def agent(domain: str) -> str:
    return f"serviceAccount:service-{GCP_PROJECT_NUMBER}@{domain}"


GCS_AGENT = agent("gs-project-accounts.iam.gserviceaccount.com")


def run_component(program, **config):
    recording = run(program, config={**CONFIG, **config})
    assert recording.unmocked_invokes == []
    return recording


def children(recording, name: str, type_token: str) -> dict:
    """Direct children of the component, by logical name (and no grandchildren exist)."""
    component = recording.named(name, type_token)
    found = {r.name: r for r in recording.children(component)}
    assert len(found) == len(recording.children(component)), "duplicate child names"
    assert len(recording.descendants(component)) == len(found), "children must be direct"
    return found


def label_maps(resource) -> list[dict]:
    """Every resource-label map of a recorded GCP resource (not a channel's config labels)."""
    maps = []
    keys = ("userLabels", "resourceLabels")
    if resource.type != "gcp:monitoring/notificationChannel:NotificationChannel":
        keys = ("labels", *keys)
    for key in keys:
        if isinstance(resource.inputs.get(key), dict):
            maps.append(resource.inputs[key])
    template = resource.inputs.get("template")
    if isinstance(template, dict) and isinstance(template.get("labels"), dict):
        maps.append(template["labels"])
    node_config = resource.inputs.get("nodeConfig")
    if isinstance(node_config, dict):
        for key in ("labels", "resourceLabels"):
            if isinstance(node_config.get(key), dict):
                maps.append(node_config[key])
    return maps


def bad_labels(recording) -> list[str]:
    problems = []
    for resource in recording:
        for labels in label_maps(resource):
            for key, value in labels.items():
                if not LABEL_KEY.match(key) or not LABEL_VALUE.match(str(value)):
                    problems.append(f"{resource.name}: {key}={value!r}")
    return problems
