"""Every file `plan` trusts (allowed signers and governance settings, saved state, the pack) needs
an owner's review: whoever can change one can approve a model, lower enforcement or hide an error.

Trust points can sit at any depth (a team directory's own ``governance/`` or ``state/``), so every
``**/governance/*`` file and every ``**/state/*.json`` in the repository must be covered.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SKIP = {".venv", ".venv-highest", ".cache", "build", ".git", "node_modules"}


def _owned_patterns() -> list[str]:
    lines = (REPO / ".github" / "CODEOWNERS").read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def _regex(pattern: str) -> re.Pattern[str]:
    """GitHub's CODEOWNERS rule (gitignore syntax): a pattern with a leading or inner ``/`` is
    anchored at the root, else it matches at any depth; ``**`` spans directories, ``*`` and ``?``
    stay within one segment; a trailing ``/`` owns everything below that directory, and so does
    a pattern that names a directory."""
    body = pattern.rstrip("/")
    anchored = "/" in body
    body = body.lstrip("/")
    out = ""
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif body.startswith("/**", i) and i + 3 == len(body):
            out += "/.*"
            i += 3
        elif body[i] == "*":
            out += "[^/]*"
            i += 1
        elif body[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(body[i])
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    suffix = "/.*" if pattern.endswith("/") else "(?:/.*)?"
    return re.compile(prefix + out + suffix)


def _covered(path: str, patterns: list[str]) -> bool:
    return any(_regex(pattern).fullmatch(path) for pattern in patterns)


def _trusted_files() -> list[str]:
    found = [
        *(p for p in REPO.glob("**/governance/**/*") if p.is_file()),
        *REPO.glob("**/state/*.json"),
        *REPO.glob("policies/**/*.py"),
        REPO / ".ci" / "run",
    ]
    return sorted(
        str(p.relative_to(REPO)) for p in found if not _SKIP & set(p.relative_to(REPO).parts)
    )


def test_every_trusted_file_has_an_owner():
    patterns = _owned_patterns()
    files = _trusted_files()
    assert {
        "governance/allowed_signers",
        "governance/settings.yaml",
        "stacks/state/gcp-prod.json",
        "examples/team-stack-gcp/state/dev.json",
    } <= set(files)
    assert [f for f in files if not _covered(f, patterns)] == []


def test_trust_points_at_any_depth_are_owned():
    # Where a team may put its own trust points tomorrow: owned before they exist.
    patterns = _owned_patterns()
    for path in (
        "governance/allowed_signers",
        "examples/team-stack-aws/governance/allowed_signers",
        "teams/fraud/payments/governance/allowed_signers",
        "teams/fraud/governance/settings.yaml",
        "teams/fraud/governance/keys/extra_signers",
        "docs/governance/allowed_signers",
        "stacks/state/aws-prod.json",
        "teams/fraud/deep/state/prod.json",
    ):
        assert _covered(path, patterns), path


def test_the_matcher_does_not_own_lookalikes():
    patterns = _owned_patterns()
    assert not _covered("stacks/Pulumi.aws-prod.yaml", patterns)
    assert not _covered("examples/team-stack-aws/governance.md", patterns)
    assert not _covered("docs/governance.md", patterns)
    assert not _covered("components/statefile.py", patterns)
    assert not _covered("examples/team-stack-aws/Pulumi.prod.yaml", patterns)
    assert _covered("examples/team-stack-gcp/state/dev.json", patterns)
    assert not _covered("docs/state.md", patterns)
    assert not _covered("plan/deploy/state.py", patterns)


def test_the_matcher_follows_githubs_rules():
    assert _regex("/governance/").fullmatch("governance/a/b")
    assert not _regex("/governance/").fullmatch("x/governance/a")
    assert _regex("**/governance/").fullmatch("x/y/governance/a")
    assert _regex("**/governance/").fullmatch("governance/a")
    assert _regex("**/state/*.json").fullmatch("a/b/state/x.json")
    assert not _regex("**/state/*.json").fullmatch("a/state/sub/x.json")
    assert not _regex("/examples/*/state/").fullmatch("examples/a/b/state/x.json")


def test_saved_state_of_a_team_program_at_any_depth_has_an_owner():
    # plan reads <stackConfigDir>/state/<stack>.json of any program directory it is given.
    patterns = _owned_patterns()
    assert _covered("teams/fraud/stacks/state/prod.json", patterns)
    assert _covered("examples/dvc-remote/stacks/state/dev.json", patterns)
    assert _covered("state/prod.json", patterns)
