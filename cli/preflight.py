"""``mlops-iac preflight``: check a stack's account preconditions live, with your credentials.

Runs the program offline (as `plan` does), derives what the account must provide (quotas,
registered providers, enabled APIs, buckets and objects the stack names but does not create) and
checks each with read-only calls: AWS through boto3 (the usual credential chain, --profile),
Azure through Resource Manager with DefaultAzureCredential, GCP through Service Usage and Cloud
Quotas with Application Default Credentials. Prints one line per precondition, `PASS|FAIL|UNKNOWN
<id>: <what> (<why>)`; UNKNOWN is what the caller may not read or only a deploy shows. Exit 0 when
nothing failed, 1 when anything did, 2 for bad input or no credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mlops_iac.cli import (
    EXIT_FAILED,
    EXIT_OK,
    OpsError,
    add_stack_arguments,
    aws,
    command,
    describe,
    nofollow,
)
from mlops_iac.cli.preflight_checks import (
    ARM_SCOPE,
    GCP_SCOPE,
    AwsChecks,
    AzureChecks,
    GcpChecks,
    Result,
    Transport,
    deploy_only,
    urllib_transport,
)
from mlops_iac.plan.preconditions import Precondition, derive

NAME = "preflight"

Checker = Callable[[Precondition], Result]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``preflight`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="check a stack's account preconditions (quotas, providers, APIs) live, read-only",
        description=describe(__doc__),
    )
    add_stack_arguments(parser)
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="F",
        help="write the results as JSON to F; without F (or F is -) to stdout, instead of the "
        "lines",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print only what did not pass, and the count"
    )
    parser.add_argument(
        "--subscription",
        metavar="ID",
        help="Azure subscription (default: AZURE_SUBSCRIPTION_ID, else the stack's "
        "azure-native:subscriptionId)",
    )
    aws.add_aws_arguments(parser)
    parser.set_defaults(func=run)


def preconditions_of(
    project: str | os.PathLike[str], stack: str
) -> tuple[list[Precondition], Mapping[str, Any]]:
    """``(preconditions, stack config)`` of a stack's program run offline; ``OpsError`` (exit 2)
    when the project, stack file or program cannot be used."""
    from mlops_iac.plan.engine import ProgramError, run_project
    from mlops_iac.spec.errors import SpecError

    try:
        recording = run_project(project, stack)
    except ProgramError as exc:
        raise OpsError(str(exc)) from None
    except SpecError as exc:
        raise OpsError("; ".join(f"{path}: {message}" for path, message in exc.problems)) from None
    return derive(recording.resources, recording.config), recording.config


# --- credentials: each a seam tests replace ----------------------------------------------------


def aws_checker(args: argparse.Namespace, config: Mapping[str, Any]) -> Checker:
    """AWS checks with the caller's credential chain; ``OpsError`` when there are none."""
    session = aws.session(args.profile)
    if session.get_credentials() is None:
        raise OpsError(
            "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run `aws sso login`)"
        )
    stack_region = config.get("aws:region")

    def client(service: str, region: str | None) -> Any:
        # --region overrides the stack's region; Cost Explorer answers in us-east-1 only.
        if service != "ce":
            region = args.region or region or stack_region
        return aws.client(service, region=region, shared=session)

    return AwsChecks(client)


