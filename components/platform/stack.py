"""MlopsStack: one validated stack file in, the five components of one cloud out."""

from __future__ import annotations

import importlib
from typing import Any

import pulumi

from mlops_iac.components._component import component_opts
from mlops_iac.spec import clouds
from mlops_iac.spec.models import PlatformSpec

TYPE = "mlops:index:MlopsStack"


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
        # Translation of the spec into one cloud's component Args lives beside this module,
        # one per cloud (the registry names it), and is imported lazily: a stack for one cloud
        # never loads another cloud's SDK.
        builder = importlib.import_module(clouds.entry(spec.cloud).platform)
        self.exports = builder.build(self, name, spec)
        self.register_outputs(dict(self.exports))
