"""Governance records that did not hold: a refused enforcement downgrade, a bad waiver.

``mlops-iac plan`` (and the pack entry point) review the stack file's signed records
(``mlops_iac.policies.governance``) and pass what did not hold as this rule's ``problems``; the
rule reports each one, so a forged or unsigned downgrade fails the plan instead of silently
lowering every other rule.
"""

from __future__ import annotations

from pulumi_policy import StackValidationArgs

from ._base import Report, Rule


def _validate(args: StackValidationArgs, report: Report) -> None:
    problems = args.get_config().get("problems", ())
    if not problems:
        args.not_applicable("every governance record holds")
    for problem in problems:
        report(str(problem))


GOVERNANCE_RECORDS = Rule(
    name="mlops-governance-records",
    description=(
        "Lowered enforcement and waivers carry a valid signed four-eyes approval; the stack "
        "file does not claim a lower environment than governance/settings.yaml gives it; in "
        "staging and prod the served versions' approvals cover what is served (artifact and "
        "image digests, metrics against the criteria, model card)."
    ),
    remediation=(
        "Have a listed approver who is not the owner sign the record with their key "
        "(`mlops-iac approve --enforcement advisory --key FILE`, `mlops-iac waive --key FILE`), "
        "with their public key in governance/allowed_signers; or remove the record. Write the "
        "environment governance/settings.yaml gives the stack (changing that file needs a "
        "platform owner's review). Serve what the approval signed, or re-approve the version "
        "(`mlops-iac approve --metrics FILE --artifact FILE --key FILE`)."
    ),
    kind="stack",
    validate=_validate,
    waivable=False,
    config={
        "problems": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Set by `mlops-iac plan`: records that did not verify.",
        }
    },
)

RULES: tuple[Rule, ...] = (GOVERNANCE_RECORDS,)
