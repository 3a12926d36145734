"""The model card on the Azure or GCP registry entry of an approved model version.

``approve --registry-entry --outputs F`` reads the entry before anything is signed (a missing
entry, or one of another version, refuses) and writes the card's records onto it after the
approval is written:

- Azure: the AzureML registry model version's ``tags`` (create-or-update of the version with the
  body it was read with; ``properties`` are immutable and left as read, since
  ``mlops-artifact-sha256`` there is the training pipeline's evidence).
- GCP: the custom ``metadata`` of each object under the model's prefix in the model bucket
  (``gs://<model_bucket>/<artifactUri>``), the registry entry the platform serves from
  (``MODEL_URI``); a metadata-only ``objects.patch`` keeps the object's bytes (and its
  retention) as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from mlops_iac.cli import OpsError
from mlops_iac.cli.checks import need
from mlops_iac.cli.cloudrest import ARM, ApiError, Transport, refused
from mlops_iac.cli.outputs import Outputs

# https://learn.microsoft.com/rest/api/azureml/registry-model-versions/get and
# https://learn.microsoft.com/rest/api/azureml/registry-model-versions/create-or-update
ML_API = "2024-04-01"
# https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations:
# a tag name up to 512 characters, a value up to 256 (applied to the asset's tags as well).
TAG_NAME_MAX = 512
TAG_VALUE_MAX = 256
# https://cloud.google.com/storage/docs/metadata#custom-metadata: the custom metadata of an
# object counts toward an 8 KiB limit (keys and values together).
GCS_METADATA_MAX = 8192
STORAGE = "https://storage.googleapis.com/storage/v1"
CARD = "mlops-model-card"


def card_records(spec: Any, entry: dict[str, Any], intended_use: str) -> dict[str, str]:
    """The card's records as flat strings: path, digest, owner, intended use, training data
    version, metrics as ``name=value;...``, each value cut to ``TAG_VALUE_MAX``."""
    found = {
        f"{CARD}-sha256": str(entry["modelCardSha256"]),
        CARD: str(entry["modelCard"]),
        "mlops-owner": spec.owner or "",
        "mlops-intended-use": intended_use,
        "mlops-dataset-version": str(spec.lineage.dataset_version),
        "mlops-metrics": ";".join(f"{k}={v!r}" for k, v in (entry.get("metrics") or {}).items()),
    }
    return {k[:TAG_NAME_MAX]: v[:TAG_VALUE_MAX] for k, v in found.items() if v}


@dataclass
class Entry:
    """A registry entry read before signing: where to write, and what was read."""

    cloud: str
    name: str
    urls: list[str]
    read: list[dict[str, Any]] = field(default_factory=list)


def _read(transport: Transport, url: str, what: str) -> dict[str, Any]:
    try:
        answer = transport("GET", url)
    except ApiError as exc:
        raise refused(f"registry entry {what} cannot be read", exc) from None
    return answer if isinstance(answer, dict) else {}


def read_entry(
    cloud: str, transport: Transport, outputs: Outputs, model: Any, name: str, version: str
) -> Entry:
    """The registry entry of ``name`` version ``version``; ``OpsError`` (exit 2) when it does
    not exist or is another version. ``model`` is the stack file's ref of it (``None``: the
    version is not served, GCP then takes ``<name>/<version>/``)."""
    if cloud == "azure":
        registry_id = need(outputs, "registry_id", "to find the registry model version")
        url = f"{ARM}{registry_id}/models/{name}/versions/{version}?api-version={ML_API}"
        shown = f"{name} version {version} in registry {registry_id.rsplit('/', 1)[-1]}"
        body = _read(transport, url, shown)
        if str(body.get("name")) != version or f"/models/{name}/" not in str(body.get("id")):
            raise OpsError(f"registry entry {shown} is {body.get('id')!r}, not that version")
        return Entry(cloud, shown, [url], [body])
    bucket = need(outputs, "model_bucket_name", "to find the model's objects")
    uri = model.artifact_uri if model is not None else f"{name}/{version}/"
    prefix = uri.removeprefix(f"gs://{bucket}/").lstrip("/")
    if uri.startswith("gs://") and not uri.startswith(f"gs://{bucket}/"):
        raise OpsError(f"{name} v{version}'s artifactUri {uri} is not in model bucket {bucket}")
    if f"/{version}/" not in f"/{prefix}":
        raise OpsError(f"{name} v{version}'s objects gs://{bucket}/{prefix} are not that version")
    shown = f"gs://{bucket}/{prefix}"
    listing = _read(transport, f"{STORAGE}/b/{bucket}/o?prefix={quote(prefix, safe='')}", shown)
    items = [i for i in listing.get("items") or [] if str(i.get("name", "")).startswith(prefix)]
    if not items:
        raise OpsError(f"registry entry {shown} does not exist (no objects under it)")
    urls = [f"{STORAGE}/b/{bucket}/o/{quote(str(i['name']), safe='')}" for i in items]
    return Entry(cloud, shown, urls, items)


def write_card(entry: Entry, transport: Transport, records: dict[str, str]) -> None:
    """Put ``records`` on the entry read by ``read_entry`` (tags on Azure, object metadata on
    GCP), keeping what else it carries."""
    if entry.cloud == "azure":
        body = entry.read[0]
        props = dict(body.get("properties") or {})
        props["tags"] = {**(props.get("tags") or {}), **records}
        transport("PUT", entry.urls[0], {"properties": props})
        return
    patches = []
    for url, item in zip(entry.urls, entry.read, strict=True):
        metadata = {**(item.get("metadata") or {}), **records}
        size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
        if size > GCS_METADATA_MAX:
            raise OpsError(
                f"{item['name']}'s custom metadata would exceed {GCS_METADATA_MAX} bytes"
            )
        patches.append((url, metadata))
    # Checked for every object first: none is patched when one would not fit.
    for url, metadata in patches:
        transport("PATCH", url, {"metadata": metadata})
