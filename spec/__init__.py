"""The ground floor: facts about the stack file that both the components and the policy pack
read, with no Pulumi SDK and no component or rule behind them (imported as ``mlops_iac.spec``).

- ``identities``: how approver and owner identities compare (exact to grant, by Unicode
  confusable skeleton to refuse).
- ``clouds``: the cloud registry (name, SDK, extra, type-token provider, tag input, module
  paths) that every enumeration of clouds reads.
"""
