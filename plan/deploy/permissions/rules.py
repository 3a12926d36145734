"""Plan-time proof that shipped code can make its calls: for each function or container in the
plan whose code (or settings) has a manifest (``mlops_iac.drift.calls``), every call is
evaluated against the grants the plan records for the identity it runs as, and every setting
the code needs must be set. A call no grant allows, or a setting the plan does not give, is a
deploy error naming the call (or setting), the identity and the handler.

Registered as lifecycle rules (``lifecycle.base.RULES``), so ``plan``, ``recording.deploy_errors``
and the ``offline`` fixture report them like every other deploy constraint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlops_iac.drift import calls as manifests
from mlops_iac.drift.calls import Call, Manifest
from mlops_iac.plan.deploy.base import DeployError, error
from mlops_iac.plan.deploy.lifecycle.base import get, of, rule
from mlops_iac.plan.deploy.permissions import aws as aws_iam
from mlops_iac.plan.deploy.permissions import azure as azure_rbac
from mlops_iac.plan.deploy.permissions import gcp as gcp_iam
from mlops_iac.plan.deploy.state import StateResource

LAMBDA_ENV = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html"
AZURE_APP_SETTINGS = "https://learn.microsoft.com/azure/azure-functions/functions-app-settings"
S3_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
GCP_FUNCTION_ENV = "https://cloud.google.com/functions/docs/configuring/env-var"


@dataclass(frozen=True)
class Handler:
    """One piece of shipped code found in the plan, with what it runs as."""

    resource: Any
    manifest: Manifest
    identity: str
    identity_input: str
    settings_input: str
    display: str = ""
    """How the error names the identity, when ``identity`` alone does not say (Azure)."""


def _text_assets(archive: Any) -> str:
    """The inline text files of an asset archive: the entry modules that import the handler."""
    assets = archive.get("assets") if isinstance(archive, Mapping) else None
    if not isinstance(assets, Mapping):
        return ""
    return "\n".join(
        str(asset["text"])
        for asset in assets.values()
        if isinstance(asset, Mapping) and isinstance(asset.get("text"), str)
    )


def _settings_error(handler: Handler, rule_id: str, source: str) -> Iterator[DeployError]:
    for name in handler.manifest.missing:
        yield error(
            handler.resource,
            rule_id,
            handler.settings_input,
            name,
            f"{handler.manifest.handler} reads {name}, which this plan does not set: the code "
            "fails before it makes a call; set it in the deployment's settings",
            source,
        )


def _denied(handler: Handler, rule_id: str, call: Call, why: str) -> DeployError:
    return error(
        handler.resource,
        rule_id,
        handler.identity_input,
        handler.identity,
        f"{handler.manifest.handler} calls {call} ({call.why}) as "
        f"{handler.display or handler.identity}, and "
        f"{why}; grant it in the plan",
        call.source,
    )


def _out(resource: Any, key: str) -> Any:
    """An output of a recorded resource (``None`` where a plan records no outputs)."""
    outputs = getattr(resource, "outputs", None)
    return outputs.get(key) if isinstance(outputs, Mapping) else None


def _id(resource: Any) -> str:
    return str(getattr(resource, "id", None) or "")


def _calls_of(handler: Handler, calls: Mapping[str, Sequence[Call]] | None) -> Sequence[Call]:
    if calls is not None and handler.resource.name in calls:
        return calls[handler.resource.name]
    return handler.manifest.calls


# AWS ----------------------------------------------------------------------------------------


def _aws_handlers(resources: list[Any]) -> Iterator[Handler]:
    for function in of(resources, "aws:lambda/function:Function"):
        module = str(function.inputs.get("handler") or "").rsplit(".", 1)[0]
        assets = get(function.inputs, "code.assets") or {}
        entry = (
            assets.get(f"{module.replace('.', '/')}.py") if isinstance(assets, Mapping) else None
        )
        text = entry.get("text") if isinstance(entry, Mapping) else None
        env = get(function.inputs, "environment.variables") or {}
        manifest = manifests.manifest_of(str(text or ""), {k: str(v) for k, v in env.items()})
        if manifest is not None:
            role = str(function.inputs.get("role") or "")
            yield Handler(function, manifest, role, "role", "environment.variables")
    for model in of(resources, "aws:sagemaker/model:Model"):
        containers = [model.inputs.get("primaryContainer")] + list(
            model.inputs.get("containers") or []
        )
        role = str(model.inputs.get("executionRoleArn") or "")
        for container in containers:
            url = container.get("modelDataUrl") if isinstance(container, Mapping) else None
            if url:
                manifest = manifests.s3_model_data({"ModelDataUrl": str(url)})
                yield Handler(model, manifest, role, "executionRoleArn", "primaryContainer")
    yield from _aws_smoke_job(resources)
    roles = {
        str(_out(m, "name") or _id(m)): str(m.inputs.get("executionRoleArn") or "")
        for m in of(resources, "aws:sagemaker/model:Model")
    }
    token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    for config in of(resources, token):
        capture = config.inputs.get("dataCaptureConfig") or {}
        if not capture.get("destinationS3Uri") or capture.get("enableCapture") is False:
            continue
        settings = {"DestinationS3Uri": str(capture["destinationS3Uri"])}
        if capture.get("kmsKeyId"):
            settings["KmsKeyId"] = str(capture["kmsKeyId"])
        for variant in config.inputs.get("productionVariants") or []:
            role = roles.get(str(variant.get("modelName")), "")
            if role:
                yield Handler(
                    config, manifests.s3_data_capture(settings), role,
                    "productionVariants[].modelName", "dataCaptureConfig",
                )  # fmt: skip


# The training smoke job (``train-smoke``) runs as the trainer service account of the training
# namespace and writes under the artifact store's ``checkpoints/smoke/``; it reads the DVC remote
# (``dvc/``, the store's default data prefix). Its job is generated from the stack's outputs, so
# it is checked only where the plan holds the training cluster (a deferred cluster: quiet).
_TRAINER = ("mlops-training", "trainer")
# Any job name (``train-smoke --name``): ``*`` in a manifest stands for any text.
_SMOKE_CHECKPOINT = "checkpoints/smoke/*/model.pt"


def _artifact_bucket(resources: list[Any], token: str, output: str) -> str:
    names = [
        str(_out(b, output) or b.inputs.get(output) or "")
        for b in of(resources, token)
        if b.name.endswith("-artifacts-bucket")
    ]
    return names[0] if len(names) == 1 else ""


def _aws_smoke_job(resources: list[Any]) -> Iterator[Handler]:
    bucket = _artifact_bucket(resources, "aws:s3/bucket:Bucket", "bucket")
    for link in of(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation"):
        who = (str(link.inputs.get("namespace")), str(link.inputs.get("serviceAccount")))
        if who != _TRAINER or not bucket:
            continue
        env = {"DATA_URI": f"s3://{bucket}/dvc", "LINEAGE": "{}",
               "CHECKPOINT_URI": f"s3://{bucket}/{_SMOKE_CHECKPOINT}"}  # fmt: skip
        key = _aws_grants(resources).bucket_keys.get(bucket)
        if key:
            env["KMS_KEY_ID"] = key
        role = str(link.inputs.get("roleArn") or "")
        yield Handler(link, manifests.smoke_job(env), role, "roleArn", "namespace")


@dataclass
class _AwsGrants:
    identity: dict[str, list[Any]]
    """Role name → its policy documents (inline and attached customer-managed)."""
    unknown: dict[str, list[str]]
    """Role name → attached policies the plan does not hold (AWS managed)."""
    bucket_policies: dict[str, Any]
    bucket_keys: dict[str, str]
    key_policies: dict[str, Any]


def _aws_grants(resources: list[Any]) -> _AwsGrants:
    grants = _AwsGrants({}, {}, {}, {}, {})
    managed = {
        str(_out(p, "arn")): p.inputs.get("policy") for p in of(resources, "aws:iam/policy:Policy")
    }
    for role in of(resources, "aws:iam/role:Role"):
        name = str(_out(role, "name") or _id(role))
        for inline in role.inputs.get("inlinePolicies") or []:
            if isinstance(inline, Mapping) and inline.get("policy"):
                grants.identity.setdefault(name, []).append(inline["policy"])
    for policy in of(resources, "aws:iam/rolePolicy:RolePolicy"):
        grants.identity.setdefault(str(policy.inputs.get("role")), []).append(
            policy.inputs["policy"]
        )
    for attachment in of(resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role, arn = str(attachment.inputs.get("role")), str(attachment.inputs.get("policyArn"))
        if arn in managed:
            grants.identity.setdefault(role, []).append(managed[arn])
        else:
            grants.unknown.setdefault(role, []).append(arn)
    for policy in of(resources, "aws:s3/bucketPolicy:BucketPolicy"):
        grants.bucket_policies[str(policy.inputs.get("bucket"))] = policy.inputs.get("policy")
    sse = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    for config in of(resources, sse):
        for item in config.inputs.get("rules") or []:
            key = get(item, "applyServerSideEncryptionByDefault.kmsMasterKeyId")
            if key:
                grants.bucket_keys[str(config.inputs.get("bucket"))] = str(key)
    for key in of(resources, "aws:kms/key:Key"):
        grants.key_policies[str(_out(key, "arn"))] = key.inputs.get("policy")
    return grants


def aws_denials(
    resources: list[Any], calls: Mapping[str, Sequence[Call]] | None = None
) -> Iterator[tuple[Handler, Call, str]]:
    """Each (handler, call, reason) the plan's grants do not allow; ``calls`` (resource name →
    calls) replaces a handler's manifest, e.g. by the calls a test recorded."""
    grants = _aws_grants(resources)
    for handler in _aws_handlers(resources):
        role = handler.identity.rsplit("/", 1)[-1]
        identity = grants.identity.get(role, [])
        for declared in _calls_of(handler, calls):
            call = declared.sample()
            context = {"aws:SecureTransport": "true", **dict(call.attributes)}
            request = aws_iam.Request(handler.identity, call.action, call.resource, context)
            bucket = ""
            if call.resource.startswith("arn:aws:s3:::"):
                bucket = call.resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            if call.action.startswith("kms:"):
                key_policy = grants.key_policies.get(call.resource)
                decision, sid = aws_iam.evaluate_kms(request, identity, key_policy)
            else:
                decision, sid = aws_iam.evaluate_with_resource_policy(
                    request, identity, grants.bucket_policies.get(bucket)
                )
            if decision != "allow":
                reason = (
                    f"statement {sid!r} denies it" if decision == "deny"
                    else "no statement of its policies (or the bucket's) allows it"
                )  # fmt: skip
                if grants.unknown.get(role):
                    reason += (
                        f" (managed policies not evaluated: {', '.join(grants.unknown[role])})"
                    )
                yield handler, declared, reason
                continue
            key = grants.bucket_keys.get(bucket)
            kms_action = {"s3:GetObject": "kms:Decrypt", "s3:PutObject": "kms:GenerateDataKey"}
            if key and call.action in kms_action:
                kms = aws_iam.Request(
                    handler.identity, kms_action[call.action], key,
                    {"kms:ViaService": "s3.amazonaws.com"},
                )  # fmt: skip
                decision, sid = aws_iam.evaluate_kms(kms, identity, grants.key_policies.get(key))
                if decision != "allow":
                    why = f"the bucket's key, for {call.action}"
                    kms_call = Call(kms.action, key, why, S3_KMS)
                    yield (
                        handler,
                        kms_call,
                        "neither the key policy nor its identity policies allow it",
                    )


