"""The drift job on AWS: S3 and CloudWatch through boto3, which every AWS Lambda Python runtime
includes (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), so the function's
code is the ``mlops_iac/drift`` folder as it is, with nothing to build."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_iac.drift import wire
from mlops_iac.drift.profile import read_limited
from mlops_iac.drift.readers import Source
from mlops_iac.drift.runtime import (
    JobConfig,
    LazyChunks,
    baseline_text,
    no_baseline,
    run_job,
    split_uri,
)


class S3Storage:
    """S3 objects under a prefix, streamed (``iter_chunks``), never loaded whole."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def list_since(self, uri: str, since: dt.datetime) -> list[str]:
        _, bucket, prefix = split_uri(uri)
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for item in page.get("Contents", ()):
                if item["LastModified"] >= since and not item["Key"].endswith("/"):
                    found.append(f"s3://{bucket}/{item['Key']}")
        return sorted(found)

    def source(self, uri: str) -> Source:
        from mlops_iac.drift.readers import bytes_source

        _, bucket, key = split_uri(uri)

        def chunks() -> Iterator[bytes]:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            yield from body.iter_chunks(1 << 20)

        return bytes_source(uri, LazyChunks(chunks))

    def read_text(self, uri: str) -> str:
        _, bucket, key = split_uri(uri)
        try:
            body = read_limited(self.client.get_object(Bucket=bucket, Key=key)["Body"].read)
        except self.client.exceptions.NoSuchKey:
            raise no_baseline(uri) from None
        return baseline_text(uri, body)

    def write_text(self, uri: str, text: str) -> None:
        _, bucket, key = split_uri(uri)
        # The bucket's default SSE-KMS encrypts the object; the role may use the key.
        self.client.put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json"
        )


class CloudWatchMetrics:
    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("cloudwatch")
        self.client = client

    def publish(self, config: JobConfig, report: Mapping[str, Any]) -> None:
        dimensions = [{"Name": "Endpoint", "Value": config.endpoint}]
        values = (
            (wire.METRIC, float(len(report["drifted"])), "Count"),
            (wire.MAX_PSI_METRIC, float(report["maxPsi"]), "None"),
            (wire.ROWS_METRIC, float(report["rows"]), "Count"),
        )
        self.client.put_metric_data(
            Namespace=config.namespace,
            MetricData=[
                {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit}
                for name, value, unit in values
            ],
        )


def aws_handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (``mlops_iac/drift/handlers.aws_handler``)."""
    config = JobConfig.from_env(event=event)
    return run_job(config, S3Storage(), CloudWatchMetrics())
