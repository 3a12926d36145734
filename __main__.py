"""The platform program: the stack file's ``mlops:platform`` object in, one cloud's platform out."""

import pulumi

from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.platform.stack import MlopsStack
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import load_spec

try:
    spec = load_spec()
except SpecError as exc:
    # RunError makes the CLI print the key-path messages without a Python traceback.
    raise pulumi.RunError(f"invalid stack file:\n{exc}") from None

register_lineage_transform(spec)
platform = MlopsStack("mlops", spec)
for name, value in platform.exports.items():
    pulumi.export(name, value)
