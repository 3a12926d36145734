"""Three new users, from the built wheel in fresh venvs (one cloud extra each), offline:

- an AWS platform engineer (``init --kind platform``),
- a GCP serving team and an Azure training team (``init --kind team``),

each walks init, plan, the starter's offline test (``-W error``), approve, waive, rollback and
verify. The wheel is built once per run and the three walks run side by side (module-scoped
fixture; the AWS engineer's venv is the run's one with the ``aws`` extra, which the install
acceptance test also runs); the packages come from uv's cache (``--offline``), never the
network. AWS ``verify`` reads a moto server on 127.0.0.1; a team stack file has no serving, so
``rollback`` and ``verify`` say which kind the file is and what it lacks. The GCP and Azure teams
then run ``verify`` and ``rollback --now`` on their platform's prod stack file (a copy of the
reference one, with its planned outputs) against the recorded API answers served on 127.0.0.1
(``tests.ops.replay``), reached through the clouds' endpoint overrides.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlops_iac.plan.testing.moto_s3 import fake_aws_environment, moto_server
from tests.conftest import STACKS, reference_recording
from tests.ops.conftest import build_platform, write_outputs
from tests.ops.keys import allowed_signers_text, install_allowed_signers, key_for
from tests.ops.recorded import Recorded
from tests.ops.replay import replay_server
from tests.ops.test_cloud_day2 import azure_checks, gcp_checks
from tests.test_packaging import REPO, _clean_env, _uv

PERSONAS = {
    # directory (the project name): (cloud, kind)
    "fraud-platform": ("aws", "platform"),
    "recsys-serving": ("gcp", "team"),
    "churn-training": ("azure", "team"),
}

Result = subprocess.CompletedProcess[str]
# What the team built: the model package's SHA-256 and the serving image's digest (a prod
# approval is bound to both).
ARTIFACT_SHA256 = "ab" * 32
DIGEST = "sha256:" + "cd" * 32


class Walk:
    """One persona's directory, venv and the transcript of its steps."""

    def __init__(self, root: Path, cloud: str, kind: str, env: dict[str, str]) -> None:
        self.root, self.cloud, self.kind, self.env = root, cloud, kind, env
        self.name = root.name
        self.approver = f"{self.name}-lead@example.com"
        self.steps: dict[str, Result] = {}
        self.seconds = 0.0
        self.timings: dict[str, float] = {}
        self.replayed: Recorded | None = None  # the recorded cloud's transport, its request log

    def run(self, step: str, *command: str | Path) -> Result:
        began = time.monotonic()
        result = subprocess.run(
            [str(c) for c in command],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            env=self.env,
        )
        self.steps[step] = result
        self.timings[step] = time.monotonic() - began
        return result

    def cli(self, step: str, *args: str | Path) -> Result:
        return self.run(step, self.root / ".venv/bin/mlops-iac", *args)

    def stack_file(self, env: str) -> str:
        return (self.root / f"Pulumi.{env}.yaml").read_text()


def _platform_project(base: Path, cloud: str) -> Path:
    """The reference ``<cloud>-prod`` stack file and its planned outputs, as a platform team's
    project keeps them (``stacks/``, ``governance/allowed_signers``)."""
    platform = base / f"{cloud}-platform"
    (platform / "stacks").mkdir(parents=True)
    shutil.copy(STACKS / f"Pulumi.{cloud}-prod.yaml", platform / "stacks")
    install_allowed_signers(platform)
    write_outputs(platform / "outputs.json", reference_recording(f"{cloud}-prod").exports)
    return platform


