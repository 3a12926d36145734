"""The rollout function's decision, cloud-independent: what an alarm or a quiet bake does to the
split between the new version and the previous one, and the record it leaves.

Azure (``rollout_azure``) and GCP (``rollout_gcp``) read the split from the endpoint or service,
ask :func:`decide`, and write the new split together with the record in one update of that
endpoint (a tag) or service (an annotation), so the record is where ``plan`` reads it: the
``mlops-rollout`` key of the endpoint's or service's state. Standard library only.

What it does, by design:

- ``rollback`` (an alarm fired): while a rollout is in progress and the new version has traffic,
  100% goes back to the previous version. Nothing else (already rolled back, no previous version
  on a first deploy, no rollout in progress, a version this function already promoted to 100%:
  the rollout is over) changes anything: a second firing is harmless.
- ``promote`` (a timer): after ``bake_minutes`` with the new version's share unchanged and no
  rollback, a canary goes to 100% and a linear rollout one ``step_percent`` further (at most
  100%). The first tick of a rollout starts the bake clock. A rolled-back version is never promoted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RECORD_KEY = "mlops-rollout"
"""Tag (Azure endpoint) or annotation (Cloud Run service) holding the last record."""
ACTIONS = ("rollback", "promote")
ROLLED_BACK = "rolled-back"
BAKING = "baking"
STEPPED = "stepped"
PROMOTED = "promoted"
MAX_WHY = 120
"""Characters of the reason kept in the record (an Azure tag value holds 256)."""


class RolloutError(Exception):
    """A setting or an answer the function cannot work with (one line)."""


@dataclass(frozen=True)
class Settings:
    """The function's settings (its app settings or environment variables)."""

    in_progress: bool
    strategy: str
    step_percent: int
    bake_minutes: int


def settings_from(env: Mapping[str, str]) -> Settings:
    """``ROLLOUT_IN_PROGRESS`` (``true``/``false``), ``ROLLOUT_STRATEGY``,
    ``ROLLOUT_STEP_PERCENT``, ``ROLLOUT_BAKE_MINUTES``; a missing or bad one is a ``RolloutError``.
    """
    try:
        in_progress = env["ROLLOUT_IN_PROGRESS"].lower()
        strategy = env["ROLLOUT_STRATEGY"]
        step, bake = int(env["ROLLOUT_STEP_PERCENT"]), int(env["ROLLOUT_BAKE_MINUTES"])
    except KeyError as exc:
        raise RolloutError(f"environment: {exc.args[0]} not set") from None
    except ValueError:
        raise RolloutError(
            "environment: ROLLOUT_STEP_PERCENT/ROLLOUT_BAKE_MINUTES not integers"
        ) from None
    if in_progress not in ("true", "false") or strategy not in ("canary", "linear", "all-at-once"):
        raise RolloutError("environment: ROLLOUT_IN_PROGRESS or ROLLOUT_STRATEGY not understood")
    if not 1 <= step <= 100 or bake < 0:
        raise RolloutError("environment: ROLLOUT_STEP_PERCENT must be 1..100, bake >= 0")
    return Settings(in_progress == "true", strategy, step, bake)


@dataclass(frozen=True)
class Split:
    """The new version (deployment or revision, with what it serves), the previous one, and the
    new version's share of traffic."""

    new: str
    previous: str | None
    new_share: int


@dataclass(frozen=True)
class Decision:
    """``share``: the new version's share to set (None: change nothing); ``record``: the record
    to write with it (None: keep the one there); ``message``: what happened, one line."""

    share: int | None
    record: dict[str, Any] | None
    message: str


def read_record(value: str | None) -> dict[str, Any] | None:
    """The record in a tag or annotation value; None for none or one not written by us."""
    try:
        record = json.loads(value) if value else None
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("state") else None


def write_record(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), sort_keys=True)


def call_api(method: str, url: str, body: Any, token: str) -> Any:
    """One JSON request to a cloud's REST API with the bearer ``token`` (30 s timeout); the
    decoded answer, ``{}`` when it is empty."""
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the cloud's API)
        raw = response.read()
    return json.loads(raw) if raw else {}


def _record(state: str, split: Split, share: int, now: dt.datetime, why: str) -> dict[str, Any]:
    return {
        "state": state,
        "new": split.new,
        "previous": split.previous,
        "share": share,
        "at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "why": why[:MAX_WHY],
    }


