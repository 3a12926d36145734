"""SARIF and JSON reports of an evaluation."""

from __future__ import annotations

import json

from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from mlops_iac.policies import packs, report

from . import baseline


def _broken():
    rec = baseline.aws_platform()
    rec.set("registry-images", "imageTagMutability", "MUTABLE")
    rec.set("serving-scaling", "maxCapacity", 50)
    return rec


def _results(rec, environment="prod", **config):
    return packs.evaluate(rec, baseline.config(environment, **config), environment=environment)


def test_sarif_has_rules_levels_and_locations() -> None:
    rec = _broken()
    document = report.to_sarif(_results(rec, gpu_budget=3), stack="aws-prod")
    json.dumps(document)  # serialisable as is
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [rule.name for rule in packs.rules()]
    images = next(r for r in rules if r["id"] == "mlops-images-immutable-scanned")
    assert images["shortDescription"]["text"].startswith("Image repositories")
    assert "IMMUTABLE" in images["help"]["text"]
    assert "CKV_AWS_51" in images["help"]["markdown"]
    assert images["defaultConfiguration"]["level"] == "error"
    assert "CKV_AWS_51" in images["properties"]["tags"]

    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) == {
        "mlops-images-immutable-scanned",
        "mlops-serving-autoscaling-bounds",
        "mlops-gpu-budget",
    }
    result = by_rule["mlops-images-immutable-scanned"]
    assert result["level"] == "error"
    assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert result["message"]["text"].startswith("registry-images (aws:ecr/repository:Repository): ")
    (location,) = result["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.aws-prod.yaml"
    assert location["physicalLocation"]["region"]["startLine"] == 1
    assert location["logicalLocations"][0]["fullyQualifiedName"] == rec.get("registry-images").urn
    # The budget is a stack-wide finding: it still has a file location, and no logical one.
    stack_wide = by_rule["mlops-gpu-budget"]
    assert stack_wide["message"]["text"].startswith("stack: max GPU spend")
    assert "logicalLocations" not in stack_wide["locations"][0]
    fingerprints = [r["partialFingerprints"]["mlopsIacViolation/v1"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_levels_follow_the_environment() -> None:
    run = report.to_sarif(_results(_broken(), "dev"), stack="aws-dev")["runs"][0]
    assert {r["level"] for r in run["results"]} == {"warning"}
    assert {r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]} == {
        "warning"
    }


def test_json_report_is_stable_and_complete() -> None:
    rec = _broken()
    rec.get("serving-role").inputs["secretThing"] = {
        SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG,
        "value": "x",
    }
    results = _results(rec)
    document = report.to_json(results, stack="aws-prod", environment="prod", recording=rec)
    json.dumps(document)
    assert document["schemaVersion"] == 1
    assert document["passed"] is False
    assert document["project"] == "fraud-detection"
    assert document["summary"]["mandatory"] == 2
    assert document["summary"]["resources"] == len(rec.resources)
    assert {v["policy"] for v in document["violations"]} == {
        "mlops-images-immutable-scanned",
        "mlops-serving-autoscaling-bounds",
    }
    violation = document["violations"][0]
    assert set(violation) == {
        "policy",
        "level",
        "urn",
        "resourceName",
        "resourceType",
        "message",
        "remediation",
        "keyPath",
        "location",
    }
    assert violation["keyPath"] is None and violation["location"] is None  # no locator given
    assert len(document["policies"]) == len(packs.rules())
    role = next(r for r in document["resources"] if r["name"] == "serving-role")
    assert role["inputs"]["secretThing"] == "[secret]"
    assert set(role) == {"urn", "type", "name", "parent", "custom", "protect", "inputs"}


def test_json_report_without_recording_has_no_resources() -> None:
    document = report.to_json(_results(baseline.aws_platform()), stack="aws-prod")
    assert document["passed"] is True
    assert "resources" not in document


def test_junit_one_case_per_policy_failed_by_mandatory_violations() -> None:
    from xml.etree import ElementTree as ET

    from mlops_iac.policies import packs, report

    from . import baseline

    rec = baseline.aws_platform()
    rec.set("artifacts-versioning", "versioningConfiguration.status", "Suspended")
    results = packs.evaluate(rec, baseline.config("prod"), environment="prod")
    root = ET.fromstring(report.to_junit(results, stack="aws-prod"))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {p.name for p in results.policies}
    assert cases["mlops-storage-versioned"].find("failure") is not None
    assert cases["mlops-storage-lifecycle"].find("failure") is None
    assert root.get("failures") == str(len(results.mandatory))
