"""What the dispatcher (``mlops_iac.plan.mocks``) and every per-cloud table share: the fake
account ids, the context an output hook receives and the provider auto-name. A per-cloud module
imports this module, never the dispatcher (which imports them)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNT_ID = "123456789012"
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
GCP_PROJECT = "mlops-offline"
GCP_PROJECT_NUMBER = "123456789"


@dataclass(frozen=True)
class MockContext:
    """What an output hook may use: the resource, its physical name and the stack config."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    physical_name: str
    config: Mapping[str, Any]

    @property
    def aws_region(self) -> str:
        return str(self.config.get("aws:region", "us-east-1"))

    @property
    def azure_location(self) -> str:
        return str(self.config.get("azure-native:location", "eastus"))

    @property
    def gcp_project(self) -> str:
        return str(self.config.get("gcp:project", GCP_PROJECT))

    @property
    def gcp_region(self) -> str:
        return str(self.config.get("gcp:region", "us-central1"))


OutputHook = Callable[[MockContext], dict[str, Any]]
InvokeHook = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


def physical_name(logical: str, *, length: int = 7) -> str:
    """pulumi-aws/pulumi-gcp auto-name: the logical name, a dash and a stable hex suffix."""
    digest = hashlib.sha1(logical.encode()).hexdigest()[:length]
    return f"{logical}-{digest}"


STACK_REFERENCE = "pulumi:pulumi:StackReference"
#: Config key whose object stands for the outputs of the stack's previous deployment.
PREVIOUS_OUTPUTS_KEY = "mlops-testing:previousOutputs"
#: Config key whose object answers the program's reads of live resources (``get…`` invokes):
#: type → name → properties, from the saved state (``deploy.live_resources``).
LIVE_RESOURCES_KEY = "mlops-testing:liveResources"


def live_resource(config: Mapping[str, Any], type_token: str, name: Any) -> dict[str, Any]:
    """The properties the live resource ``name`` of ``type_token`` answers a read with. Without a
    state (no ``LIVE_RESOURCES_KEY``) nothing is known and the answer is its name only; with one,
    a resource the state does not hold fails the read as the cloud does (``NotFound``)."""
    live = config.get(LIVE_RESOURCES_KEY)
    known = live.get(type_token) if isinstance(live, Mapping) else None
    if not isinstance(known, Mapping):
        return {"name": str(name)}
    found = known.get(str(name))
    if not isinstance(found, Mapping):
        raise LookupError(f"NotFound: {type_token} {name!s} is not in the state")
    return dict(found)
