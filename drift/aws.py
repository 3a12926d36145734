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

# SageMaker writes capture to <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, the
# hour (UTC) the requests were captured in; a file reaches S3 after its hour ends, so listing
# starts an hour before the window.
# https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html
_HOUR_LAYOUT = "%Y/%m/%d/%H/"
_WRITE_DELAY = dt.timedelta(hours=1)


class S3Storage:
    """S3 objects under a prefix, streamed (``iter_chunks``), never loaded whole."""

    def __init__(self, client: Any = None, clock: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def list_since(self, uri: str, since: dt.datetime) -> list[str]:
        """Objects modified since ``since``, read only from the hour folders of the window in
        each variant folder under ``uri`` (plus files directly under it), never the whole
        capture history: S3 lists a prefix, and the capture grows by the hour."""
        _, bucket, prefix = split_uri(uri)
        variants, loose = self._level(bucket, prefix)
        items = list(loose)
        for variant in variants:
            for hour in _hours(since - _WRITE_DELAY, self.clock()):
                items += self._objects(bucket, variant + hour.strftime(_HOUR_LAYOUT))
        return sorted(
            f"s3://{bucket}/{item['Key']}"
            for item in items
            if item["LastModified"] >= since and not item["Key"].endswith("/")
        )

    def _level(self, bucket: str, prefix: str) -> tuple[list[str], list[dict[str, Any]]]:
        """(folders, objects) directly under ``prefix``."""
        folders: list[str] = []
        objects: list[dict[str, Any]] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/"
        ):
            folders += [common["Prefix"] for common in page.get("CommonPrefixes", ())]
            objects += page.get("Contents", ())
        return folders, objects

    def _objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            found += page.get("Contents", ())
        return found

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
        except self.client.exceptions.ClientError as exc:
            # Without an unconditional s3:ListBucket, S3 answers a missing key with 403, not 404
            # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html): list the
            # exact key (the role may) to tell a missing baseline from a real denial.
            if exc.response.get("Error", {}).get("Code") != "AccessDenied":
                raise
            if not self._exists(bucket, key):
                raise no_baseline(uri) from None
            raise
        return baseline_text(uri, body)

    def _exists(self, bucket: str, key: str) -> bool:
        listed = self.client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in listed.get("Contents", ()))

    def write_text(self, uri: str, text: str) -> None:
        _, bucket, key = split_uri(uri)
        # The bucket's default SSE-KMS encrypts the object; the role may use the key.
        self.client.put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json"
        )


def _hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every UTC hour from ``start``'s to ``end``'s, both included (at least ``end``'s)."""
    first = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    last = end.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while first <= last:
        hours.append(first)
        first += dt.timedelta(hours=1)
    return hours or [last]


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
