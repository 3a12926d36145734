"""Regions a stack names, checked offline: a misspelled region (``us-esat-1``) is bad input.

AWS's regions come from the installed botocore's partition data (``botocore/data/partitions.json``,
the file botocore resolves endpoints with), so they follow the AWS SDK release. Azure's and GCP's
come from ``regions.yaml`` next to this module (their SDKs carry no list), with the page each was
read from and the date. Everything is read on first use and kept.

A region newer than the list is refused with a way out: ``plan --allow-unknown-region`` turns the
error into a warning (and a newer botocore, or an updated ``regions.yaml``, knows it).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac.spec import suggest
from mlops_iac.spec.keys import ROOT

BOTOCORE_PARTITIONS_URL = (
    "https://github.com/boto/botocore/blob/develop/botocore/data/partitions.json"
)
GCP_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+[0-9]+)-[a-z]$")
_DATA = Path(__file__).with_name("regions.yaml")


@dataclass(frozen=True)
class Regions:
    """The known regions of one cloud and where the list comes from."""

    cloud: str
    names: frozenset[str]
    source: str

    def suggestion(self, value: str) -> str | None:
        """The closest known region to a misspelled one (``None``: nothing is close)."""
        return suggest.closest(_normal(self.cloud, value), self.names)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and _normal(self.cloud, value) in self.names


def _normal(cloud: str, value: str) -> str:
    # Azure accepts the display name too: "East US 2" is eastus2.
    return value.replace(" ", "").lower() if cloud == "azure" else value


@functools.cache
def _data_file() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(_DATA.read_text()) or {}


@functools.cache
def known(cloud: str) -> Regions | None:
    """The regions of ``aws``, ``azure`` or ``gcp`` (``None``: AWS without botocore installed)."""
    if cloud == "aws":
        return _aws()
    entry = _data_file()[cloud]
    return Regions(cloud, frozenset(entry["regions"]), f"{entry['source']} (read {entry['read']})")


def _aws() -> Regions | None:
    # The file itself, not botocore.loaders: reading 20 KB of JSON is all a plan needs, and
    # importing botocore's session machinery costs more than the check.
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "partitions.json"
    try:
        partitions = json.loads(data.read_text())["partitions"]
    except (OSError, ValueError, KeyError):
        return None
    names = {
        region
        for partition in partitions
        for region in partition.get("regions", {})
        if not region.endswith("-global")  # endpoint pseudo-regions, not places to deploy
    }
    version = _botocore_version(data.parent.parent)
    return Regions("aws", frozenset(names), f"botocore {version} partitions.json")


def _botocore_version(package: Path) -> str:
    match = re.search(r"__version__ = ['\"]([^'\"]+)", (package / "__init__.py").read_text())
    return match.group(1) if match else "(unknown version)"


# (config key, cloud, what it holds) for the provider settings a stack file carries.
PROVIDER_KEYS: tuple[tuple[str, str], ...] = (
    ("aws:region", "aws"),
    ("azure-native:location", "azure"),
    ("gcp:region", "gcp"),
    ("gcp:zone", "gcp"),
)
_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


def problem(cloud: str, value: Any) -> str | None:
    """Why ``value`` is not a region of ``cloud`` (``None``: it is, or the list is unavailable)."""
    regions = known(cloud)
    if regions is None or not isinstance(value, str):
        return None
    if value in regions:
        return None
    zone = GCP_ZONE.match(value) if cloud == "gcp" else None
    if zone and zone["region"] in regions:
        return None
    what = f"{_NAMES[cloud]} {'zone' if zone else 'region'}"
    guess = regions.suggestion(zone["region"] if zone else value)
    if zone and guess:
        guess = f"{guess}-{value[-1]}"
    hint = f"did you mean {guess!r}? " if guess else ""
    return (
        f"unknown {what} {value!r}; {hint}(known from {regions.source}; a region newer than "
        "that list: plan with --allow-unknown-region)"
    )


def misspelled_keys(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Provider keys of a stack config that misspell a region key (``aws:regoin``), as (key,
    message): the provider would ignore them and deploy to its default region."""
    problems: list[tuple[str, str]] = []
    wanted = {key for key, _cloud in PROVIDER_KEYS}
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if key in wanted or not name or isinstance(value, Mapping):
            continue
        near = [k for k in wanted if k.startswith(f"{namespace}:")]
        close = difflib.get_close_matches(str(key), near, 1, 0.8)
        if close:
            problems.append((str(key), f"unknown key; did you mean {close[0]!r}?"))
    return problems


def unknown_regions(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Region values of a stack config no list knows, as (key path, message).

    Checks the provider keys (``aws:region``, ``azure-native:location``, ``gcp:region``,
    ``gcp:zone``) and the platform's own region settings (``artifacts.replicaRegion`` on AWS,
    ``gcp.gpuZones``).
    """
    problems: list[tuple[str, str]] = []
    for key, cloud in PROVIDER_KEYS:
        if key in config and (message := problem(cloud, config[key])):
            problems.append((key, message))
    platform = config.get(ROOT)
    if isinstance(platform, Mapping):
        problems.extend(_platform_problems(platform))
    return problems


def _platform_problems(platform: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    cloud = platform.get("cloud")
    artifacts = platform.get("artifacts")
    if cloud == "aws" and isinstance(artifacts, Mapping):
        replica = artifacts.get("replicaRegion")
        if replica is not None and (message := problem("aws", replica)):
            problems.append((f"{ROOT}.artifacts.replicaRegion", message))
    gcp = platform.get("gcp")
    zones = gcp.get("gpuZones") if isinstance(gcp, Mapping) else None
    if cloud == "gcp" and isinstance(zones, list):
        for index, zone in enumerate(zones):
            if isinstance(zone, str) and not GCP_ZONE.match(zone):
                problems.append(
                    (
                        f"{ROOT}.gcp.gpuZones[{index}]",
                        f"{zone!r} is not a zone (<region>-<letter>, e.g. us-central1-a)",
                    )
                )
            elif message := problem("gcp", zone):
                problems.append((f"{ROOT}.gcp.gpuZones[{index}]", message))
    return problems