def decide(
    action: str,
    split: Split,
    record: Mapping[str, Any] | None,
    settings: Settings,
    now: dt.datetime,
    why: str = "",
) -> Decision:
    """What ``action`` does to ``split`` (see the module docstring)."""
    if action not in ACTIONS:
        raise RolloutError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    ours = record if record is not None and record.get("new") == split.new else None
    if not settings.in_progress:
        return Decision(None, None, "no rollout in progress: nothing to do")
    if split.previous is None:
        return Decision(
            None, None, f"{split.new} has no previous version to move traffic to (first deploy)"
        )
    if action == "rollback":
        if ours is not None and ours.get("state") == PROMOTED and split.new_share == 100:
            return Decision(None, None, f"{split.new} was promoted to 100%: rollout over")
        if split.new_share == 0:
            return Decision(None, None, f"{split.new} already takes no traffic")
        reason = why or "an alarm fired"
        return Decision(
            0,
            _record(ROLLED_BACK, split, 0, now, reason),
            f"rolled back: 100% to {split.previous}, 0% to {split.new} ({reason})",
        )
    if ours is not None and ours.get("state") == ROLLED_BACK:
        return Decision(None, None, f"{split.new} was rolled back: not promoted")
    if split.new_share in (0, 100):
        return Decision(None, None, f"{split.new} takes {split.new_share}%: nothing to promote")
    since = (
        _when(ours.get("at")) if ours is not None and ours.get("share") == split.new_share else None
    )
    if since is None:
        return Decision(
            None,
            _record(BAKING, split, split.new_share, now, "bake started"),
            f"{split.new} at {split.new_share}%: bake of {settings.bake_minutes} min started",
        )
    waited = (now - since).total_seconds() / 60
    if waited < settings.bake_minutes:
        return Decision(
            None, None, f"{split.new} at {split.new_share}%: baking ({waited:.0f} min so far)"
        )
    if settings.strategy == "linear":
        share = min(100, split.new_share + settings.step_percent)
    else:
        share = 100
    state = PROMOTED if share == 100 else STEPPED
    return Decision(
        share,
        _record(state, split, share, now, f"{settings.bake_minutes} min bake without alarm"),
        f"promoted: {split.new} {split.new_share}% -> {share}% after a quiet bake",
    )


def kept_share(
    record: Mapping[str, Any] | None, new: str, declared: int, live: int | None = None
) -> int:
    """The new version's share an update declares, given the live ``record``. While the stack
    file keeps the rollout of ``new`` in progress (``0 < declared < 100``), a record about
    ``new`` saying "rolled back" keeps 0%, and one saying "stepped" or "promoted" keeps the share
    the promotion reached (never less than ``declared``, at most 100%). Anything else (no record,
    another version's, a bake, a rollout the stack file declares over or rolled back) keeps
    ``declared``: ending a rollout is the stack file's explicit decision, which ``plan`` names.
    The serving components call it at every ``pulumi up``, so an update does not silently undo
    what the rollout function did. A "stepped" or "promoted" record counts only when the new
    version's ``live`` share (None: unknown) is the one it names: the function writes both in one
    update, and a record alone (a tag anyone with tag rights could write) never skips a canary."""
    if record is None or record.get("new") != new or not 0 < declared < 100:
        return declared
    state = record.get("state")
    if state == ROLLED_BACK:
        return 0
    if state in (STEPPED, PROMOTED):
        try:
            reached = int(record.get("share"))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            return declared
        if live is not None and live != reached:
            return declared
        return min(100, max(declared, reached))
    return declared


def rollout_view(
    record: Mapping[str, Any] | None, new: str, declared: int, live: int | None = None
) -> dict[str, Any] | None:
    """What an update does with the live ``record`` about ``new`` (None when there is none):
    the record, the share the stack file declares (``declaredShare``) and the one the update
    keeps (``share``, :func:`kept_share`). The serving components export it as
    ``serving_rollout``; ``plan`` prints it."""
    if record is None or record.get("new") != new:
        return None
    return {
        "record": dict(record),
        "declaredShare": declared,
        "share": kept_share(record, new, declared, live),
    }


def describe(record: Mapping[str, Any]) -> str:
    """One line for people: what the rollout function last did, when and why."""
    done = {
        ROLLED_BACK: "rolled back (0% to it)",
        STEPPED: f"stepped to {record.get('share')}%",
        PROMOTED: "promoted to 100%",
        BAKING: f"baking at {record.get('share')}%",
    }.get(str(record.get("state")), str(record.get("state")))
    return f"{record.get('new')} {done} at {record.get('at')} ({record.get('why')})"


def _when(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