def azure_credential() -> Any:
    """The credential Azure checks use (``DefaultAzureCredential``)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise OpsError("azure-identity is not installed: pip install 'mlops-iac[azure]'") from None
    return DefaultAzureCredential()


def azure_checker(
    args: argparse.Namespace, config: Mapping[str, Any], transport: Transport
) -> Checker:
    subscription = (
        args.subscription
        or os.environ.get("AZURE_SUBSCRIPTION_ID")
        or config.get("azure-native:subscriptionId")
    )
    if not subscription:
        raise OpsError("no Azure subscription (pass --subscription or set AZURE_SUBSCRIPTION_ID)")
    from azure.core.exceptions import ClientAuthenticationError

    try:
        token = azure_credential().get_token(ARM_SCOPE).token
    except ClientAuthenticationError:
        raise OpsError(
            "no Azure credentials found (run `az login`, or set AZURE_TENANT_ID, "
            "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET)"
        ) from None
    return AzureChecks(str(subscription), token, transport)


class _UrllibRequest:
    """google-auth's transport interface (``google.auth.transport.Request``) over urllib, so
    refreshing a token needs no ``requests``."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Any:
        import urllib.error
        import urllib.request

        from google.auth import exceptions

        request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)

        class Response:
            def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
                self.status, self.headers, self.data = status, headers, data

        try:
            with urllib.request.urlopen(request, timeout=timeout or 30) as answer:  # noqa: S310
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers), exc.read())
        except OSError as exc:
            raise exceptions.TransportError(exc) from exc


def gcp_token() -> str:
    """An access token from Application Default Credentials; ``OpsError`` when there are none."""
    try:
        import google.auth
        from google.auth import exceptions
    except ImportError:
        raise OpsError("google-auth is not installed: pip install 'mlops-iac[gcp]'") from None
    try:
        credentials, _ = google.auth.default(scopes=[GCP_SCOPE])
        credentials.refresh(_UrllibRequest())
    except (exceptions.DefaultCredentialsError, exceptions.RefreshError) as exc:
        reason = " ".join(str(exc).split())
        raise OpsError(
            f"no GCP credentials found (run `gcloud auth application-default login` or set "
            f"GOOGLE_APPLICATION_CREDENTIALS): {reason}"
        ) from None
    return str(credentials.token)


def gcp_checker(transport: Transport) -> Checker:
    return GcpChecks(gcp_token(), transport)


TRANSPORT: Transport = urllib_transport
"""The HTTP transport of the Azure and GCP checks (tests put a replay of recorded responses)."""


def checker_for(cloud: str, args: argparse.Namespace, config: Mapping[str, Any]) -> Checker:
    """The checks of ``cloud`` with the caller's credentials (``OpsError`` when there are none)."""
    if cloud == "aws":
        return aws_checker(args, config)
    if cloud == "azure":
        return azure_checker(args, config, TRANSPORT)
    if cloud == "gcp":
        return gcp_checker(TRANSPORT)
    raise OpsError(f"preflight does not know cloud {cloud!r}")


def check_all(items: list[Precondition], checkers: Mapping[str, Checker]) -> list[Result]:
    """Every precondition's result in order, by its cloud's checker; ``deploy-only`` ones are
    UNKNOWN without a call."""
    return [deploy_only(p) if p.seen_by == "deploy-only" else checkers[p.cloud](p) for p in items]


@command(NAME)
def run(args: argparse.Namespace) -> int:
    """Check every precondition; exit 1 if any failed."""
    if args.json not in (None, "-"):
        target = Path(args.json)
        if target.is_dir() or not target.parent.is_dir():
            raise OpsError(f"--json {target}: not a file in an existing directory")
    items, config = preconditions_of(args.project, args.stack)
    # Every cloud's credentials first: a missing one is bad input before any line is printed.
    clouds = dict.fromkeys(p.cloud for p in items if p.seen_by != "deploy-only")
    checkers = {cloud: checker_for(cloud, args, config) for cloud in clouds}
    results = check_all(items, checkers)
    failed = [r for r in results if r.status == "FAIL"]
    counts = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "UNKNOWN")}
    if args.json:
        document = {
            "stack": args.stack,
            "passed": not failed,
            "counts": counts,
            "results": [r.as_dict() for r in results],
        }
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            nofollow.write_atomic(Path(args.json), text.encode())
    if args.json != "-":
        for result in results:
            if not (args.quiet and result.status == "PASS"):
                print(result.line())
        print(
            f"{len(results)} preconditions: {counts['PASS']} pass, {counts['FAIL']} fail, "
            f"{counts['UNKNOWN']} unknown"
        )
    return EXIT_FAILED if failed else EXIT_OK
