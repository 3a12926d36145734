"""Mocks that answer like the clouds do: realistic ids, names, ARNs, URLs and key ids.

A missing output silently drops the inputs that depend on it, so every resource gets
the outputs real providers return: an auto-generated physical name, an id, an ARN on AWS, an ARM id
on Azure, a self link on GCP, plus per-type outputs (``keyId``, ``repositoryUrl``, ``endpoint`` …).
Per-cloud tables live in ``aws``, ``azure``, ``gcp`` and ``kubernetes``, what they share in
``base``; this module only dispatches. None of them imports a provider SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from mlops_iac.plan.deploy import naming
from mlops_iac.plan.mocks import aws, azure, gcp, kubernetes
from mlops_iac.plan.mocks.base import (
    ACCOUNT_ID,
    GCP_PROJECT,
    GCP_PROJECT_NUMBER,
    LIVE_RESOURCES_KEY,
    PREVIOUS_OUTPUTS_KEY,
    STACK_REFERENCE,
    SUBSCRIPTION_ID,
    TENANT_ID,
    InvokeHook,
    MockContext,
    OutputHook,
    physical_name,
)
from mlops_iac.spec import clouds

_CLOUD_MOCKS = {"aws": aws, "azure": azure, "gcp": gcp}

__all__ = [
    "ACCOUNT_ID",
    "GCP_PROJECT",
    "GCP_PROJECT_NUMBER",
    "LIVE_RESOURCES_KEY",
    "PREVIOUS_OUTPUTS_KEY",
    "STACK_REFERENCE",
    "SUBSCRIPTION_ID",
    "TENANT_ID",
    "InvokeHook",
    "MockContext",
    "OutputHook",
    "RealisticMocks",
    "physical_name",
]


class RealisticMocks(Mocks):
    """Mocks for the three providers; unknown types still get id/name/urn-derived outputs."""

    def __init__(
        self,
        *,
        project: str = "project",
        stack: str = "test",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.project = project
        self.stack = stack
        self.config = dict(config or {})
        self.unmocked_invokes: list[str] = []
        # Type-token provider -> that cloud's mocks (the cloud registry), plus Kubernetes.
        self._clouds = {
            **{provider: _CLOUD_MOCKS[name] for provider, name in clouds.PROVIDER_CLOUD.items()},
            "kubernetes": kubernetes,
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

    def call(  # type: ignore[override]
        self, args: MockCallArgs
    ) -> dict | tuple[dict, list[tuple[str, str]]]:
        package = args.token.split(":", 1)[0]
        cloud = self._clouds.get(package)
        hook = cloud.INVOKES.get(args.token) if cloud is not None else None
        if hook is None:
            self.unmocked_invokes.append(args.token)
            return {}
        try:
            return hook(dict(args.args), self.config)
        except LookupError as exc:
            # The way a provider fails an invoke: the SDK raises "invoke of … failed: …".
            return {}, [("", str(exc))]
