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


HOSTILE_URLS = [
    "https://git.example/org/x)[click](javascript:alert(1))",
    "https://git.example/org/x](javascript:alert(1)",
    'https://git.example/org/x"}],"evil":["',
    "https://git.example/org/x\\u0022",
    "https://git.example/org/x`code`",
    "https://git.example/<img src=x onerror=alert(1)>",
    "https://git.example/org/x'",
    "https://git.example/org x",
    "https://git.example/org\u2028/x",
    "https://git.example/org/x\x1b[31m",
    "https://git.example/org/x\u202e",
    "https://gіt.example/org/x",  # Cyrillic i: a lookalike host
    "https://git.example@evil.example/org/x",
    "https://git.example:99999/org/x",
    "https://git.example:port/org/x",
    "https://[::1/org/x",
    "https:///org/x",
    "https://git.example/org/x?next=javascript:alert(1)",
    "https://git.example/org/x#frag",
    "https://git.example\\evil.example/org/x",
    "javascript://git.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("value", HOSTILE_URLS)
def test_a_hostile_docs_url_never_reaches_sarif_or_policies_json(
    monkeypatch, capsys, cli, value
) -> None:
    monkeypatch.setattr(report.metadata, "metadata", lambda _name: Message())
    monkeypatch.setenv(report.DOCS_URL_ENV, value)
    report._warn_ignored_docs_url.cache_clear()
    assert report.docs_base(value) is None
    assert report.project_url() is None
    warning = capsys.readouterr().err
    assert warning == (
        "mlops-iac: warning: $MLOPS_IAC_DOCS_URL is not an absolute http(s) URL without spaces, "
        "quotes, brackets, parentheses or backslashes; ignored\n"
    )
    rules = _sarif_rules()
    for rule in rules:
        assert "helpUri" not in rule
        assert f"[Rule reference](docs/rules.md#{rule['id']})" in rule["help"]["markdown"]
    sarif_text = json.dumps(rules)
    assert "git.example" not in sarif_text and "javascript" not in sarif_text
    assert cli("policies", "--json") == 0, cli.err
    assert "git.example" not in cli.out and "javascript" not in cli.out
    for entry in json.loads(cli.out)["policies"]:
        assert entry["helpUri"] == f"docs/rules.md#{entry['name']}"


def test_a_hostile_help_base_argument_is_dropped_too() -> None:
    for rule in _sarif_rules(help_base="https://x.example/a)[x](javascript:alert(1)"):
        assert "helpUri" not in rule and "javascript" not in json.dumps(rule)


def test_a_hostile_package_url_is_skipped_for_the_next_safe_one(monkeypatch) -> None:
    message = Message()
    message["Project-URL"] = "Repository, https://x.example/a)[x](javascript:alert(1)"
    message["Project-URL"] = "Homepage, https://home.example/org/x/"
    monkeypatch.setattr(report.metadata, "metadata", lambda _name: message)
    monkeypatch.delenv(report.DOCS_URL_ENV, raising=False)
    assert report.project_url() == "https://home.example/org/x"


@pytest.mark.parametrize(
    "value",
    ["https://git.example/org/x", "http://git.example:8080/org/x/", "https://git.example"],
)
def test_a_plain_docs_url_is_accepted(value) -> None:
    assert report.docs_base(value) == value.rstrip("/")