# Azure --------------------------------------------------------------------------------------


def _azure_handlers(resources: list[Any]) -> Iterator[Handler]:
    blobs = {
        (str(b.inputs.get("accountName")), str(b.inputs.get("containerName")),
         str(b.inputs.get("blobName"))): b
        for b in of(resources, "azure-native:storage:Blob")
    }  # fmt: skip
    principals = {
        _id(i).lower(): str(_out(i, "principalId") or "")
        for i in of(resources, "azure-native:managedidentity:UserAssignedIdentity")
    }
    yield from _azure_smoke_job(resources, principals)
    for app in of(resources, "azure-native:web:WebApp"):
        settings = {
            str(s.get("name")): str(s.get("value"))
            for s in get(app.inputs, "siteConfig.appSettings") or []
            if isinstance(s, Mapping)
        }
        package = settings.get("WEBSITE_RUN_FROM_PACKAGE", "")
        from urllib.parse import urlsplit

        parts = urlsplit(package)
        account = (parts.hostname or "").split(".", 1)[0]
        container, _, blob_name = parts.path.strip("/").partition("/")
        blob = blobs.get((account, container, blob_name))
        text = _text_assets(blob.inputs.get("source")) if blob is not None else ""
        manifest = manifests.manifest_of(text, settings)
        if manifest is None:
            continue
        identities = get(app.inputs, "identity.userAssignedIdentities") or []
        client = settings.get("AZURE_CLIENT_ID")
        identity = next(iter(identities), "") if len(identities) == 1 or not client else ""
        if not identity:
            for candidate in of(resources, "azure-native:managedidentity:UserAssignedIdentity"):
                if str(_out(candidate, "clientId")) == client:
                    identity = _id(candidate)
        principal = principals.get(str(identity).lower(), str(identity))
        name = str(identity).rstrip("/").rsplit("/", 1)[-1]
        display = f"principal {principal} (identity {name})"
        yield Handler(app, manifest, principal, "identity", "siteConfig.appSettings", display)


