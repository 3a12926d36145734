"""Replay recorded Azure and GCP API answers of a healthy prod estate (``tests/ops/recordings``).

The answers are the documented response bodies (each route in ``routes.yaml`` names its reference
page); the names and ids in them come from the reference recordings of azure-prod and gcp-prod, so
they are exactly what the plan deploys. ``Recorded`` is the transport ``verify`` and ``rollback
--now`` take: it logs every request, answers from the recordings, 404s anything else, and applies
the documented effect of the two writes (the endpoint PUT, the service traffic patch).
"""

from __future__ import annotations

import copy
import json
import re
import string
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from mlops_iac.cli.cloudrest import ApiError
from tests.conftest import reference_recording

RECORDINGS = Path(__file__).parent / "recordings"
ARM = "https://management.azure.com"
_WHOLE = re.compile(r"^\$\{(\w+)\}$")


def fill(node: Any, values: dict[str, Any]) -> Any:
    """``node`` with ``${name}`` replaced: a string that is only a placeholder takes the value
    as it is (a list, an object); others are string templates."""
    if isinstance(node, dict):
        return {fill(k, values): fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [fill(v, values) for v in node]
    if isinstance(node, str):
        whole = _WHOLE.match(node)
        if whole:
            return copy.deepcopy(values[whole.group(1)])
        return string.Template(node).substitute(values)
    return node


def render(cloud: str, file: str, values: dict[str, Any]) -> Any:
    return fill(json.loads((RECORDINGS / cloud / file).read_text()), values)


def _tail(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def azure_values() -> dict[str, Any]:
    """Placeholder values of the azure-prod estate, from its reference recording."""
    rec = reference_recording("azure-prod")
    out = rec.exports
    subscription = out["alert_topic"].split("/")[2]
    group_id = f"/subscriptions/{subscription}/resourceGroups/{out['resource_group_name']}"
    vault_host, _, key = out["kms_key_id"][len("https://") :].partition("/keys/")
    endpoint = rec.named(
        "mlops-serving-endpoint", "azure-native:machinelearningservices:OnlineEndpoint"
    )
    template = rec.named("mlops-serving-traffic", "azure-native:resources:Deployment")
    traffic = template.inputs["properties"]["template"]["resources"][0]["properties"]["traffic"]
    account = rec.named("mlops-artifacts-account", "azure-native:storage:StorageAccount")
    key_resource = rec.named("mlops-artifacts-key", "azure-native:keyvault:Key")
    values: dict[str, Any] = {
        "subscription": subscription,
        "group_id_prefix": group_id,
        "group_url": f"{ARM}{group_id}",
        "storage_account": out["storage_account_name"],
        "account_id": account.id,
        "cmk_identity": account.inputs["encryption"]["encryptionIdentity"][
            "encryptionUserAssignedIdentity"
        ],
        "vault": vault_host.split(".")[0],
        "key": key,
        "rotation_policy": key_resource.inputs["properties"]["rotationPolicy"],
        "base_tags": endpoint.inputs["tags"],
        "endpoint": out["endpoint_name"],
        "endpoint_id": endpoint.id,
        "endpoint_url": out["endpoint_url"],
        "traffic": {slot: int(pct) for slot, pct in traffic.items()},
    }
    values["deployments"] = [
        render(
            "azure",
            "online_deployment.json",
            {
                **values,
                "slot": d.inputs["deploymentName"],
                "tags": d.inputs["tags"],
                "model": d.inputs["properties"]["model"],
                "description": d.inputs["properties"]["description"],
            },
        )
        for d in rec.of_type("azure-native:machinelearningservices:OnlineDeployment")
    ]
    values["metric_alerts"] = [
        render(
            "azure",
            "metric_alert.json",
            {
                **values,
                "id": a.id,
                "name": _tail(a.id),
                "scopes": a.inputs["scopes"],
                "criteria": a.inputs["criteria"].get("allOf", []),
                "metric_actions": a.inputs.get("actions", []),
            },
        )
        for a in rec.of_type("azure-native:monitor:MetricAlert")
    ]
    values["query_rules"] = [
        render(
            "azure",
            "scheduled_query_rule.json",
            {
                **values,
                "id": r.id,
                "name": _tail(r.id),
                "scopes": r.inputs["scopes"],
                "criteria": r.inputs["criteria"]["allOf"],
                "action_groups": r.inputs["actions"]["actionGroups"],
            },
        )
        for r in rec.of_type("azure-native:monitor:ScheduledQueryRule")
    ]
    values["action_groups"] = [
        {
            **values,
            "group_id": g.id,
            "group_name": _tail(g.id),
            "short_name": g.inputs["groupShortName"],
            "email_receivers": [
                {**r, "useCommonAlertSchema": True, "status": "Enabled"}
                for r in g.inputs.get("emailReceivers", [])
            ],
            # The rollout function's receiver (its trigger URL, a secret, is not returned).
            "function_receivers": [
                {k: v for k, v in r.items() if k != "httpTriggerUrl"}
                for r in g.inputs.get("azureFunctionReceivers", [])
            ],
        }
        for g in rec.of_type("azure-native:monitor:ActionGroup")
    ]
    values["model_versions"] = [
        {
            "registry_id": out["registry_id"],
            "model_name": ref.name,
            "model_version": ref.version,
            "artifact_sha256": ref.artifact_sha256,
            "model_uri": ref.artifact_uri,
        }
        for ref in _served("azure-prod")
    ]
    return values


def _served(stack: str) -> list[Any]:
    """The stack file's served model versions (``serving.model``, ``previousModel``)."""
    from mlops_iac.cli import stackfile
    from tests.conftest import REPO

    serving = stackfile.load(REPO, stack).spec.serving
    return [ref for ref in (serving.model, serving.previous_model) if ref is not None]


def _revision_image(image: str, version: str) -> str:
    """The image the platform gives ``version``'s revision: by the digest the reference stack
    pins for it (``imageDigest``), else by the ``<name>:<version>`` tag."""
    from mlops_iac.cli import stackfile
    from tests.conftest import REPO

    serving = stackfile.load(REPO, "gcp-prod").spec.serving
    for ref in (serving.model, serving.previous_model):
        if ref is not None and ref.version == version and ref.image_digest:
            return image.split("@", 1)[0].rsplit(":", 1)[0] + f"@{ref.image_digest}"
    return image.split("@", 1)[0].rsplit(":", 1)[0] + f":{version}"


def gcp_values() -> dict[str, Any]:
    """Placeholder values of the gcp-prod estate, from its reference recording."""
    rec = reference_recording("gcp-prod")
    out = rec.exports
    project, region = rec.config["gcp:project"], rec.config["gcp:region"]
    service = rec.named("mlops-serving-service", "gcp:cloudrunv2/service:Service").inputs
    service_name = f"projects/{project}/locations/{region}/services/{service['name']}"
    registry_bucket = rec.named("mlops-registry-models", "gcp:storage/bucket:Bucket")
    artifact_key = rec.named("mlops-artifacts-key", "gcp:kms/cryptoKey:CryptoKey")
    assert artifact_key.id == out["kms_key_id"]
    traffic = [
        {k: (int(v) if k == "percent" else v) for k, v in entry.items()}
        for entry in service["traffics"]
    ]
    template = service["template"]
    container = template["containers"][0]
    values: dict[str, Any] = {
        "project": project,
        "region": region,
        "service_name": service_name,
        "artifact_bucket": out["artifact_bucket_name"],
        "model_bucket": out["model_bucket_name"],
        "kms_key": out["kms_key_id"],
        "model_kms_key": registry_bucket.inputs["encryption"]["defaultKmsKeyName"],
        # By name, never "the first of a type": the stack has several keys and alert policies
        # (the rollout's carry the model's labels too) and a recording's order is not theirs.
        "rotation_period": artifact_key.inputs["rotationPeriod"],
        "base_labels": rec.named(
            "mlops-monitoring-errors", "gcp:monitoring/alertPolicy:AlertPolicy"
        ).inputs["userLabels"],
        "labels": service["labels"],
        "endpoint_url": out["endpoint_url"],
        "current_revision": template["revision"],
        "traffic": traffic,
        "traffic_statuses": [
            {**entry, "uri": f"https://{entry['tag']}---{out['endpoint_url'][8:]}"}
            for entry in traffic
        ],
        "template": {
            "revision": template["revision"],
            "labels": template["labels"],
            "scaling": {k: int(v) for k, v in template["scaling"].items()},
            "serviceAccount": template["serviceAccount"],
            "encryptionKey": template["encryptionKey"],
            "containers": [{"image": container["image"], "env": container["envs"]}],
        },
    }
    policies = {p.outputs["name"]: p.inputs for p in rec.of_type(
        "gcp:monitoring/alertPolicy:AlertPolicy"
    )}  # fmt: skip
    values["alert_policies"] = [
        {
            **values,
            "policy": name,
            "display_name": inputs["displayName"],
            "filter": inputs["conditions"][0].get("conditionThreshold", {}).get("filter", ""),
            "channels": inputs["notificationChannels"],
        }
        for name, inputs in policies.items()
    ]
    values["channels"] = [
        {
            **values,
            "channel": c.outputs["name"],
            "type": c.inputs["type"],
            "display_name": c.inputs.get("displayName", c.name),
            "labels": c.inputs.get("labels", {}),
        }
        for c in rec.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    ]
    # One revision per version the stack serves: the current one as the template describes it,
    # the previous one as the same template built it for its own version.
    revisions = []
    for entry in traffic:
        version = entry["revision"].rsplit("-v", 1)[1]
        env = [
            {
                "name": e["name"],
                "value": e["value"].replace("/7/", f"/{version}/")
                if e["name"] == "MODEL_URI"
                else (version if e["name"] == "MODEL_VERSION" else e["value"]),
            }
            for e in container["envs"]
        ]
        revisions.append(
            {
                **values,
                "revision": entry["revision"],
                "version_uid": f"{int(version):012d}",
                "revision_labels": {**template["labels"], "mlops-model-version": version},
                "image": _revision_image(container["image"], version),
                "env": env,
                "service_account": template["serviceAccount"],
                "revision_key": template["encryptionKey"],
            }
        )
    values["revisions"] = revisions
    # The model bucket's objects of each served version (its artifactUri under the bucket).
    objects = []
    versions = []
    for ref in _served("gcp-prod"):
        prefix = ref.artifact_uri.lstrip("/")
        names = [f"{prefix}model.pkl", f"{prefix}MLmodel"]
        items = [
            {**values, "object": n, "object_query": quote(n, safe=""), "model_name": ref.name}
            for n in names
        ]
        objects += items
        versions.append(
            {
                **values,
                "prefix_query": quote(prefix, safe=""),
                "objects": [render("gcp", "model_object.json", i) for i in items],
            }
        )
    values["model_objects"] = objects
    values["model_versions"] = versions
    return values


class Recorded:
    """A replaying transport: ``sent`` logs every (method, url, body)."""

    def __init__(self, cloud: str, values: dict[str, Any]) -> None:
        self.cloud = cloud
        self.sent: list[tuple[str, str, Any]] = []
        self.answers: dict[tuple[str, str], Any] = {}
        self.docs: dict[tuple[str, str], str] = {}
        routes = yaml.safe_load((RECORDINGS / cloud / "routes.yaml").read_text())
        for route in routes:
            for item in values[route["each"]] if "each" in route else [values]:
                key = (route["method"], string.Template(route["url"]).substitute(item))
                self.answers[key] = render(cloud, route["file"], item)
                self.docs[key] = route["doc"]

    def answer(self, method: str, url: str) -> Any:
        """The recorded answer of a request, to edit in place (a drift)."""
        return self.answers[(method, url)]

    def find(self, method: str, suffix: str) -> Any:
        """The recorded answer whose URL ends with ``suffix`` (exactly one)."""
        keys = [k for k in self.answers if k[0] == method and k[1].split("?")[0].endswith(suffix)]
        assert len(keys) == 1, (suffix, keys)
        return self.answers[keys[0]]

    @property
    def writes(self) -> list[tuple[str, str, Any]]:
        return [sent for sent in self.sent if sent[0] != "GET"]

    def __call__(self, method: str, url: str, body: Any | None = None) -> Any:
        self.sent.append((method, url, copy.deepcopy(body)))
        answer = self.answers.get((method, url))
        if answer is None:
            raise ApiError(404, "NotFound", f"no recorded answer for {method} {url}")
        if isinstance(answer, ApiError):
            raise answer
        if method == "PUT" and self.cloud == "azure" and "/models/" in url:
            # Create-or-update of a model version: its tags are now the body's.
            current = self.answers[("GET", url)]
            current["properties"]["tags"] = copy.deepcopy(body["properties"]["tags"])
            return copy.deepcopy(current)
        if method == "PATCH" and self.cloud == "gcp" and "/o/" in url:
            # objects.patch: the metadata is replaced by the body's.
            answer["metadata"] = copy.deepcopy(body["metadata"])
            return copy.deepcopy(answer)
        if method == "PUT" and self.cloud == "azure":
            # Create-or-update: the endpoint is now what was sent (the traffic map included).
            current = self.answers[("GET", url)]
            current["properties"]["traffic"] = copy.deepcopy(body["properties"]["traffic"])
            return copy.deepcopy(current)
        if method == "PATCH" and self.cloud == "gcp":
            # updateMask=traffic: the declared traffic, and once routed its status, is the body's.
            current = self.answers[("GET", url.split("?")[0])]
            current["traffic"] = copy.deepcopy(body["traffic"])
            current["trafficStatuses"] = copy.deepcopy(body["traffic"])
        return copy.deepcopy(answer)
