"""Mocks that answer like the clouds do: realistic ids, names, ARNs, URLs and key ids.

A missing output silently drops the inputs that depend on it, so every resource gets
the outputs real providers return: an auto-generated physical name, an id, an ARN on AWS, an ARM id
on Azure, a self link on GCP, plus per-type outputs (``keyId``, ``repositoryUrl``, ``endpoint`` …).
Per-cloud tables live in ``mocks_aws``, ``mocks_azure`` and ``mocks_gcp``; this module only
dispatches. None of them imports a provider SDK.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from mlops_iac.components.testing.deploy import naming

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


class RealisticMocks(Mocks):
    """Mocks for the three providers; unknown types still get id/name/urn-derived outputs."""

    def __init__(
        self,
        *,
        project: str = "project",
        stack: str = "test",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        from mlops_iac.components.testing import mocks_aws, mocks_azure, mocks_gcp, mocks_kubernetes

        self.project = project
        self.stack = stack
        self.config = dict(config or {})
        self.unmocked_invokes: list[str] = []
        self._clouds = {
            "aws": mocks_aws,
            "azure-native": mocks_azure,
            "gcp": mocks_gcp,
            "kubernetes": mocks_kubernetes,
        }

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        # Reads (a stack reference is one) arrive without the custom flag.
        if args.typ == STACK_REFERENCE:
            # A stack reference reads a deployment's outputs: the stack's config may hold them
            # under PREVIOUS_OUTPUTS_KEY (as `pulumi stack output --json` prints them), so a
            # test or an offline plan can check a transition from a known deployment.
            previous = self.config.get(PREVIOUS_OUTPUTS_KEY) or {}
            return str(inputs.get("name") or args.name), {
                "name": inputs.get("name"),
                "outputs": dict(previous),
                "secretOutputNames": [],
            }
        if not args.custom:
            return None, inputs
        package = args.typ.split(":", 1)[0]
        cloud = self._clouds.get(package)
        # The provider's own auto-name (azure-native: no dash), never sanitised.
        name = naming.physical_name(args.typ, args.name, inputs, None)
        context = MockContext(args.typ, args.name, inputs, name, self.config)
        outputs: dict[str, Any] = {**inputs}
        if cloud is not None:
            outputs.update(cloud.outputs(context))
        # The physical id is the engine's, not a property: hooks hand it over under "__id".
        resource_id = str(outputs.pop("__id", None) or f"{name}-id")
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> dict:  # type: ignore[override]
        package = args.token.split(":", 1)[0]
        cloud = self._clouds.get(package)
        hook = cloud.INVOKES.get(args.token) if cloud is not None else None
        if hook is None:
            self.unmocked_invokes.append(args.token)
            return {}
        return hook(dict(args.args), self.config)
