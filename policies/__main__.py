"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policies`.

This is the only module that constructs ``PolicyPack``: doing so starts the analyzer's gRPC
server and blocks forever, so nothing may import it (tests use ``mlops_iac.policies.offline``).

Levels and the approval-gate config come from the stack config the CLI passes the pack process
(``PULUMI_CONFIG``) and the trusted ``governance/settings.yaml`` (the stack's environment), so a
preview of ``aws-prod`` is mandatory and sees the stack file's approvals; unreadable trusted
settings stop the pack with one line. GPU prices cannot come from there (this package does not
import ``components``): pass them with ``--policy-pack-config`` (a document built by
``mlops_iac.policies.packs.pack_config``).
"""

import os
import sys

from pulumi_policy import EnforcementLevel, PolicyPack

from mlops_iac.policies import packs, trust

try:
    settings = packs.settings_from_stack_config(
        os.environ.get("PULUMI_CONFIG"), os.environ.get("PULUMI_STACK")
    )
except trust.TrustError as exc:
    # A broken trust point must never relax a rule: the pack refuses to start, in one line.
    sys.exit(f"mlops-governance policy pack: {exc}")

PolicyPack(
    name=packs.PACK_NAME,
    description=packs.PACK_DESCRIPTION,
    policies=packs.policies(),
    # Policies without a configured level fail closed.
    enforcement_level=EnforcementLevel.MANDATORY,
    initial_config=packs.to_initial_config(packs.pack_config(**settings)),
)