def _azure_smoke_job(resources: list[Any], principals: Mapping[str, str]) -> Iterator[Handler]:
    """The AzureML smoke job: the GPU compute's identity mounts the datastore's container."""
    stores = list(of(resources, "azure-native:machinelearningservices:Datastore"))
    if len(stores) != 1:
        return
    properties = stores[0].inputs.get("properties") or {}
    settings = {
        "account": str(properties.get("accountName") or ""),
        "container": str(properties.get("containerName") or ""),
    }
    for compute in of(resources, "azure-native:machinelearningservices:Compute"):
        for identity in get(compute.inputs, "identity.userAssignedIdentities") or []:
            principal = principals.get(str(identity).lower())
            if not principal:
                # An identity the plan does not record (or whose principal id is unknown until
                # it is created): no assignment can be matched to it, so nothing is claimed.
                continue
            name = str(identity).rstrip("/").rsplit("/", 1)[-1]
            display = f"principal {principal} (identity {name} of the compute {compute.name})"
            manifest = manifests.azureml_smoke_job(settings)
            yield Handler(compute, manifest, principal, "identity", "datastore", display)


def _azure_custom_roles(resources: list[Any]) -> dict[str, azure_rbac.Role]:
    """The plan's custom role definitions by their id (the GUID, lowercase): the actions of
    every permission block (https://learn.microsoft.com/azure/role-based-access-control/custom-roles)."""
    found = {}
    for definition in of(resources, "azure-native:authorization:RoleDefinition"):
        blocks = [p for p in definition.inputs.get("permissions") or [] if isinstance(p, Mapping)]

        def joined(key: str, blocks: list[Mapping[str, Any]] = blocks) -> tuple[str, ...]:
            return tuple(str(a) for p in blocks for a in p.get(key) or ())

        guid = str(definition.inputs.get("roleDefinitionId") or _id(definition)).rsplit("/", 1)
        found[guid[-1].lower()] = azure_rbac.Role(
            str(definition.inputs.get("roleName") or definition.name),
            joined("dataActions"), joined("notDataActions"),
            "https://learn.microsoft.com/azure/role-based-access-control/custom-roles",
            joined("actions"), joined("notActions"),
        )  # fmt: skip
    return found


