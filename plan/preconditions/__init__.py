"""What a stack needs from its account before ``pulumi up``, derived from a plan's resources.

A plan proves what the providers accept; it cannot see the account the stack lands in: quotas,
registered providers, enabled APIs, buckets and objects the stack names but does not create. This
package turns a recording into that list, one ``Precondition`` each, as data: which cloud, what is
needed, why (the documentation page), who can see it (``seen_by``) and what a live check needs
(``check``). ``mlops-iac plan`` lists them; ``mlops-iac preflight`` checks them with the caller's
credentials. Nothing here calls a cloud.

``seen_by``:

- ``"plan"``: the plan alone decides it (the values are in the recording);
- ``"preflight"``: a read-only call with the caller's credentials answers it;
- ``"deploy-only"``: only a real deploy shows it (capacity, another account's permissions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SeenBy = Literal["plan", "preflight", "deploy-only"]
SEEN_BY: tuple[SeenBy, ...] = ("plan", "preflight", "deploy-only")


@dataclass(frozen=True)
class Precondition:
    """One thing the account must provide.

    ``check`` is what the live check needs: ``kind`` names the check and the other keys are its
    inputs (quota code, region, the amount needed...); empty for ``deploy-only`` items.
    """

    id: str
    cloud: str
    what: str
    detail: str
    source_url: str
    seen_by: SeenBy
    check: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``plan --json`` key ``preconditions``, ``preflight --json``)."""
        return {
            "id": self.id,
            "cloud": self.cloud,
            "what": self.what,
            "detail": self.detail,
            "sourceUrl": self.source_url,
            "seenBy": self.seen_by,
            "check": dict(self.check),
        }


def derive(resources: list[Any], config: Mapping[str, Any]) -> list[Precondition]:
    """The preconditions of a recorded program (its resources and stack config), sorted by id.

    Each cloud's resources are read by that cloud's module; a program with resources of several
    clouds gets the preconditions of each.
    """
    from mlops_iac.plan.preconditions import aws, azure, gcp

    found: list[Precondition] = []
    packages = {r.type.split(":", 1)[0] for r in resources}
    if "aws" in packages:
        found += aws.derive(resources, config)
    if "azure-native" in packages:
        found += azure.derive(resources, config)
    if "gcp" in packages:
        found += gcp.derive(resources, config)
    return sorted(found, key=lambda p: p.id)


def of(resources: Iterable[Any], type_token: str) -> list[Any]:
    """The custom resources of one type, in recording order."""
    return [r for r in resources if r.type == type_token]


def get(data: Any, path: str) -> Any:
    """``a.b.c`` from nested mappings; a list step takes its first item; ``None`` when absent."""
    for part in path.split("."):
        if isinstance(data, list):
            data = data[0] if data else None
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def number(value: Any) -> int | None:
    """An integer from a recorded number or numeric string (Pulumi records numbers as floats)."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
