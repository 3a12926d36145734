"""Shared bits of the GCP component tests."""

from __future__ import annotations

import re

from mlops_iac.plan.mocks import GCP_PROJECT_NUMBER
from mlops_iac.plan.testing import run

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
    found = recording.children_by_name(component)
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


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _args_dict(module, annotation) -> type | None:
    """The ``…ArgsDict`` TypedDict an SDK parameter annotation refers to, if any."""
    for name in re.findall(r"(\w+?)(?:Dict)?\b", str(annotation)):
        if name.endswith("Args") and hasattr(module, f"{name}Dict"):
            return getattr(module, f"{name}Dict")
    return None


def _unknown_keys(module, typed_dict, value, path: str) -> list[str]:
    if isinstance(value, list):
        return [
            p
            for i, v in enumerate(value)
            for p in _unknown_keys(module, typed_dict, v, f"{path}[{i}]")
        ]
    if not isinstance(value, dict):
        return []
    fields = typed_dict.__annotations__
    problems = []
    for key, item in value.items():
        if _snake(key) not in fields:
            problems.append(f"{path}.{key}")
            continue
        nested = _args_dict(module, fields[_snake(key)])
        if nested is not None:
            problems.extend(_unknown_keys(module, nested, item, f"{path}.{key}"))
    return problems


def unknown_inputs(recording) -> list[str]:
    """Input keys, at any depth, that the pulumi-gcp SDK does not define.

    The mock engine accepts any dict, so a misspelt nested key
    (``privateClusterConfig.enablePrivateNode``) would silently do nothing in a real deployment;
    this catches it offline.
    """
    import importlib
    import inspect

    problems = []
    for resource in recording:
        if not resource.type.startswith("gcp:"):
            continue
        _, path, class_name = resource.type.split(":")
        package = f"pulumi_gcp.{path.split('/')[0]}"
        cls = getattr(importlib.import_module(package), class_name)
        inputs_module = importlib.import_module(f"{package}._inputs")
        params = inspect.signature(cls._internal_init).parameters
        for key, value in resource.inputs.items():
            param = params.get(_snake(key))
            if param is None:
                problems.append(f"{resource.name}.{key}")
                continue
            nested = _args_dict(inputs_module, param.annotation)
            if nested is not None:
                problems.extend(
                    _unknown_keys(inputs_module, nested, value, f"{resource.name}.{key}")
                )
    return problems


def rid(name: str, role: str, limit: int) -> str:
    """The id a component derives for ``name``/``role`` in a ``run`` (project/test) program."""
    from mlops_iac.components.gcp._common import resource_id

    return resource_id(name, role, limit=limit, scope="project/test")
