"""The cloud registry: every place that enumerates the supported clouds reads it.

Data only (no Pulumi SDK, no component or rule behind it), so the components, the policy pack,
the CLI, the offline engine, the tools and the tests all read the same list. Adding a cloud is
one entry here plus the files ``docs/extending.md`` ("A cloud") names; ``tests/test_layout.py``
fails until each of them exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cloud = Literal["aws", "azure", "gcp"]
"""The name of a supported cloud, as the stack file's ``cloud`` spells it."""


@dataclass(frozen=True)
class CloudEntry:
    """What the rest of the toolkit needs to know about one cloud.

    Module paths are derived from the name (``mlops_iac.components.<name>``, the platform
    builder ``mlops_iac.components.platform.<name>``, the offline mocks
    ``mlops_iac.plan.mocks.<name>``), so a new cloud cannot be half-registered.
    """

    name: Cloud
    """Stack-file spelling and the components package's name (``aws``)."""
    title: str
    """How the docs write it (``AWS``)."""
    sdk: str
    """Import name of the Pulumi provider SDK (``pulumi_aws``)."""
    distribution: str
    """The SDK's distribution on PyPI (``pulumi-aws``)."""
    provider: str
    """The provider package in Pulumi type tokens (``azure-native`` in
    ``azure-native:storage:StorageAccount``)."""
    tag_input: str
    """The input most of the provider's resources carry free-form tags in (``tags``, GCP
    ``labels``)."""

    @property
    def extra(self) -> str:
        """The ``mlops-iac[<extra>]`` that installs the SDK: the cloud's name."""
        return self.name

    @property
    def components(self) -> str:
        """Module path of the cloud's components package."""
        return f"mlops_iac.components.{self.name}"

    @property
    def platform(self) -> str:
        """Module path of the cloud's platform builder (stack spec → component Args)."""
        return f"mlops_iac.components.platform.{self.name}"

    @property
    def mocks(self) -> str:
        """Module path of the cloud's offline mock tables."""
        return f"mlops_iac.plan.mocks.{self.name}"


REGISTRY: dict[str, CloudEntry] = {
    entry.name: entry
    for entry in (
        CloudEntry("aws", "AWS", "pulumi_aws", "pulumi-aws", "aws", "tags"),
        CloudEntry(
            "azure", "Azure", "pulumi_azure_native", "pulumi-azure-native", "azure-native", "tags"
        ),
        CloudEntry("gcp", "GCP", "pulumi_gcp", "pulumi-gcp", "gcp", "labels"),
    )
}
"""Cloud name → its entry, in the order the docs list them."""

NAMES: tuple[Cloud, ...] = tuple(REGISTRY)  # type: ignore[arg-type]
"""The supported clouds' names: ``("aws", "azure", "gcp")``."""

SDKS: dict[str, str] = {name: entry.sdk for name, entry in REGISTRY.items()}
"""Cloud name → provider SDK import name."""

BY_PROVIDER: dict[str, CloudEntry] = {entry.provider: entry for entry in REGISTRY.values()}
"""Pulumi provider package of a type token (``azure-native``) → its cloud's entry."""

PROVIDER_CLOUD: dict[str, str] = {entry.provider: entry.name for entry in REGISTRY.values()}
"""Pulumi provider package → cloud name (``{"aws": "aws", "azure-native": "azure", …}``)."""

COMPONENT_MODULES = (
    "artifact_store",
    "training_cluster",
    "model_registry",
    "serving_endpoint",
    "monitoring",
    "drift_job",
    "_defaults",
    "_common",
)
"""Modules every cloud's components package has (the contract's five components, the drift job,
the cloud's defaults and its shared helpers); ``tests/test_layout.py`` checks each cloud."""


def entry(name: str) -> CloudEntry:
    """The registry entry of ``name``; ``ValueError`` naming the valid choices otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown cloud {name!r}; valid choices: {', '.join(NAMES)}") from None
