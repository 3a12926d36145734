"""AWS preconditions of a plan: EC2 GPU vCPU quotas, SageMaker endpoint instances, Lambda
concurrency, buckets and objects named but not created, the GPU budget's cost allocation tag."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlops_iac.plan.preconditions import Precondition, get, number, of

SPOT_LIMITS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-limits.html"
ON_DEMAND_LIMITS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
INSTANCE_VCPUS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html"
SAGEMAKER_QUOTAS = "https://docs.aws.amazon.com/sagemaker/latest/dg/regions-quotas.html"
LAMBDA_CONCURRENCY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
ACCESS_LOGS = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"
)
MODEL_DATA = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html"
)
IMAGE_ACCESS = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-containers-inference-code.html"
)
MISSING_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"
COST_TAGS = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html"

# Service Quotas codes of the EC2 vCPU quotas by instance family and purchase option
# (service code ``ec2``; the names are the quotas' names in the Service Quotas console).
EC2_VCPU_QUOTAS: dict[tuple[str, str], tuple[str, str]] = {
    ("G", "SPOT"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("G", "ON_DEMAND"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("P", "SPOT"): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("P", "ON_DEMAND"): ("L-417A185B", "Running On-Demand P instances"),
}

# vCPUs of the GPU instance types the GPU catalogue (spec.gpu) offers, from the EC2 accelerated
# computing specifications page; another type's vCPUs are read live (ec2 DescribeInstanceTypes).
INSTANCE_TYPE_VCPUS: dict[str, int] = {
    "g4dn.xlarge": 4,
    "g4dn.2xlarge": 8,
    "g5.xlarge": 4,
    "g5.2xlarge": 8,
    "g6.xlarge": 4,
    "g6.2xlarge": 8,
    "p4d.24xlarge": 96,
    "p4de.24xlarge": 96,
    "p5.48xlarge": 192,
}

_FAMILY = re.compile(r"^(?P<family>[a-z]+)\d")


def gpu_family(instance_type: str) -> str | None:
    """``"G"`` for G and VT types, ``"P"`` for P types, ``None`` for others (not GPU quotas)."""
    match = _FAMILY.match(instance_type)
    family = match.group("family") if match else ""
    if family in ("g", "vt"):
        return "G"
    if family == "p":
        return "P"
    return None


def _region(config: Mapping[str, Any]) -> str | None:
    region = config.get("aws:region")
    return str(region) if region else None


def _physical(resource: Any, key: str) -> str | None:
    value = resource.inputs.get(key) or resource.outputs.get(key) or resource.id
    return str(value) if value else None


def gpu_quotas(resources: list[Any], region: str | None) -> list[Precondition]:
    """One vCPU quota per (family, purchase option), summed over the GPU node groups at max.

    A group with several instance types (spot) may launch any of them, so each group counts its
    largest type's vCPUs × max nodes.
    """
    # (group, its instance types with their vCPUs (None: read live), max nodes)
    needs: dict[tuple[str, str], list[tuple[str, list[tuple[str, int | None]], int]]] = {}
    for group in of(resources, "aws:eks/nodeGroup:NodeGroup"):
        types = [str(t) for t in group.inputs.get("instanceTypes") or []]
        nodes = number(get(group.inputs, "scalingConfig.maxSize")) or 0
        capacity = str(group.inputs.get("capacityType") or "ON_DEMAND")
        family = gpu_family(types[0]) if types else None  # a group's types share a family
        if family is None:
            continue
        sizes = [(t, INSTANCE_TYPE_VCPUS.get(t)) for t in types]
        needs.setdefault((family, capacity), []).append((group.name, sizes, nodes))
    found = []
    for (family, capacity), pools in sorted(needs.items()):
        code, name = EC2_VCPU_QUOTAS[(family, "SPOT" if capacity == "SPOT" else "ON_DEMAND")]
        known = all(v is not None for _, sizes, _ in pools for _, v in sizes)
        need = sum(nodes * max(v or 0 for _, v in sizes) for _, sizes, nodes in pools)
        described = ", ".join(
            f"{pool} {nodes} × "
            + ("the largest of " if len(sizes) > 1 else "")
            + ", ".join(
                f"{t} ({v} vCPUs)" if v is not None else f"{t} (vCPUs read live)" for t, v in sizes
            )
            for pool, sizes, nodes in pools
        )
        types = sorted({t for _, sizes, _ in pools for t, _ in sizes})
        found.append(
            Precondition(
                id=f"aws-ec2-quota-{code}",
                cloud="aws",
                what=f"EC2 quota '{name}' ({code}) in {region or 'the stack region'}: "
                + (f"at least {need} vCPUs" if known else "enough vCPUs")
                + " for the GPU node groups at max size",
                detail=f"{described}. Spot and On-Demand are separate quotas, both per region; "
                "new accounts often start at 0, and the autoscaler's launches fail until "
                "the quota is raised (the pods stay Pending).",
                source_url=SPOT_LIMITS if capacity == "SPOT" else ON_DEMAND_LIMITS,
                seen_by="preflight",
                check={
                    "kind": "aws-service-quota",
                    "serviceCode": "ec2",
                    "quotaCode": code,
                    "quotaName": name,
                    "region": region,
                    "need": need if known else None,
                    # Preflight counts each pool's largest type.
                    "instances": [
                        {"pool": pool, "instanceType": t, "count": n, "vcpus": v}
                        for pool, sizes, n in pools
                        for t, v in sizes
                    ],
                    "vcpuSource": INSTANCE_VCPUS,
                },
            )
        )
        found.append(
            Precondition(
                id=f"aws-ec2-capacity-{family.lower()}-{capacity.lower()}",
                cloud="aws",
                what=f"{'Spot' if capacity == 'SPOT' else 'On-Demand'} capacity for "
                f"{', '.join(types)} in {region or 'the region'}",
                detail="A quota is permission, not capacity: whether EC2 has the instances in "
                "the node groups' subnets' zones when the autoscaler asks is seen only then.",
                source_url=SPOT_LIMITS,
                seen_by="deploy-only",
            )
        )
    return found


def endpoint_quotas(resources: list[Any], region: str | None) -> list[Precondition]:
    """SageMaker '<type> for endpoint usage' at 2 × the variant's max instances (blue/green)."""
    max_by_endpoint: dict[str, int] = {}
    for target in of(resources, "aws:appautoscaling/target:Target"):
        if target.inputs.get("serviceNamespace") == "sagemaker":
            endpoint = str(target.inputs.get("resourceId", "")).split("/")[1:2]
            if endpoint:
                max_by_endpoint[endpoint[0]] = number(target.inputs.get("maxCapacity")) or 0
    fleet: dict[str, int] = {}
    configs = of(resources, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    # The largest fleet any one configuration asks for, per instance type: a rollout runs the
    # old and the new configuration's fleets side by side.
    for config in configs:
        for variant in config.inputs.get("productionVariants") or []:
            instance_type = variant.get("instanceType")
            if not instance_type:
                continue
            count = number(variant.get("initialInstanceCount")) or 0
            fleet[instance_type] = max(fleet.get(instance_type, 0), count)
    scaled_max = max(max_by_endpoint.values(), default=0)
    found = []
    for instance_type, count in sorted(fleet.items()):
        per_fleet = max(count, scaled_max)
        name = f"{instance_type} for endpoint usage"
        found.append(
            Precondition(
                id=f"aws-sagemaker-quota-{instance_type}",
                cloud="aws",
                what=f"SageMaker quota '{name}' in {region or 'the stack region'}: at least "
                f"{2 * per_fleet} instances (2 × {per_fleet})",
                detail=f"Each configuration starts at {count} and scales to {per_fleet} "
                "instances; a blue/green rollout runs the new fleet beside the old one, so "
                "every update needs twice the fleet. Most endpoint instance quotas are 0 on a "
                "new account.",
                source_url=SAGEMAKER_QUOTAS,
                seen_by="preflight",
                check={
                    "kind": "aws-service-quota",
                    "serviceCode": "sagemaker",
                    "quotaName": name,
                    "region": region,
                    "need": 2 * per_fleet,
                },
            )
        )
    return found


def lambda_concurrency(resources: list[Any], region: str | None) -> list[Precondition]:
    """Reserved concurrency leaves at least 100 unreserved: the account needs 100 + reserved."""
    reserved = {
        f.name: number(f.inputs.get("reservedConcurrentExecutions"))
        for f in of(resources, "aws:lambda/function:Function")
    }
    reserved = {name: n for name, n in reserved.items() if n is not None and n > 0}
    if not reserved:
        return []
    total = sum(n for n in reserved.values() if n is not None)
    named = ", ".join(f"{name} {n}" for name, n in sorted(reserved.items()))
    return [
        Precondition(
            id="aws-lambda-unreserved-concurrency",
            cloud="aws",
            what=f"Lambda unreserved concurrency in {region or 'the stack region'}: at least "
            f"{100 + total} (100 kept unreserved + {total} reserved by the stack)",
            detail=f"Reserved by the stack: {named}. A reservation must leave 100 unreserved; "
            "new accounts can start with a concurrency quota of 10 (quota L-B99A9384), and "
            "PutFunctionConcurrency then fails. Re-deploying a function that already holds its "
            "reservation needs only the 100.",
            source_url=LAMBDA_CONCURRENCY,
            seen_by="preflight",
            check={"kind": "aws-lambda-unreserved", "region": region, "need": 100 + total},
        )
    ]


def _stack_buckets(resources: list[Any]) -> set[str]:
    return {name for b in of(resources, "aws:s3/bucket:Bucket") if (name := _physical(b, "bucket"))}


def named_not_created(resources: list[Any], region: str | None) -> list[Precondition]:
    """The access-log bucket, model artifacts and images the stack uses but does not create."""
    own = _stack_buckets(resources)
    found = []
    targets = sorted(
        {
            str(t)
            for logging in of(resources, "aws:s3/bucketLogging:BucketLogging")
            if (t := logging.inputs.get("targetBucket")) and str(t) not in own
        }
    )
    for bucket in targets:
        found.append(
            Precondition(
                id=f"aws-s3-bucket-{bucket}",
                cloud="aws",
                what=f"S3 access-log bucket {bucket} exists in {region or 'the stack region'}",
                detail="Server access logs go to an existing bucket in the same account and "
                "region whose policy lets logging.s3.amazonaws.com write; the stack names it "
                "(artifacts.accessLogBucket) and does not create it. Preflight checks it exists "
                "and its region; the log-delivery policy is seen when logs arrive.",
                source_url=ACCESS_LOGS,
                seen_by="preflight",
                check={"kind": "aws-s3-bucket", "bucket": bucket, "region": region},
            )
        )
    uris: set[str] = set()
    images: set[str] = set()
    for model in of(resources, "aws:sagemaker/model:Model"):
        containers = [model.inputs.get("primaryContainer") or {}]
        containers += list(model.inputs.get("containers") or [])
        for container in containers:
            if uri := container.get("modelDataUrl"):
                uris.add(str(uri))
            if image := container.get("image"):
                images.add(str(image))
    for uri in sorted(uris):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or bucket in own:
            continue
        found.append(
            Precondition(
                id=f"aws-s3-object-{uri}",
                cloud="aws",
                what=f"model artifact {uri} exists",
                detail="The SageMaker model reads its artifact at creation; the stack does not "
                "create it (serving.model.artifactUri). The serving role's read access is seen "
                "only when the endpoint starts.",
                source_url=MODEL_DATA,
                seen_by="preflight",
                check={"kind": "aws-s3-object", "bucket": bucket, "key": key},
            )
        )
    repositories = {
        str(r.outputs.get("repositoryUrl") or "")
        for r in of(resources, "aws:ecr/repository:Repository")
    }
    for image in sorted(images):
        if any(repo and image.startswith(repo) for repo in repositories):
            continue
        found.append(
            Precondition(
                id=f"aws-image-{image}",
                cloud="aws",
                what=f"serving image {image} is pullable by SageMaker",
                detail="The image is outside the stack; whether SageMaker may pull it (another "
                "account's repository policy, the region) is seen when the endpoint is created.",
                source_url=IMAGE_ACCESS,
                seen_by="deploy-only",
            )
        )
    return found


def drift_baselines(resources: list[Any]) -> list[Precondition]:
    """The baseline each drift function reads (``DRIFT_BASELINE_URI``): nothing in the stack
    writes it, and without it every scheduled run fails."""
    found = []
    for function in of(resources, "aws:lambda/function:Function"):
        variables = get(function.inputs, "environment.variables") or {}
        uri = str(variables.get("DRIFT_BASELINE_URI") or "")
        if not uri.startswith("s3://"):
            continue
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        found.append(
            Precondition(
                id=f"aws-drift-baseline-{uri}",
                cloud="aws",
                what=f"drift baseline {uri} exists",
                detail=f"{function.name} reads it on every scheduled run; the stack does not "
                "create it. Once the first pulumi up has created the bucket, upload it with "
                "`mlops-iac drift baseline` before the first run, or each run fails and the "
                "drift-errors alarm pages.",
                source_url=MISSING_OBJECT,
                seen_by="preflight",
                check={
                    "kind": "aws-s3-object",
                    "bucket": bucket,
                    "key": key,
                    # Before the first deploy the bucket does not exist yet: not a failure.
                    "stackBucket": bucket in _stack_buckets(resources),
                },
            )
        )
    return found


def cost_allocation_tags(resources: list[Any]) -> list[Precondition]:
    """A budget filtered on ``user:<key>$<value>`` counts nothing until the tag is activated."""
    keys: set[str] = set()
    for budget in of(resources, "aws:budgets/budget:Budget"):
        for cost_filter in budget.inputs.get("costFilters") or []:
            if cost_filter.get("name") != "TagKeyValue":
                continue
            for value in cost_filter.get("values") or []:
                tag = str(value).partition("$")[0]
                if tag.startswith("user:"):
                    keys.add(tag.removeprefix("user:"))
    return [
        Precondition(
            id=f"aws-cost-allocation-tag-{key}",
            cloud="aws",
            what=f"cost allocation tag {key} is active",
            detail="The GPU budget filters on this user-defined tag; until it is activated in "
            "the management (payer) account, the budget sees no cost and never alerts. A tag "
            "can be activated only after it has appeared on a resource (up to 24 hours).",
            source_url=COST_TAGS,
            seen_by="preflight",
            check={"kind": "aws-cost-allocation-tag", "tagKey": key},
        )
        for key in sorted(keys)
    ]


def derive(resources: list[Any], config: Mapping[str, Any]) -> list[Precondition]:
    """Every AWS precondition of the recorded resources."""
    region = _region(config)
    return [
        *gpu_quotas(resources, region),
        *endpoint_quotas(resources, region),
        *lambda_concurrency(resources, region),
        *named_not_created(resources, region),
        *drift_baselines(resources),
        *cost_allocation_tags(resources),
    ]
