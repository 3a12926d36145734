"""Re-sign the example governance records with fresh example keys, then destroy the keys.

The reference stacks (``stacks/``) and the team examples (``examples/*/``) carry signed
approvals, enforcement changes and waivers so that ``plan`` shows the gate passing. Their keys
are examples: this tool sets each approval's model card digest to the committed card's, makes a
new ed25519 key per approver in a temporary directory, writes the public halves to each
project's ``governance/allowed_signers``, replaces every signature in the project's stack files
with one over the record as it now reads (``policies.signatures``), and deletes the private
halves when it ends. Run it after changing what a record signs:

    python -m tools.example_signatures
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_iac.cli import stackfile
from mlops_iac.policies import governance, signatures, trust
from tools.generated import ROOT_DIR

_CARD = re.compile(
    r'(?P<head>modelCard: "(?P<card>[^"]+)"\n\s+modelCardSha256: ")[0-9a-f]{64}(?P<tail>")'
)
#: Project directories whose example records are signed, and the header of their signers file.
PROJECTS: Mapping[str, str] = {
    ".": (
        "# Approvers' public SSH keys: mlops-iac plan verifies signed approvals, waivers and\n"
        "# enforcement changes against this file (ssh-keygen -Y verify). Protect it with "
        "CODEOWNERS.\n"
        "# These are EXAMPLE keys: their private halves were destroyed after signing the example\n"
        "# approvals in stacks/ (python -m tools.example_signatures). Replace them with your\n"
        "# approvers' keys (see docs/governance.md).\n"
    ),
    "examples/team-stack-aws": (
        "# The approver's public SSH key (EXAMPLE: its private half was destroyed after signing "
        "the\n# approvals in Pulumi.prod.yaml). See docs/governance.md.\n"
    ),
}


def _key(directory: Path, identity: str) -> Path:
    path = directory / identity.replace("@", "_at_")
    if not path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", identity, "-f", str(path)],
            check=True,
            capture_output=True,
        )
    return path


def _records(
    platform: Mapping[str, Any], project: str, environment: str
) -> list[tuple[Any, bytes]]:
    """``(record, payload)`` of every signed record of one stack file."""
    governance = platform.get("governance") or {}
    found = [
        (r, signatures.approval_payload(project, r)) for r in governance.get("approvals") or ()
    ]
    found += [(r, signatures.waiver_payload(project, r)) for r in governance.get("waivers") or ()]
    enforcement = governance.get("enforcementApproval")
    if enforcement:
        level = str(governance.get("enforcement"))
        found.append(
            (enforcement, signatures.enforcement_payload(project, environment, level, enforcement))
        )
    return [(r, data) for r, data in found if r.get("signature")]


def _refresh_cards(project_dir: Path, sf: stackfile.StackFile) -> stackfile.StackFile:
    """Set each approval's ``modelCardSha256`` (written right after its ``modelCard``, as
    ``mlops-iac approve`` writes them) to the committed card's digest."""

    def digest(found: re.Match[str]) -> str:
        card = governance.card_digest(project_dir, found["card"])
        return f"{found['head']}{card}{found['tail']}"

    text = _CARD.sub(digest, sf.text)
    if text == sf.text:
        return sf
    stackfile.write_atomic(sf.path, text.encode())
    return stackfile.load(project_dir, sf.stack)


def resign(project_dir: Path, header: str, keys: Path) -> list[str]:
    """Re-sign every signed record of ``project_dir``'s stack files (after setting each model
    card's digest); the files changed."""
    settings = trust.load(project_dir)
    config_dir = stackfile.stack_config_dir(project_dir)
    identities: set[str] = set()
    changed = []
    for path in sorted(config_dir.glob("Pulumi.*.yaml")):
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        sf = _refresh_cards(project_dir, stackfile.load(project_dir, stack))
        platform = sf.spec.model_dump(by_alias=True, mode="json")
        environment = settings.environment(stack)[0]
        text = sf.text
        for record, data in _records(platform, sf.spec.project, environment):
            who = str(record["approvedBy"])
            identities.add(who)
            new = signatures.sign(data, _key(keys, who))
            text = text.replace(str(record["signature"]), new, 1)
        if text != sf.text:
            stackfile.write_atomic(path, text.encode())
            changed.append(str(path.relative_to(ROOT_DIR)))
    lines = []
    for who in sorted(identities):
        public = Path(f"{_key(keys, who)}.pub").read_text().split()
        lines.append(f'{who} namespaces="{signatures.NAMESPACE}" {public[0]} {public[1]}')
    if lines:
        (project_dir / signatures.ALLOWED_SIGNERS).write_text(header + "\n".join(lines) + "\n")
    return changed


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlops-iac-example-keys-") as keys:
        for project, header in PROJECTS.items():
            for changed in resign(ROOT_DIR / project, header, Path(keys)):
                print(f"re-signed {changed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
