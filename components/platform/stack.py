"""MlopsStack: one validated stack file in, the five components of one cloud out."""

from __future__ import annotations

import importlib
from typing import Any

import pulumi

from mlops_iac.components._component import component_opts
from mlops_iac.spec.models import PlatformSpec

TYPE = "mlops:index:MlopsStack"

# Translation of the spec into one cloud's component Args lives beside this module, one per
# cloud, and is imported lazily: a stack for one cloud never loads another cloud's SDK.
_BUILDERS = {
    "aws": "mlops_iac.components.platform.aws",
    "azure": "mlops_iac.components.platform.azure",
    "gcp": "mlops_iac.components.platform.gcp",
}


class MlopsStack(pulumi.ComponentResource):
    """The platform of one stack file: artifact store, training, registry, serving, monitoring.

    ``exports`` maps the stack output names a team needs (``dvc_remote_url``, ``endpoint_name``,
    ``image_repository_url``, ``dashboard_url`` …) to their values; the root program exports them.
    """

    exports: dict[str, Any]

    def __init__(
        self, name: str, spec: PlatformSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, component_opts(opts))
        builder = importlib.import_module(_BUILDERS[spec.cloud])
        self.exports = builder.build(self, name, spec)
        self.register_outputs(dict(self.exports))
