"""A GPU pool whose node type has no price: plan names it instead of failing on the summary."""

from __future__ import annotations

import textwrap

PROGRAM = """
import pulumi_aws as aws

aws.eks.NodeGroup(
    "big-gpu",
    cluster_name="team-cluster",
    node_role_arn="arn:aws:iam::123456789012:role/nodes",
    subnet_ids=["subnet-0123"],
    instance_types=["g99.xlarge"],
    scaling_config={"desired_size": 0, "min_size": 0, "max_size": 2},
)
"""

STACK = """
config:
  aws:region: us-east-1
"""


def test_an_unpriced_pool_is_named_by_its_node_type(cli, tmp_path) -> None:
    program = tmp_path / "team"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (program / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (program / "Pulumi.staging.yaml").write_text(textwrap.dedent(STACK))
    cli("plan", "-s", "staging", "--project", program, "--no-color")
    assert "Traceback" not in cli.err, cli.err
    assert "(unpriced pools: g99.xlarge)" in cli.out, cli.out + cli.err
