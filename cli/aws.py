"""boto3 clients for the day-2 commands, in one place so tests can swap them."""

from __future__ import annotations

import argparse
import re
from typing import Any

from mlops_iac.cli import OpsError

_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):")


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """``--region`` and ``--profile`` for commands that call AWS."""
    parser.add_argument(
        "--region", help="AWS region (default: the stack's aws:region, else the AWS config)"
    )
    parser.add_argument("--profile", help="AWS profile (default: the usual AWS credential chain)")


def arn_region(arn: str) -> str | None:
    """The region part of an ARN, or None for global resources and non-ARNs."""
    match = _ARN.match(arn)
    return (match.group("region") or None) if match else None


def require_arn(value: str, service: str, what: str) -> str:
    """``value`` if it is an ARN of ``service``; else ``OpsError`` naming ``what``."""
    match = _ARN.match(value)
    if not match or match.group("service") != service:
        raise OpsError(f"{what} must be an {service} ARN (arn:aws:{service}:…), got {value!r}")
    return value


def session(profile: str | None = None) -> Any:
    """A boto3 session; share one per command, it caches the service models (~0.1 s each)."""
    import boto3

    return boto3.Session(profile_name=profile) if profile else boto3.Session()


def client(
    service: str, *, region: str | None = None, profile: str | None = None, shared: Any = None
) -> Any:
    """A boto3 client, from the ``shared`` session when given. boto3 loads lazily."""
    return (shared or session(profile)).client(service, region_name=region)
