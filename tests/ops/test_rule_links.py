"""Every rule links to its section of the generated rules reference, ``docs/rules.md``.

SARIF 2.1.0 §3.49.12: ``helpUri`` is "the absolute URI [RFC3986] of the primary documentation",
so it is emitted only when the package declares its repository URL; the repository-relative link
is always in the rule's ``help`` and ``properties.reference``, and in ``policies --json``.
"""

from __future__ import annotations

import json
import re
import tomllib
from email.message import Message

import pytest

from mlops_iac.policies import packs, report
from tests.conftest import REPO
from tests.policies import baseline

RULES_DOC = REPO / "docs" / "rules.md"
BASE = "https://git.example/org/mlops-iac"


def _anchors() -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", RULES_DOC.read_text(), re.M)
    return {report.rule_anchor(h) for h in headings}


def _anchor_of(link: str) -> str:
    path, _, anchor = link.partition("#")
    assert path.endswith("docs/rules.md"), link
    return anchor


def _sarif_rules(**kwargs) -> list[dict]:
    rec = baseline.aws_platform()
    results = packs.evaluate(rec, baseline.config("prod"), environment="prod")
    log = report.to_sarif(results, stack="aws-prod", **kwargs)
    return log["runs"][0]["tool"]["driver"]["rules"]


def test_every_sarif_rule_has_an_absolute_help_uri_to_its_anchor() -> None:
    rules = _sarif_rules(help_base=BASE)
    assert [r["id"] for r in rules] == [rule.name for rule in packs.rules()]
    anchors = _anchors()
    for rule in rules:
        uri = rule["helpUri"]
        assert uri == f"{BASE}/blob/HEAD/docs/rules.md#{rule['id']}"
        assert report.is_absolute_uri(uri)
        assert _anchor_of(uri) in anchors, f"{rule['id']}: no heading in docs/rules.md"
        assert rule["help"]["text"].startswith("Remediation: ")
        assert f"[Rule reference]({uri})" in rule["help"]["markdown"]
        tags = rule["properties"]["tags"]
        assert len(set(tags)) == len(tags), f"{rule['id']}: SARIF tags must be unique"


def test_without_a_repository_url_the_link_stays_relative_and_out_of_help_uri() -> None:
    anchors = _anchors()
    for rule in _sarif_rules(help_base=""):
        assert "helpUri" not in rule  # a relative helpUri would not be SARIF 2.1.0
        reference = rule["properties"]["reference"]
        assert reference == f"docs/rules.md#{rule['id']}" and _anchor_of(reference) in anchors
        assert f"Rule reference: {reference}" in rule["help"]["text"]


def test_the_repository_url_comes_from_the_package_metadata(monkeypatch) -> None:
    def fake(urls: list[str]) -> Message:
        message = Message()
        for url in urls:
            message["Project-URL"] = url
        return message

    urls = ["Homepage, https://home.example", "Source Code, https://git.example/org/x/"]
    monkeypatch.setattr(report.metadata, "metadata", lambda _name: fake(urls))
    assert report.project_url() == "https://git.example/org/x"
    assert report.rule_help_uri("mlops-gpu-budget") == (
        "https://git.example/org/x/blob/HEAD/docs/rules.md#mlops-gpu-budget"
    )
    monkeypatch.setattr(report.metadata, "metadata", lambda _name: fake(["Bugs, ftp://x"]))
    assert report.project_url() is None
    assert report.rule_help_uri("mlops-gpu-budget") == "docs/rules.md#mlops-gpu-budget"


def test_the_installed_url_is_the_one_pyproject_declares() -> None:
    """One source of truth: ``[project.urls]``, read back through importlib.metadata."""
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("urls", {})
    if not urls:
        assert report.project_url() is None
    else:
        assert report.project_url() in {u.rstrip("/") for u in urls.values()}


def test_policies_json_carries_each_rules_link(cli) -> None:
    assert cli("policies", "--json") == 0, cli.err
    anchors = _anchors()
    for entry in json.loads(cli.out)["policies"]:
        assert entry["helpUri"].endswith(f"docs/rules.md#{entry['name']}")
        assert _anchor_of(entry["helpUri"]) in anchors


@pytest.mark.parametrize("name", ["mlops-approval-gate", "Mixed Case_id"])
def test_rule_anchor_is_the_heading_slug(name: str) -> None:
    assert report.rule_anchor(name) == name.lower().replace(" ", "-")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://git.example/org/mlops-iac/", "https://git.example/org/mlops-iac"),
        ("javascript:alert(1)", None),
        ("git.example/org/mlops-iac", None),
        ("https://", None),
    ],
)
def test_the_docs_url_variable_sets_the_link_base_only_when_it_is_an_http_url(
    monkeypatch, value, expected
) -> None:
    monkeypatch.setattr(report.metadata, "metadata", lambda _name: Message())
    monkeypatch.setenv(report.DOCS_URL_ENV, value)
    assert report.project_url() == expected
    link = report.rule_help_uri("mlops-approval-gate")
    if expected:
        assert link == f"{expected}/blob/HEAD/docs/rules.md#mlops-approval-gate"
    else:
        assert link == "docs/rules.md#mlops-approval-gate"
