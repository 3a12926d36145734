"""The Kubernetes side of ``TrainingCluster`` on EKS and GKE, managed with ``pulumi-kubernetes``.

- ``charts``: the Helm charts, pinned by repository and version, with the pages that document them.
- ``labels``: lineage tags as Kubernetes labels (DNS-1123 names, 63-character values).
- ``kubeconfig``: a kubeconfig built in code from a cluster's outputs (exec credentials, no file).
- ``addons``: the provider, namespaces, workload service account and Helm releases under a cluster.
- ``smoke``: the two-worker PyTorch DDP smoke job generated from a stack's outputs.

Only ``addons`` imports ``pulumi_kubernetes``; the other modules are plain Python, so the CLI and
the policy tests can use them without the SDK.
"""
