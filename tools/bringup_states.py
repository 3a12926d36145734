"""Write the saved states of the reference stacks: what their bring-up's first step leaves.

The reference stacks are planned as the ``pulumi up`` after their first:
``stacks/state/<stack>.json`` is the ``pulumi stack export`` that step 1 of
``mlops-iac plan --bring-up`` would leave (its resources, inputs, outputs and the stack
outputs). What a saved state holds that a later step deploys is kept, with its stack outputs:
``gcp-prod``'s records a Cloud Run service that has served version 6, so its plan is the canary
of version 7.
Run ``python -m tools.bringup_states`` after a change that alters what step 1 creates.
"""

from __future__ import annotations

import json
import sys

from mlops_iac.plan import bringup
from tools.generated import ROOT_DIR

STACKS = ("aws-dev", "aws-prod", "azure-dev", "azure-prod", "gcp-dev", "gcp-prod")
MANIFEST_TIME = "2026-12-01T09:00:00Z"


def export(stack: str, kept: dict | None = None) -> dict:
    """The ``pulumi stack export`` document of ``stack`` after its bring-up's first step, plus
    the resources and stack outputs of ``kept`` (a previous export) that step 1 does not make."""
    sequence = bringup.simulate(ROOT_DIR, stack)
    first = sequence.steps[0].result
    document = bringup.export_document(bringup.state_after(first.recording, 1), MANIFEST_TIME)
    if kept:
        resources = document["deployment"]["resources"]
        made = {r["urn"] for r in resources}
        # What a later step deployed (gcp-prod's service), not what an older step 1 made.
        later = {r.urn for r in sequence.steps[-1].result.recording.resources} - made
        old = kept["deployment"]["resources"]
        resources += [r for r in old if r["urn"] in later]
        roots = [r for r in old if r["type"] == "pulumi:pulumi:Stack"]
        if roots:
            resources[0]["outputs"].update(roots[0].get("outputs") or {})
        document["deployment"]["manifest"] = kept["deployment"].get("manifest") or {}
    return document


def main(argv: list[str] | None = None) -> int:
    for stack in argv or list(STACKS):
        path = ROOT_DIR / "stacks" / "state" / f"{stack}.json"
        document = export(stack, json.loads(path.read_text()) if path.exists() else None)
        # The mock engine registers from threads, so the recorded order varies between runs: the
        # root stack first, then by URN, so a regeneration changes only what changed.
        document["deployment"]["resources"].sort(
            key=lambda r: (r["type"] != "pulumi:pulumi:Stack", r["urn"])
        )
        text = json.dumps(document, indent=1, sort_keys=True, default=str) + "\n"
        # Asset paths are the checkout's: keep them repository-relative, the same on every clone.
        path.write_text(text.replace(f"{ROOT_DIR}/", ""))
        print(f"{path.relative_to(ROOT_DIR)}: {len(document['deployment']['resources'])} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