def _azure_assignments(resources: list[Any]) -> dict[str, azure_rbac.Assignment]:
    custom = _azure_custom_roles(resources)
    return {
        assignment.name: azure_rbac.Assignment(
            principal_id=str(assignment.inputs.get("principalId")),
            role_definition_id=str(assignment.inputs.get("roleDefinitionId")),
            scope=str(assignment.inputs.get("scope")),
            condition=assignment.inputs.get("condition"),
            name=assignment.name,
            custom_role=custom.get(
                str(assignment.inputs.get("roleDefinitionId"))
                .rstrip("/")
                .rsplit("/", 1)[-1]
                .lower()
            ),
        )
        for assignment in of(resources, "azure-native:authorization:RoleAssignment")
    }


def azure_denials(
    resources: list[Any], calls: Mapping[str, Sequence[Call]] | None = None
) -> Iterator[tuple[Handler, Call, str]]:
    """Each (handler, call, reason) the plan's grants do not allow; ``calls`` (resource name →
    calls) replaces a handler's manifest, e.g. by the calls a test recorded."""
    assignments = _azure_assignments(resources)
    for handler in _azure_handlers(resources):
        for declared in _calls_of(handler, calls):
            call = declared.sample()
            if not azure_rbac.allowed(call, handler.identity, assignments):
                yield handler, declared, _azure_reason(call, handler.identity, assignments)


def _azure_reason(
    call: Call, principal: str, assignments: Mapping[str, azure_rbac.Assignment]
) -> str:
    blocked = [
        name
        for name, a in assignments.items()
        if a.principal_id == principal
        and a.role is not None
        and a.condition
        and azure_rbac.grants(azure_rbac.Assignment(a.principal_id, a.role_definition_id,
                                                    a.scope), principal, call)
    ]  # fmt: skip
    if blocked:
        return (
            f"the condition of role assignment {', '.join(blocked)} does not hold for it "
            f"(attributes the request carries: {azure_rbac.ATTRIBUTES})"
        )
    return "no role assignment of that principal grants the action at that scope"


