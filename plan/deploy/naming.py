"""Physical names exactly as the providers compute them: explicit name inputs, else auto-names.

pulumi-aws and pulumi-gcp auto-name a resource ``<logical name>-<7 random hex>``;
pulumi-azure-native appends 8 random hex characters with no dash and does not lowercase
(https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming,
https://github.com/pulumi/pulumi-azure-native/issues/3406,
https://github.com/pulumi/pulumi-azure-native/issues/3665). Nothing is sanitised or truncated: a
name the cloud would refuse stays in the plan so the deploy-constraint catalogue can refuse it.

The random part is a digest of the logical name, so a plan is reproducible run to run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

AZURE_PACKAGE = "azure-native"


def suffix(logical: str, length: int) -> str:
    """The deterministic stand-in for the provider's random suffix."""
    return hashlib.sha1(logical.encode()).hexdigest()[:length]


def autoname(type_token: str, logical: str) -> str:
    """The name the provider would generate for a resource with no explicit name input."""
    if type_token.split(":", 1)[0] == AZURE_PACKAGE:
        return f"{logical}{suffix(logical, 8)}"
    return f"{logical}-{suffix(logical, 7)}"


def physical_name(
    type_token: str, logical: str, inputs: Mapping[str, Any], name_input: str | None
) -> str:
    """The resource's real name: the explicit ``name_input`` when set, else the auto-name."""
    if name_input:
        value = inputs.get(name_input)
        if isinstance(value, str) and value:
            return value
    prefix = inputs.get("namePrefix")
    if isinstance(prefix, str) and prefix:
        # pulumi-aws passes a prefix to the Terraform provider, which appends a 26-character
        # unique id (a timestamp and a counter).
        return f"{prefix}{suffix(logical, 26)}"
    return autoname(type_token, logical)
