"""N teams' full AWS platforms in one program: the workload of ``python -m benchmarks.probe teams``.

Config: ``mlops:platform`` (one team's spec; each team gets it with its own project name) and
``bench:teams`` (how many teams). Like the root program it registers the lineage transform once,
so every resource takes the path a real plan takes.
"""

import pulumi

from mlops_iac.components.lineage import register_lineage_transform
from mlops_iac.components.platform.stack import MlopsStack
from mlops_iac.spec.parse import load_spec

spec = load_spec()
register_lineage_transform(spec)
for index in range(pulumi.Config("bench").require_int("teams")):
    name = f"team-{index:03d}"
    platform = MlopsStack(name, spec.model_copy(update={"project": name}))
    pulumi.export(name, platform.exports["dvc_remote_url"])