# GCP ----------------------------------------------------------------------------------------


def _gcp_handlers(resources: list[Any]) -> Iterator[Handler]:
    objects = {
        (str(o.inputs.get("bucket")), str(o.inputs.get("name"))): o
        for o in of(resources, "gcp:storage/bucketObject:BucketObject")
    }
    for function in of(resources, "gcp:cloudfunctionsv2/function:Function"):
        source = get(function.inputs, "buildConfig.source.storageSource") or {}
        archive = objects.get((str(source.get("bucket")), str(source.get("object"))))
        text = _text_assets(archive.inputs.get("source")) if archive is not None else ""
        env = get(function.inputs, "serviceConfig.environmentVariables") or {}
        manifest = manifests.manifest_of(text, {k: str(v) for k, v in env.items()})
        if manifest is not None:
            account = str(get(function.inputs, "serviceConfig.serviceAccountEmail") or "")
            yield Handler(
                function, manifest, f"serviceAccount:{account}",
                "serviceConfig.serviceAccountEmail", "serviceConfig.environmentVariables",
            )  # fmt: skip
    yield from _gcp_smoke_job(resources)
    for service in of(resources, "gcp:cloudrunv2/service:Service"):
        account = str(get(service.inputs, "template.serviceAccount") or "")
        for container in get(service.inputs, "template.containers") or []:
            envs = {
                str(e.get("name")): str(e.get("value"))
                for e in container.get("envs") or []
                if isinstance(e, Mapping) and e.get("value") is not None
            }
            if "MODEL_URI" in envs:
                yield Handler(
                    service, manifests.gcs_model_reader(envs), f"serviceAccount:{account}",
                    "template.serviceAccount", "template.containers",
                )  # fmt: skip
            if "CAPTURE_URI" in envs:
                yield Handler(
                    service, manifests.gcs_capture_writer(envs), f"serviceAccount:{account}",
                    "template.serviceAccount", "template.containers",
                )  # fmt: skip


def _gcp_smoke_job(resources: list[Any]) -> Iterator[Handler]:
    """The GKE smoke job: the trainer Kubernetes service account acts as the Google service
    account its Workload Identity binding names
    (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity)."""
    bucket = _artifact_bucket(resources, "gcp:storage/bucket:Bucket", "name")
    member = "[{}/{}]".format(*_TRAINER)
    for link in of(resources, "gcp:serviceaccount/iAMMember:IAMMember"):
        inputs = link.inputs
        if inputs.get("role") != "roles/iam.workloadIdentityUser" or not bucket:
            continue
        if not str(inputs.get("member") or "").endswith(member):
            continue
        account = str(inputs.get("serviceAccountId") or "").rsplit("/", 1)[-1]
        env = {"DATA_URI": f"gs://{bucket}/dvc", "LINEAGE": "{}",
               "CHECKPOINT_URI": f"gs://{bucket}/{_SMOKE_CHECKPOINT}"}  # fmt: skip
        yield Handler(
            link, manifests.smoke_job(env), f"serviceAccount:{account}", "serviceAccountId",
            "member",
        )  # fmt: skip


