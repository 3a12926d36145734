"""The ground floor: facts about the stack file that the components, the CLI and the policy pack
all read, with no Pulumi SDK at import and no component or rule behind them (imported as
``mlops_iac.spec``). Each fact has one home here:

- ``keys``: the config key ``mlops:platform`` and the lineage tag keys.
- ``models``, ``rules``, ``errors``, ``parse``: the stack file's pydantic models, its
  cross-field rules, its one-line errors, and parsing/loading (``load_spec`` imports Pulumi
  only when called). ``mlops_iac.components.spec`` re-exports them for team programs.
- ``stackyaml``: the bounded, strict YAML loader every stack file goes through first.
- ``defaults``: the cloud-neutral defaults; ``gpu``: the GPU catalogue.
- ``limits``: cloud limits as pure functions (SageMaker's traffic routing rules).
- ``identities``: how approver and owner identities compare (exact to grant, by Unicode
  confusable skeleton to refuse).
- ``clouds``: the cloud registry (name, SDK, extra, type-token provider, tag input, module
  paths) that every enumeration of clouds reads.

The drift job's wire names and default thresholds live in ``mlops_iac.drift.wire`` (standard
library only), which ``defaults`` reads.
"""
