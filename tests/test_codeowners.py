"""Every file `plan` trusts (allowed signers, saved state, the pack) needs an owner's review."""

from __future__ import annotations

import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _owned_patterns() -> list[str]:
    lines = (REPO / ".github" / "CODEOWNERS").read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def _covered(path: str, patterns: list[str]) -> bool:
    # GitHub's rule for the patterns used here: a leading "/" anchors at the root, a trailing "/"
    # owns everything below that directory, "*" matches within one path segment.
    for pattern in patterns:
        if pattern.startswith("**/") and pattern.endswith("/"):
            # "**/name/": a directory of that name at any depth, and everything below it.
            name = pattern[3:-1]
            if name in path.split("/")[:-1]:
                return True
            continue
        anchored = pattern.lstrip("/")
        if anchored.endswith("/"):
            depth = anchored.count("/")
            prefix = "/".join(path.split("/")[:depth]) + "/"
            if path.count("/") >= depth and fnmatch.fnmatchcase(prefix, anchored):
                return True
        elif fnmatch.fnmatchcase(path, anchored):
            return True
    return False


def _trusted_files() -> list[str]:
    found = [
        *REPO.glob("**/governance/allowed_signers"),
        *REPO.glob("stacks/state/*.json"),
        *REPO.glob("examples/*/state/*.json"),
        *REPO.glob("**/state/*.json"),
        *REPO.glob("policies/**/*.py"),
        REPO / ".ci" / "run",
    ]
    skip = {".venv", ".venv-highest", ".cache", "build"}
    return sorted(
        str(p.relative_to(REPO)) for p in found if not skip & set(p.relative_to(REPO).parts)
    )


def test_every_trusted_file_has_an_owner():
    patterns = _owned_patterns()
    files = _trusted_files()
    assert "governance/allowed_signers" in files and "stacks/state/gcp-prod.json" in files
    assert [f for f in files if not _covered(f, patterns)] == []


def test_the_matcher_does_not_own_lookalikes():
    patterns = _owned_patterns()
    assert not _covered("stacks/Pulumi.aws-prod.yaml", patterns)
    assert not _covered("examples/team-stack-aws/governance.md", patterns)
    assert not _covered("docs/governance/allowed_signers", patterns)
    assert _covered("examples/team-stack-gcp/state/dev.json", patterns)
    assert not _covered("docs/state.md", patterns)
    assert not _covered("components/testing/deploy/state.py", patterns)


def test_saved_state_of_a_team_program_at_any_depth_has_an_owner():
    # plan reads <stackConfigDir>/state/<stack>.json of any program directory it is given.
    patterns = _owned_patterns()
    assert _covered("teams/fraud/stacks/state/prod.json", patterns)
    assert _covered("examples/dvc-remote/stacks/state/dev.json", patterns)
    assert _covered("state/prod.json", patterns)
