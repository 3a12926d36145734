"""Lineage tags as Kubernetes labels.

Label keys are an optional DNS-subdomain prefix and a name of at most 63 characters; values are at
most 63 characters of ``[A-Za-z0-9-_.]``, starting and ending alphanumeric (Kubernetes "Labels and
Selectors", https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/). The
canonical ``mlops:git-sha`` becomes ``mlops/git-sha``; an email ``a@b.com`` becomes ``a_b.com``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PREFIX = "mlops"
_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def label_key(tag_key: str) -> str:
    """``mlops:git-sha`` → ``mlops/git-sha``."""
    prefix, _, name = tag_key.partition(":")
    return f"{prefix}/{name}" if name else tag_key


def label_value(value: str) -> str:
    """A tag value made a valid label value (invalid characters become ``_``, max 63)."""
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:63]
    return text.strip("_.-")


def kubernetes_labels(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags (canonical ``mlops:…`` keys) as Kubernetes labels."""
    return {label_key(k): label_value(str(v)) for k, v in tags.items()}


def invalid_label(key: str, value: str) -> str | None:
    """Why ``key: value`` is not a valid Kubernetes label, or None."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not re.match(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", prefix)):
        return f"label key {key!r}: prefix is not a DNS subdomain"
    if not _NAME.match(name):
        return f"label key {key!r}: name must be ≤ 63 characters of [A-Za-z0-9-_.]"
    if not _VALUE.match(value):
        return f"label {key!r}: value {value!r} must be ≤ 63 characters of [A-Za-z0-9-_.]"
    return None