def _gcp_bindings(resources: list[Any]) -> dict[str, gcp_iam.Binding]:
    found: dict[str, gcp_iam.Binding] = {}
    kinds = {
        "gcp:storage/bucketIAMMember:BucketIAMMember": "bucket",
        "gcp:storage/bucketIAMBinding:BucketIAMBinding": "bucket",
        "gcp:projects/iAMMember:IAMMember": "project",
        "gcp:projects/iAMBinding:IAMBinding": "project",
    }
    for token, scope in kinds.items():
        for member in of(resources, token):
            inputs = member.inputs
            where = (
                f"projects/_/buckets/{inputs.get('bucket')}" if scope == "bucket"
                else f"projects/{inputs.get('project')}"
            )  # fmt: skip
            members = inputs.get("members") or [inputs.get("member")]
            for n, who in enumerate(members):
                found[member.name if n == 0 else f"{member.name}[{n}]"] = gcp_iam.Binding(
                    member=str(who),
                    role=str(inputs.get("role")),
                    resource=where,
                    condition=get(inputs, "condition.expression"),
                    name=member.name,
                )
    # A Cloud Run service's own bindings (the rollout function's custom role) and a service
    # account's (act-as): set on that one resource.
    for member in of(resources, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"):
        inputs = member.inputs
        service = str(inputs.get("name"))
        if not service.startswith("projects/"):
            service = (
                f"projects/{inputs.get('project')}/locations/{inputs.get('location')}"
                f"/services/{service}"
            )
        found[member.name] = gcp_iam.Binding(
            str(inputs.get("member")), str(inputs.get("role")), service, None, member.name
        )
    for member in of(resources, "gcp:serviceaccount/iAMMember:IAMMember"):
        inputs = member.inputs
        found[member.name] = gcp_iam.Binding(
            str(inputs.get("member")),
            str(inputs.get("role")),
            str(inputs.get("serviceAccountId")),
            get(inputs, "condition.expression"),
            member.name,
        )
    return found


def _gcp_custom_roles(resources: list[Any]) -> dict[str, frozenset[str]]:
    """The plan's custom roles: ``projects/<p>/roles/<id>`` → permissions."""
    return {
        f"projects/{role.inputs.get('project')}/roles/{role.inputs.get('roleId')}": frozenset(
            str(p) for p in role.inputs.get("permissions") or ()
        )
        for role in of(resources, "gcp:projects/iAMCustomRole:IAMCustomRole")
    }


def gcp_denials(
    resources: list[Any], calls: Mapping[str, Sequence[Call]] | None = None
) -> Iterator[tuple[Handler, Call, str]]:
    """Each (handler, call, reason) the plan's grants do not allow; ``calls`` (resource name →
    calls) replaces a handler's manifest, e.g. by the calls a test recorded."""
    bindings = _gcp_bindings(resources)
    custom = _gcp_custom_roles(resources)
    for handler in _gcp_handlers(resources):
        for declared in _calls_of(handler, calls):
            call = declared.sample()
            if gcp_iam.allowed(call, handler.identity, bindings, custom):
                continue
            conditional = [
                name for name, b in bindings.items()
                if b.condition and gcp_iam.grants(
                    gcp_iam.Binding(b.member, b.role, b.resource), handler.identity, call, custom
                )
            ]  # fmt: skip
            reason = (
                f"the condition of {', '.join(conditional)} does not match "
                f"{call.resource} ({gcp_iam.CONDITIONS})"
                if conditional
                else f"no role bound to it holds that permission there ({gcp_iam.ROLES_REFERENCE})"
            )
            yield handler, declared, reason


def _register(
    cloud: str,
    find: Callable[[list[Any]], Iterable[Handler]],
    denials: Callable[[list[Any]], Iterable[tuple[Handler, Call, str]]],
    settings_source: str,
    calls_source: str,
) -> None:
    """The two rules of one cloud: ``<cloud>-runtime-setting-missing`` (a setting the shipped
    code needs that the plan does not give it) and ``<cloud>-runtime-call-not-granted``."""
    settings_id, calls_id = f"{cloud}-runtime-setting-missing", f"{cloud}-runtime-call-not-granted"

    def settings(
        resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
    ) -> Iterator[DeployError]:
        for handler in find(resources):
            yield from _settings_error(handler, settings_id, settings_source)

    def calls(
        resources: list[Any], state: list[StateResource], config: Mapping[str, Any]
    ) -> Iterator[DeployError]:
        for handler, call, reason in denials(resources):
            yield _denied(handler, calls_id, call, reason)

    rule(settings_id, settings_source)(settings)
    rule(calls_id, calls_source)(calls)


# Registered in this order, the order their errors are reported in.
_register("aws", _aws_handlers, aws_denials, LAMBDA_ENV, aws_iam.EVALUATION)
_register("azure", _azure_handlers, azure_denials, AZURE_APP_SETTINGS, azure_rbac.BUILT_IN)
_register("gcp", _gcp_handlers, gcp_denials, GCP_FUNCTION_ENV, gcp_iam.ROLES_REFERENCE)


def handlers(resources: list[Any]) -> list[Handler]:
    """Every piece of shipped code in a plan that has a manifest, with its identity."""
    return [*_aws_handlers(resources), *_azure_handlers(resources), *_gcp_handlers(resources)]


__all__ = ["Handler", "aws_denials", "azure_denials", "gcp_denials", "handlers"]
