"""The evaluation gate and approvals bound to the artifact (``approve`` and ``plan``).

``approve`` reads the candidate's recorded metrics (a metrics file, or an MLflow-compatible REST
API on loopback), refuses a version that misses a criterion, and signs the metrics, criteria,
artifact and image digests and the model card's digest. ``plan`` in staging and prod refuses an
approval that does not cover what the stack file serves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlops_iac.cli import stackfile
from mlops_iac.cli.metrics import from_tracking_server
from mlops_iac.policies import governance, signatures, trust
from mlops_iac.spec import evaluation
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.conftest import REPO, STACKS
from tests.ops.keys import install_allowed_signers, key_for

ARTIFACT = b"fraud-detector v8 model.tar.gz bytes"
ARTIFACT_SHA = hashlib.sha256(ARTIFACT).hexdigest()
PROJECT = "fraud-detection"


def _approve(cli: Any, project: Path, *extra: Any, version: str = "8") -> int:
    return cli(
        "approve", "--stack", "aws-prod", "--project", project, "--model", "fraud-detector",
        "--version", version, "--approver", "raj@example.com", "--ticket", "CHG-2001",
        "--key", key_for("raj@example.com"), *extra,
    )  # fmt: skip


def _metrics_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "metrics.json"
    path.write_text(text)
    return path


def _artifact(tmp_path: Path) -> Path:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(ARTIFACT)
    return path


# --- approve: the evaluation gate ----------------------------------------------------------------


def test_approve_refuses_a_run_below_criteria(cli, project, tmp_path) -> None:
    path = project / "stacks/Pulumi.aws-prod.yaml"
    before = path.read_bytes()
    metrics = _metrics_file(tmp_path, '{"metrics": {"auc": 0.88, "p95_latency_ms": 61}}')
    assert _approve(cli, project, "--metrics", metrics, "--artifact", _artifact(tmp_path)) == 2
    assert cli.one_error_line() == (
        "mlops-iac approve: error: fraud-detector v8 misses its evaluation criteria: auc is "
        "0.88, which misses auc >= 0.91; nothing signed"
    )
    assert path.read_bytes() == before
    assert not (project / "governance/model-cards").exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # NaN and infinity never meet a criterion (JSON readers accept both spellings).
        ('{"auc": NaN, "p95_latency_ms": 61}', "auc is nan, which misses auc >= 0.91"),
        ('{"auc": Infinity, "p95_latency_ms": 61}', "auc is inf, which misses auc >= 0.91"),
        ('{"auc": "0.95", "p95_latency_ms": 61}', "auc is '0.95', which misses auc >= 0.91"),
        # A Cyrillic look-alike of the metric's name is not the metric.
        ('{"\u0430uc": 0.99, "p95_latency_ms": 61}', "auc is not recorded (criterion auc >= 0.91)"),
        ('{"auc": 0.95}', "p95_latency_ms is not recorded (criterion p95_latency_ms <= 80.0)"),
    ],
)
def test_approve_refuses_metrics_that_cannot_meet_a_criterion(
    cli, project, tmp_path, text, fragment
) -> None:
    metrics = _metrics_file(tmp_path, text)
    assert _approve(cli, project, "--metrics", metrics, "--artifact", _artifact(tmp_path)) == 2
    assert fragment in cli.one_error_line()


def test_approve_refuses_a_metric_given_twice(cli, project, tmp_path) -> None:
    # JSON readers keep the last of two equal keys silently: 0.99 would hide 0.5.
    metrics = _metrics_file(tmp_path, '{"auc": 0.5, "p95_latency_ms": 61, "auc": 0.99}')
    assert _approve(cli, project, "--metrics", metrics, "--artifact", _artifact(tmp_path)) == 2
    assert "key 'auc' is given twice" in cli.one_error_line()


def test_approve_with_criteria_needs_metrics(cli, project, tmp_path) -> None:
    assert _approve(cli, project, "--artifact", _artifact(tmp_path)) == 2
    assert cli.one_error_line() == (
        "mlops-iac approve: error: fraud-detector v8 has criteria (auc >= 0.91; "
        "p95_latency_ms <= 80.0): give --metrics FILE or --run-id ID with the candidate's "
        "recorded metrics"
    )


def test_prod_approval_needs_the_artifact(cli, project, tmp_path) -> None:
    metrics = _metrics_file(tmp_path, '{"auc": 0.95, "p95_latency_ms": 61}')
    assert _approve(cli, project, "--metrics", metrics) == 2
    assert "a prod approval is bound to the artifact: pass --artifact FILE" in cli.one_error_line()


def test_approve_signs_metrics_digests_and_model_card(cli, project, tmp_path) -> None:
    metrics = _metrics_file(
        tmp_path, '{"run_id": "r1", "metrics": {"auc": 0.95, "p95_latency_ms": 61, "loss": 0.2}}'
    )
    image = "sha256:" + "ab" * 32
    assert (
        _approve(
            cli,
            project,
            "--metrics",
            metrics,
            "--artifact",
            _artifact(tmp_path),
            "--image-digest",
            image,
            "--intended-use",
            "scoring card payments",
        )  # fmt: skip
        == 0
    ), cli.err
    approval = stackfile.load(project, "aws-prod").spec.governance.approvals[-1]
    assert approval.metrics == {"auc": 0.95, "p95_latency_ms": 61.0, "loss": 0.2}
    assert approval.criteria == ["auc >= 0.91", "p95_latency_ms <= 80.0"]
    assert (approval.artifact_sha256, approval.image_digest) == (ARTIFACT_SHA, image)
    assert approval.model_card == "governance/model-cards/aws-prod/fraud-detector-8.md"
    card = (project / approval.model_card).read_bytes()
    assert approval.model_card_sha256 == hashlib.sha256(card).hexdigest()
    text = card.decode()
    for line in (
        "- Owner: ml-platform@example.com",
        "- Intended use: scoring card payments",
        "- Training data version: md5:3b1f0c2d9e8a7b6c5d4e3f2a1b0c9d8e",
        f"- Artifact sha256: {ARTIFACT_SHA}",
        "| auc | 0.95 |",
    ):
        assert line + "\n" in text
    # The signature covers the metrics: a forged value, a dropped criterion or another artifact
    # under the same version does not verify.
    record = approval.model_dump(by_alias=True, mode="json")
    allowed = project / signatures.ALLOWED_SIGNERS

    def status(changed: dict[str, Any]) -> str:
        return signatures.verify(
            signatures.approval_payload(PROJECT, changed),
            record["signature"],
            "raj@example.com",
            allowed,
        )

    assert status(record) == signatures.VERIFIED
    assert status({**record, "metrics": {**record["metrics"], "auc": 0.99}}) != "verified"
    assert status({**record, "criteria": ["auc >= 0.91"]}) != "verified"
    assert status({**record, "artifactSha256": "0" * 64}) != "verified"
    assert status({**record, "modelCardSha256": "0" * 64}) != "verified"


# --- approve: metrics from a tracking server (loopback MLflow REST API) ---------------------------


class _Tracking(BaseHTTPRequestHandler):
    runs: dict[str, Any] = {}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(self.path)
        found = re.match(r"^/api/2\.0/mlflow/runs/get\?run_id=(?P<id>[\w-]+)$", self.path)
        body = self.runs.get(found["id"]) if found else None
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


def _run(status: str, metrics: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "run": {
            "info": {"run_id": "x", "status": status},
            "data": {"metrics": [{"key": k, "value": v, "step": 0} for k, v in metrics]},
        }
    }


@pytest.fixture
def tracking() -> Iterator[str]:
    _Tracking.runs = {
        "good": _run("FINISHED", [("auc", 0.95), ("p95_latency_ms", 70)]),
        "low": _run("FINISHED", [("auc", 0.9), ("p95_latency_ms", 70)]),
        "running": _run("RUNNING", [("auc", 0.95), ("p95_latency_ms", 70)]),
        "twice": _run("FINISHED", [("auc", 0.5), ("auc", 0.95), ("p95_latency_ms", 1)]),
    }
    _Tracking.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tracking)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tracking_server_metrics_by_run_id(tracking) -> None:
    assert from_tracking_server(tracking, "good") == {"auc": 0.95, "p95_latency_ms": 70}
    assert _Tracking.seen == ["/api/2.0/mlflow/runs/get?run_id=good"]


def test_approve_reads_the_run_from_the_tracking_server(cli, project, tmp_path, tracking) -> None:
    artifact = _artifact(tmp_path)
    assert _approve(cli, project, "--run-id", "low", "--tracking-uri", tracking,
                    "--artifact", artifact) == 2  # fmt: skip
    assert "auc is 0.9, which misses auc >= 0.91" in cli.one_error_line()
    assert _approve(cli, project, "--run-id", "good", "--tracking-uri", tracking,
                    "--artifact", artifact) == 0, cli.err  # fmt: skip
    approval = stackfile.load(project, "aws-prod").spec.governance.approvals[-1]
    assert approval.metrics == {"auc": 0.95, "p95_latency_ms": 70.0}


@pytest.mark.parametrize(
    ("run", "fragment"),
    [
        ("running", "run running is RUNNING, not FINISHED: its metrics can still change"),
        ("twice", "run twice reports metric 'auc' twice"),
        ("missing", "answered HTTP 404 for run missing"),
        ("bad/id", "run id 'bad/id' is not an MLflow run id"),
    ],
)
def test_approve_refuses_an_unusable_run(cli, project, tmp_path, tracking, run, fragment) -> None:
    artifact = _artifact(tmp_path)
    assert _approve(cli, project, "--run-id", run, "--tracking-uri", tracking,
                    "--artifact", artifact) == 2  # fmt: skip
    assert fragment in cli.one_error_line()


# --- the spec: criteria ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "fragment"),
    [
        (["auc >= 0.9", "auc <= 0.99"], "metric 'auc' has more than one criterion"),
        (["auc >= nan"], "threshold of auc must be finite"),
        (["auc >= inf"], "threshold of auc must be finite"),
        (["\u0430uc >= 0.9"], "must be lowercase ASCII"),
        (["auc => 0.9"], "is not 'metric comparison threshold'"),
        ([{"metric": "auc", "comparison": "==", "threshold": 1}], "comparison"),
    ],
)
def test_criteria_that_are_refused(criteria, fragment) -> None:
    text = (STACKS / "Pulumi.aws-prod.yaml").read_text()
    data = YAML(typ="safe").load(text)
    data["config"]["mlops:platform"]["serving"]["model"]["criteria"] = criteria
    with pytest.raises(SpecError) as raised:
        parse_spec(data["config"]["mlops:platform"])
    assert fragment in str(raised.value)


def test_criteria_shorthand_and_object_are_the_same() -> None:
    assert evaluation.parse_criterion("auc >= 0.91") == evaluation.parse_criterion(
        {"metric": "auc", "comparison": ">=", "threshold": 0.91}
    )
    assert evaluation.misses(evaluation.parse_criteria(["p95_latency_ms <= 80"]), {}) == [
        "p95_latency_ms is not recorded (criterion p95_latency_ms <= 80.0)"
    ]


# --- plan: the approval covers what is served -----------------------------------------------------


def _reference(stack: str = "aws-prod") -> dict[str, Any]:
    return stackfile.load(REPO, stack).spec.model_dump(by_alias=True, mode="json")


def _review(platform: dict[str, Any], allowed: Path, environment: str = "prod", **kw: Any):
    return governance.review(
        platform,
        allowed,
        stack="aws-prod",
        environment=environment,
        settings=trust.TrustedSettings(),
        now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        project_dir=kw.pop("project_dir", REPO),
    )


def _resign(platform: dict[str, Any]) -> dict[str, Any]:
    for record in platform["governance"]["approvals"]:
        data = signatures.approval_payload(PROJECT, record)
        record["signature"] = signatures.sign(data, key_for(record["approvedBy"]))
    return platform


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    return install_allowed_signers(tmp_path)


def test_reference_approvals_cover_what_is_served(allowed) -> None:
    for stack in ("aws-prod", "azure-prod", "gcp-prod"):
        reviewed = _review(_resign(_reference(stack)), allowed)
        assert reviewed.problems == [], stack
        assert [a.get("bindingStatus") for a in reviewed.approvals] == [None, None]


def test_a_v8_artifact_under_v7s_approval_does_not_pass(allowed) -> None:
    # The stack author serves other bytes under version 7: the approval binds name, version
    # and the artifact's digest, so it no longer covers what is served.
    platform = _resign(_reference())
    platform["serving"]["model"]["artifactSha256"] = ARTIFACT_SHA
    reviewed = _review(platform, allowed)
    assert reviewed.problems == [
        "approval of 'fraud-detector' version '7' (mlops:platform.governance.approvals[0]) does "
        f"not cover what is served: mlops:platform.serving.model.artifactSha256 is {ARTIFACT_SHA} "
        "but the approval signed a40a06ed329955a7b11b61bc314debf0e13a6a64dd020ff9c4257655f4d88f1f "
        "(another artifact under the same version)"
    ]


def test_another_image_under_the_same_version_does_not_pass(allowed) -> None:
    platform = _resign(_reference())
    image = platform["serving"]["model"]["image"]
    platform["serving"]["model"]["image"] = image.split("@")[0] + "@sha256:" + "1" * 64
    (problem,) = _review(platform, allowed).problems
    assert problem.endswith(
        "mlops:platform.serving.model.image serves sha256:" + "1" * 64 + " but the approval "
        "signed sha256:c47036387552897f897e0ff1f0111a555b43c495399845cc18d54d74abde2752 "
        "(another image under the same version)"
    )


def test_a_tag_only_image_is_refused_in_prod(allowed) -> None:
    platform = _resign(_reference())
    tagged = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311"
    platform["serving"]["model"]["image"] = tagged
    (problem,) = _review(platform, allowed).problems
    assert problem.endswith(
        f"mlops:platform.serving.model.image is {tagged!r}, a tag: reference the image by digest "
        "(…@sha256:<64 hex>), a tag can be re-pushed"
    )


def test_criteria_raised_above_the_signed_metrics_fail(allowed) -> None:
    platform = _resign(_reference())
    platform["serving"]["model"]["criteria"] = [
        {"metric": "auc", "comparison": ">=", "threshold": 0.95}
    ]
    (problem,) = _review(platform, allowed).problems
    assert problem.endswith(
        "auc is 0.934, which misses auc >= 0.95 (mlops:platform.serving.model.criteria)"
    )


def test_lowering_criteria_in_the_stack_file_does_not_lower_the_signed_ones(allowed) -> None:
    # An approval signed against auc >= 0.95 (its own record says so) with auc 0.934: the stack
    # file's author drops the criteria, but the criteria the approval signed still hold.
    platform = _reference()
    platform["governance"]["approvals"][0]["criteria"] = ["auc >= 0.95"]
    platform["serving"]["model"]["criteria"] = []
    reviewed = _review(_resign(platform), allowed)
    (problem,) = reviewed.problems
    assert problem.endswith(
        "auc is 0.934, which misses auc >= 0.95 (the criteria the approval signed)"
    )


def test_forged_metrics_do_not_verify(allowed) -> None:
    platform = _resign(_reference())
    platform["governance"]["approvals"][0]["metrics"]["auc"] = 0.999
    reviewed = _review(platform, allowed)
    assert reviewed.approvals[0]["signatureStatus"].startswith("signature does not verify")


def test_an_edited_model_card_does_not_pass(allowed, tmp_path) -> None:
    platform = _resign(_reference())
    card = tmp_path / "project" / "governance/model-cards/aws-prod/fraud-detector-7.md"
    card.parent.mkdir(parents=True)
    card.write_text((REPO / "governance/model-cards/aws-prod/fraud-detector-7.md").read_text())
    (card.parent / "fraud-detector-6.md").write_bytes(
        (REPO / "governance/model-cards/aws-prod/fraud-detector-6.md").read_bytes()
    )
    assert _review(platform, allowed, project_dir=tmp_path / "project").problems == []
    card.write_text(card.read_text().replace("0.934", "0.999"))
    (problem,) = _review(platform, allowed, project_dir=tmp_path / "project").problems
    assert "model card governance/model-cards/aws-prod/fraud-detector-7.md has sha256" in problem


def test_an_approval_made_before_digests_says_what_to_run(allowed) -> None:
    platform = _reference()
    platform["governance"]["approvals"][0] = {
        k: v
        for k, v in platform["governance"]["approvals"][0].items()
        if k in ("model", "version", "approvedBy", "ticket", "approvedAt")
    }
    reviewed = _review(_resign(platform), allowed)
    assert reviewed.problems[0] == (
        "approval of 'fraud-detector' version '7' (mlops:platform.governance.approvals[0]) does "
        "not cover what is served: it records no artifact digest (made before approvals were "
        "bound to the artifact); re-approve it: mlops-iac approve -s aws-prod --model "
        "fraud-detector --version 7 --artifact FILE --metrics FILE (or --run-id ID) --approver "
        "EMAIL --ticket T --key FILE"
    )


def test_unsigned_approval_in_staging_proves_nothing(allowed) -> None:
    platform = _reference()
    for record in platform["governance"]["approvals"]:
        record["signature"] = None
    problems = _review(platform, allowed, environment="staging").problems
    assert any(p.endswith("it is unsigned, so its metrics and digests prove nothing (--key)")
               for p in problems)  # fmt: skip


def test_dev_does_not_bind(allowed) -> None:
    platform = _reference()
    platform["serving"]["model"]["artifactSha256"] = ARTIFACT_SHA
    assert _review(platform, allowed, environment="dev").problems == []


def test_plan_refuses_the_v8_artifact_under_v7s_approval(cli, tmp_path, monkeypatch) -> None:
    """The acceptance bypass end to end: ``plan`` of aws-prod fails, naming the digests."""
    monkeypatch.setenv("MLOPS_IAC_ALLOWED_SIGNERS", str(REPO / signatures.ALLOWED_SIGNERS))
    text = (STACKS / "Pulumi.aws-prod.yaml").read_text()
    served = "artifactSha256: a40a06ed329955a7b11b61bc314debf0e13a6a64dd020ff9c4257655f4d88f1f\n"
    assert text.count(served) == 1
    path = tmp_path / "Pulumi.aws-prod.yaml"
    path.write_text(text.replace(served, f"artifactSha256: {ARTIFACT_SHA}\n"))
    result = cli("plan", "--stack", "aws-prod", "--project", REPO, "--config-file", path, "-q")
    assert result == 1, cli.out + cli.err
    assert (
        f"mlops:platform.serving.model.artifactSha256 is {ARTIFACT_SHA} but the approval signed "
        "a40a06ed329955a7b11b61bc314debf0e13a6a64dd020ff9c4257655f4d88f1f"
    ) in cli.out
    assert "mlops-approval-gate" in cli.out and "mlops-governance-records" in cli.out


def test_approve_says_when_it_signs_lowered_criteria(cli, project, tmp_path) -> None:
    path = project / "stacks/Pulumi.aws-prod.yaml"
    text = path.read_text()
    lowered = 'criteria: ["auc >= 0.85", "p95_latency_ms <= 80.0"]'
    path.write_text(text.replace('criteria: ["auc >= 0.91", "p95_latency_ms <= 80.0"]', lowered, 1))
    metrics = _metrics_file(tmp_path, '{"auc": 0.88, "p95_latency_ms": 61}')
    assert _approve(cli, project, "--metrics", metrics, "--artifact", _artifact(tmp_path)) == 0
    assert (
        "criteria lowered since the approval of fraud-detector v6 (auc >= 0.91 → auc >= 0.85): "
        "this approval signs the lowered criteria"
    ) in cli.out
    approval = stackfile.load(project, "aws-prod").spec.governance.approvals[-1]
    assert approval.criteria == ["auc >= 0.85", "p95_latency_ms <= 80.0"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("auc >= 0.91", "auc >= 0.85", ["auc >= 0.91 → auc >= 0.85"]),
        ("auc > 0.91", "auc >= 0.91", ["auc > 0.91 → auc >= 0.91"]),
        ("auc >= 0.91", "auc >= 0.95", []),
        (
            "p95_latency_ms <= 80",
            "p95_latency_ms <= 90",
            ["p95_latency_ms <= 80.0 → p95_latency_ms <= 90.0"],
        ),
        ("auc >= 0.91", None, ["auc >= 0.91 → (removed)"]),
    ],
)
def test_lowered_criteria(old, new, expected) -> None:
    signed = evaluation.parse_criteria([old])
    current = evaluation.parse_criteria([new] if new else [])
    assert evaluation.lowered(signed, current) == expected


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_forged_record_with_the_right_digests_does_not_cover(allowed, environment) -> None:
    # The author serves other bytes under v7 and adds a second v7 approval naming them, with a
    # signature that does not verify: the real approval's problem is still reported.
    platform = _resign(_reference())
    platform["serving"]["model"]["artifactSha256"] = ARTIFACT_SHA
    forged = {**platform["governance"]["approvals"][0], "artifactSha256": ARTIFACT_SHA}
    forged["signature"] = platform["governance"]["approvals"][1]["signature"]
    platform["governance"]["approvals"].append(forged)
    problems = _review(platform, allowed, environment=environment).problems
    assert any("approvals[0]) does not cover what is served" in p for p in problems)


# --- plan's JSON report: approvals[].bindingStatus ------------------------------------------------


def _binding(platform: dict[str, Any], allowed: Path, environment: str = "prod") -> list[Any]:
    return [a["binding"] for a in _review(platform, allowed, environment).approvals]


def test_binding_state_of_each_kind_of_approval(allowed) -> None:
    assert _binding(_resign(_reference()), allowed) == ["bound", "bound"]
    mismatch = _resign(_reference())
    mismatch["serving"]["model"]["artifactSha256"] = ARTIFACT_SHA
    assert _binding(mismatch, allowed) == ["digest-mismatch", "bound"]
    image = _resign(_reference())
    served = image["serving"]["model"]["image"]
    image["serving"]["model"]["image"] = served.split("@")[0] + "@sha256:" + "1" * 64
    assert _binding(image, allowed) == ["digest-mismatch", "bound"]
    legacy = _reference()
    legacy["governance"]["approvals"][0] = {
        k: v
        for k, v in legacy["governance"]["approvals"][0].items()
        if k in ("model", "version", "approvedBy", "ticket", "approvedAt")
    }
    assert _binding(_resign(legacy), allowed) == ["unbound-legacy", "bound"]
    raised = _resign(_reference())
    raised["serving"]["model"]["criteria"] = ["auc >= 0.95"]
    assert _binding(raised, allowed) == ["not-covering", "bound"]
    assert _binding(_resign(_reference()), allowed, "dev") == ["not-required", "not-required"]
    other = _reference()
    other["governance"]["approvals"][1]["version"] = "5"  # approves no served version
    assert _binding(_resign(other), allowed)[1] == "not-required"


def test_plan_report_carries_binding_status_valid_against_the_schema(tmp_path) -> None:
    import jsonschema

    from tests.ops.test_plan import plan

    report = tmp_path / "plan.json"
    plan("--stack", "gcp-prod", "--json", str(report), "-q")
    written = json.loads(report.read_text())
    jsonschema.validate(written, json.loads((REPO / "docs/plan.schema.json").read_text()))
    seen = [(a["version"], a["bindingStatus"], a["bindingProblems"]) for a in written["approvals"]]
    assert seen == [("7", "bound", None), ("6", "bound", None)]