def _walk(walk: Walk, wheel: Path, outputs: Path, aws_venv: Path) -> Walk:
    start = time.monotonic()
    began = time.monotonic()
    venv = walk.root / ".venv"  # where the starter's Pulumi.yaml says it is
    if walk.cloud == "aws":  # the run's venv with the aws and testing extras (tests/conftest.py)
        venv.symlink_to(aws_venv, target_is_directory=True)
    else:
        _uv("venv", "--python", str(Path(REPO / ".venv/bin/python").resolve()), str(venv), cwd=REPO)
        _uv(
            "pip", "install", "--python", str(venv / "bin/python"),
            "-c", str(REPO / "constraints.txt"),
            f"mlops-iac[{walk.cloud},testing] @ {wheel.as_uri()}", cwd=walk.root,
        )  # fmt: skip
    walk.timings["venv"] = time.monotonic() - began
    walk.cli("init", "init", ".", "--cloud", walk.cloud, "--kind", walk.kind)
    # The platform owners list the approver's key (by hand, reviewed).
    (walk.root / "governance/allowed_signers").write_text(allowed_signers_text([walk.approver]))
    key = key_for(walk.approver)
    walk.cli("plan-dev", "plan", "--stack", "dev", "--quiet", "--no-color")
    walk.run("test", venv / "bin/python", "-m", "pytest", "-W", "error", "-q", "tests")
    versions = ("2", "1") if walk.kind == "platform" else ("2",)
    if walk.kind == "platform":  # plan's fixes: serve the image by digest, name the artifact
        prod = walk.root / "Pulumi.prod.yaml"
        pinned = rf'\1image: \2@{DIGEST}\n\1artifactSha256: "{ARTIFACT_SHA256}"\n'
        prod.write_text(re.sub(r"( +)image: (\S+?):[\w.-]+\n", pinned, prod.read_text()))
    for version in versions:
        walk.cli(
            f"approve-v{version}", "approve", "--stack", "prod", "--model", "model",
            "--version", version, "--approver", walk.approver, "--ticket", f"CHG-{version}",
            "--key", key, "--artifact-sha256", ARTIFACT_SHA256,
        )  # fmt: skip
    walk.cli("plan-prod", "plan", "--stack", "prod", "--quiet", "--no-color")
    walk.cli(
        "waive", "waive", "--stack", "prod", "--rule", "mlops-storage-lifecycle",
        "--resource", "scratch-*", "--reason", "short-lived scratch data", "--ticket", "CHG-3",
        "--owner", f"{walk.name}-owners@example.com", "--approver", walk.approver,
        "--days", "30", "--key", key,
    )  # fmt: skip
    walk.cli("rollback", "rollback", "--stack", "prod")
    walk.cli("verify", "verify", "--stack", "prod", "--outputs", outputs, "--json", "-")
    if walk.kind == "team":  # the platform's prod stack, against the recorded cloud
        platform, stack = walk.root.parent / f"{walk.cloud}-platform", f"{walk.cloud}-prod"
        found = ("--stack", stack, "--project", platform, "--outputs", platform / "outputs.json")
        walk.cli("platform-verify", "verify", *found, "--json", "-")
        walk.cli("platform-rollback-now", "rollback", *found, "--now")
    walk.seconds = time.monotonic() - start
    return walk


@pytest.fixture(scope="module")
def walks(built_wheel, aws_venv, tmp_path_factory) -> dict[str, Walk]:
    base = tmp_path_factory.mktemp("personas")
    aws_values, unset = fake_aws_environment(base)
    env = {k: v for k, v in _clean_env().items() if k not in unset}
    with moto_server() as endpoint, replay_server() as (replay_env, replayed):
        aws_env = {**aws_values, "AWS_ENDPOINT_URL": endpoint, **replay_env}
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        outputs_data = _platform_in(session, endpoint)
        walks = {}
        for name in PERSONAS:  # before the threads: the key helper numbers its files
            key_for(f"{name}-lead@example.com")
        for name, (cloud, kind) in PERSONAS.items():
            if kind == "team":
                _platform_project(base, cloud)
            root = base / name
            root.mkdir()
            outputs = root.parent / f"{name}-outputs.json"
            outputs.write_text(json.dumps(outputs_data if cloud == "aws" else {}))
            walks[name] = (Walk(root, cloud, kind, {**env, **aws_env}), outputs)
        with ThreadPoolExecutor(max_workers=len(walks)) as pool:
            walked = pool.map(lambda w: _walk(w[0], built_wheel, w[1], aws_venv), walks.values())
            done = list(walked)
        for walk in done:  # shown with -s: what each step costs
            steps = ", ".join(f"{k} {v:.1f}" for k, v in walk.timings.items())
            print(f"\n{walk.name}: {walk.seconds:.1f} s ({steps})")
        for walk in done:
            walk.replayed = replayed.get(walk.cloud)
        return {walk.name: walk for walk in done}


