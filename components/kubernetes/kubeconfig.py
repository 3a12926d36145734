"""Kubeconfigs built in code from a cluster's outputs: exec credentials, nothing on disk.

EKS: ``aws eks get-token`` (the AWS CLI, which must be on PATH wherever the kubeconfig is used,
``pulumi up`` included) mints a short-lived token for an IAM identity
(https://docs.aws.amazon.com/eks/latest/userguide/create-kubeconfig.html). It is given the
profile and role the stack's AWS provider uses (``--profile``, ``--role-arn``), so the Kubernetes
calls authenticate as the identity that created the cluster and its access entries. GKE:
``gke-gcloud-auth-plugin`` does the same for the caller's Google identity
(https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl). The token
is never stored in state: the provider runs the command on every operation.
"""

from __future__ import annotations

import json

import pulumi

EXEC_API = "client.authentication.k8s.io/v1beta1"


AWS_CLI_HINT = (
    "Install the AWS CLI v2 (aws eks get-token): "
    "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
)


def _document(name: str, cluster: dict[str, str], command: str, args: list[str]) -> str:
    user: dict[str, object] = {"apiVersion": EXEC_API, "command": command, "args": args}
    if command == "aws":
        user["installHint"] = AWS_CLI_HINT
    if command == "gke-gcloud-auth-plugin":
        user["provideClusterInfo"] = True
        user["installHint"] = "Install gke-gcloud-auth-plugin: gcloud components install ..."
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": name, "user": {"exec": user}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        },
        sort_keys=True,
    )


def eks(
    cluster_name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    ca_data: pulumi.Input[str],
    region: pulumi.Input[str],
    *,
    profile: str | None = None,
    role_arn: str | None = None,
) -> pulumi.Output[str]:
    """Kubeconfig of an EKS cluster; the token comes from ``aws eks get-token``, run with
    ``profile`` and ``role_arn`` when given (default: the caller's credential chain)."""
    identity = (["--profile", profile] if profile else []) + (
        ["--role-arn", role_arn] if role_arn else []
    )
    return pulumi.Output.all(cluster_name, endpoint, ca_data, region).apply(
        lambda v: _document(
            str(v[0]),
            {"server": str(v[1]), "certificate-authority-data": str(v[2])},
            "aws",
            ["--region", str(v[3]), "eks", "get-token", "--cluster-name", str(v[0])]
            + ["--output", "json", *identity],
        )
    )


def gke(
    cluster_name: pulumi.Input[str],
    server: pulumi.Input[str],
    ca_data: pulumi.Input[str] | None,
) -> pulumi.Output[str]:
    """Kubeconfig of a GKE cluster. ``server`` is ``https://…``; with the DNS endpoint the
    certificate is publicly trusted, so ``ca_data`` is None."""

    def render(values: list[object]) -> str:
        cluster = {"server": str(values[1])}
        if values[2]:
            cluster["certificate-authority-data"] = str(values[2])
        return _document(str(values[0]), cluster, "gke-gcloud-auth-plugin", [])

    return pulumi.Output.all(cluster_name, server, ca_data).apply(render)