def _platform_in(session: Any, endpoint: str) -> dict[str, Any]:
    """A compliant AWS platform in the moto server; its stack outputs."""

    class AtEndpoint:
        def client(self, service: str, region_name: str) -> Any:
            return session.client(service, region_name=region_name, endpoint_url=endpoint)

    return build_platform(AtEndpoint())


def _ok(result: Result) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _refused(result: Result, code: int = 2) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _starts(walks, name):
    walk = walks[name]
    assert f"wrote a {walk.kind} project for {walk.cloud}" in _ok(walk.steps["init"])
    assert "PASS: no mandatory violation" in _ok(walk.steps["plan-dev"])
    # The starter test passes under -W error: the fixture ignores the SDKs' own warnings.
    assert "2 passed" in _ok(walk.steps["test"])
    assert "PASS: no mandatory violation" in _ok(walk.steps["plan-prod"])


def _signs(walks, name):
    walk = walks[name]
    for step in [s for s in walk.steps if s.startswith("approve-")]:
        assert "recorded" in _ok(walk.steps[step])
    assert "waiver" in _ok(walk.steps["waive"])
    prod = walk.stack_file("prod")
    assert prod.count("signature: ") == len([s for s in walk.steps if s.startswith("approve-")]) + 1
    assert "rule: mlops-storage-lifecycle" in prod


def _platform_day2(walks):
    walk = walks["fraud-platform"]
    _ok(walk.steps["rollback"])
    assert "rollback: true" in walk.stack_file("prod")
    verify = walk.steps["verify"]
    # The moto account serves fraud-detector 7, not this stack's model 2: verify says so (exit 1)
    # while the artifact store, its key and the alarms pass.
    assert verify.returncode == 1, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    passed = {c["check"] for c in report["checks"] if c["passed"]}
    assert {"bucket-versioning", "bucket-encryption", "kms-rotation", "alarm-actions"} <= passed
    assert report["failed"], report


def _team_day2(walks, name):
    walk = walks[name]
    for step in ("rollback", "verify"):
        line = _refused(walk.steps[step])
        assert "Pulumi.prod.yaml is a team stack file (no serving)" in line
        assert "needs a platform stack file" in line


def _team_platform_day2(walks, name, checks, rolled_back):
    """The team's cloud, as recorded: verify passes every check reading only; rollback --now
    writes the one traffic change and flips ``serving.rollback`` in the stack file."""
    walk = walks[name]
    verify = walk.steps["platform-verify"]
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert [c["check"] for c in report["checks"]] == checks
    assert all(c["passed"] for c in report["checks"]) and not report["failed"], report
    assert rolled_back in _ok(walk.steps["platform-rollback-now"])
    assert walk.replayed is not None
    [(method, url, body)] = walk.replayed.writes  # the endpoint's PUT, the service's PATCH
    assert method == {"azure": "PUT", "gcp": "PATCH"}[walk.cloud] and "traffic" in json.dumps(body)
    stack = walk.root.parent / f"{walk.cloud}-platform/stacks/Pulumi.{walk.cloud}-prod.yaml"
    assert "rollback: true" in stack.read_text()


def test_three_personas_walk_from_the_wheel(walks):
    # One test: under xdist a module's tests may land on several workers, each of which would
    # build the wheel and the three venvs again.
    for name in PERSONAS:
        _starts(walks, name)
        _signs(walks, name)
    _platform_day2(walks)
    _team_day2(walks, "recsys-serving")
    _team_day2(walks, "churn-training")
    _team_platform_day2(walks, "recsys-serving", gcp_checks(), "is moving 100% of traffic to")
    _team_platform_day2(
        walks, "churn-training", azure_checks(), "is updating its traffic to blue 0%, green 100%"
    )
