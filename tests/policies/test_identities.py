"""Identities that only look alike: the owner's own approval under a look-alike spelling, an
approver that imitates a listed one, the trusted signers file, and approval dates.

The attacker is the stack file's author: they write ``owner``, ``approvers`` and the records, and
hold their own key (listed in the trusted allowed-signers file under their real identity).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlops_iac.policies import governance, packs, signatures, trust
from mlops_iac.spec import identities
from mlops_iac.spec.errors import SpecError
from mlops_iac.spec.parse import parse_spec
from tests.conftest import STACKS
from tests.ops.keys import install_allowed_signers, key_for, ssh_keygen

from .baseline import Rec
from .test_bypass import CLOUDS, endpoint

PROJECT = "fraud-detection"
JANE = "jane@example.com"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
DEFAULTS = trust.TrustedSettings()
STACK = "fraud-detection-prod"
AT = " (mlops:platform.governance.approvals[0])"

# The owner written so it reads as Jane while not being Jane's exact string.
OWNER_SPELLINGS = {
    "cyrillic-a": "j\u0430ne@example.com",
    "greek-alpha": "j\u03b1ne@example.com",
    "cyrillic-e-and-o": "jan\u0435@\u0435xample.com",
    "fullwidth": "\uff4a\uff41\uff4e\uff45@example.com",
    "math-bold": "\U0001d423ane@example.com",
    "zero-width-space": "ja\u200bne@example.com",
    "zero-width-joiner": "ja\u200dne@example.com",
    "soft-hyphen": "ja\u00adne@example.com",
    "combining-dot": "ja\u0307ne@example.com",
    "mixed-case-domain": "jane@EXAMPLE.com",
    "mixed-case-local": "Jane@example.com",
    "dotted": "ja.ne@example.com",
}


def record(approver: str = JANE, when: Any = "2026-11-20", **extra: Any) -> dict[str, Any]:
    return {
        "model": "fraud-detector",
        "version": "7",
        "approvedBy": approver,
        "ticket": "CHG-1234",
        "approvedAt": when,
        **extra,
    }


def signed(rec: dict[str, Any], signer: str | None = None) -> dict[str, Any]:
    data = signatures.approval_payload(PROJECT, rec)
    return {**rec, "signature": signatures.sign(data, key_for(signer or rec["approvedBy"]))}


def platform(owner: str, approvers: list[str], **governance_extra: Any) -> dict[str, Any]:
    return {
        "project": PROJECT,
        "environment": "prod",
        "owner": owner,
        "governance": {"approvers": approvers, **governance_extra},
    }


def gate(
    cloud: str,
    owner: str,
    approvers: list[str],
    approvals: list[dict[str, Any]],
    allowed: Path,
    settings: trust.TrustedSettings = DEFAULTS,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The reviewed approvals and the gate's messages for a prod endpoint serving v7."""
    reviewed = governance.review(
        platform(owner, approvers, approvals=approvals),
        allowed,
        stack=STACK,
        environment="prod",
        settings=settings,
        now=NOW,
    )
    document = packs.pack_config(
        "prod", owner=owner, approvers=approvers, approvals=reviewed.approvals, node_type_prices={}
    )
    rec = Rec([endpoint(cloud, JANE)], {}, f"{cloud}-prod", "proj")
    result = packs.evaluate(rec, document, environment="prod")
    return reviewed.approvals, [
        v.message for v in result.violations if v.policy == "mlops-approval-gate"
    ]


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    return install_allowed_signers(tmp_path)


def fingerprint(identity: str) -> str:
    done = subprocess.run(
        [ssh_keygen(), "-l", "-E", "sha256", "-f", f"{key_for(identity)}.pub"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[1]


# --- the skeleton -------------------------------------------------------------------------------


def test_the_skeleton_reads_unicodes_own_confusables_data() -> None:
    table = identities.prototypes()
    assert len(table) > 6000
    assert table[0x0430] == "a" and table[0x03BF] == "o" and table[ord("m")] == "rn"
    assert identities.skeleton("j\u0430ne") == identities.skeleton("jane")
    assert identities.skeleton("\uff4a\uff41\uff4e\uff45") == identities.skeleton("jane")  # NFKC
    assert identities.skeleton("paypal") == identities.skeleton("p\u0430yp\u0430l")
    assert identities.skeleton("raj") != identities.skeleton("jane")


@pytest.mark.parametrize("spelling", OWNER_SPELLINGS.values(), ids=OWNER_SPELLINGS.keys())
def test_every_spelling_looks_like_jane_and_only_the_domain_case_is_jane(spelling: str) -> None:
    assert identities.looks_alike(spelling, JANE)
    assert identities.same(spelling, JANE) is (spelling == "jane@EXAMPLE.com")
    assert not identities.looks_alike("raj@example.com", spelling)


def test_a_generated_corpus_of_single_confusable_swaps_all_look_alike() -> None:
    # Every confusable that maps onto one of the letters of "jane" or "example", swapped in.
    targets = set("janexmpl")
    swaps = [chr(cp) for cp, proto in identities.prototypes().items() if proto in targets]
    assert len(swaps) > 100
    for swap in swaps:
        for i, letter in enumerate(JANE):
            if identities.prototypes().get(ord(swap)) == letter:
                spelled = JANE[:i] + swap + JANE[i + 1 :]
                assert identities.looks_alike(spelled, JANE), f"U+{ord(swap):04X} at {i}"
                assert identities.impostor(spelled, [JANE, "raj@example.com"]) == JANE


# --- the owner's own approval ------------------------------------------------------------------


@pytest.mark.parametrize("owner", OWNER_SPELLINGS.values(), ids=OWNER_SPELLINGS.keys())
def test_the_owners_own_signed_approval_is_refused_under_any_spelling(
    owner: str, allowed: Path
) -> None:
    # Jane owns the stack but writes her owner line so it is not byte-equal to her identity,
    # then approves with her real, listed, correctly signed key.
    approvals, messages = gate("aws", owner, [JANE], [signed(record())], allowed)
    assert approvals[0]["signatureStatus"] == signatures.VERIFIED
    assert len(messages) == 1
    assert messages[0].startswith(
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
        "the owner cannot approve their own model"
    )
    if owner != "jane@EXAMPLE.com":
        shown = identities.looks_like_message(JANE, owner)
        assert shown in messages[0]


@CLOUDS
def test_the_cyrillic_owner_bypass_is_closed_on_every_cloud(cloud: str, allowed: Path) -> None:
    owner = OWNER_SPELLINGS["cyrillic-a"]
    _, messages = gate(cloud, owner, [JANE], [signed(record())], allowed)
    assert messages == [
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': the "
        "owner cannot approve their own model ('jane@example.com' looks like "
        "'j<U+0430>ne@example.com' but is not 'j<U+0430>ne@example.com')" + AT
    ]
    # The same approval counts once the owner is someone else.
    assert gate(cloud, "ml-platform@example.com", [JANE], [signed(record())], allowed)[1] == []


@pytest.mark.parametrize("owner", OWNER_SPELLINGS.values(), ids=OWNER_SPELLINGS.keys())
def test_the_owner_cannot_lower_enforcement_or_waive_under_any_spelling(
    owner: str, allowed: Path
) -> None:
    approval = {"approvedBy": JANE, "ticket": "CHG-9", "approvedAt": "2026-11-20"}
    data = signatures.enforcement_payload(PROJECT, "prod", "advisory", approval)
    approval["signature"] = signatures.sign(data, key_for(JANE))
    waiver = {
        "rule": "mlops-gpu-budget", "resource": "gpu-*", "reason": "r", "ticket": "CHG-2",
        "owner": "raj@example.com", "approvedBy": JANE, "approvedAt": "2026-11-20", "stack": STACK,
        "expires": "2026-12-20",
    }  # fmt: skip
    waiver["signature"] = signatures.sign(signatures.waiver_payload(PROJECT, waiver), key_for(JANE))
    reviewed = governance.review(
        platform(
            owner, [JANE], enforcement="advisory", enforcementApproval=approval, waivers=[waiver]
        ),
        allowed,
        stack=STACK,
        environment="prod",
        today=dt.date(2026, 11, 25),
        settings=DEFAULTS,
        now=NOW,
    )
    assert reviewed.enforcement is None
    assert "jane@example.com owns the stack (four eyes)" in reviewed.problems[0]
    assert reviewed.waivers[0].status.startswith("jane@example.com owns the stack (four eyes)")


# --- look-alikes of a listed approver -----------------------------------------------------------


@pytest.mark.parametrize(
    "lookalike", ["j\u0430ne@example.com", "j\u03b1ne@example.com", "Jane@example.com"]
)
def test_an_approval_by_a_lookalike_of_a_listed_approver_is_refused_by_name(
    lookalike: str, allowed: Path
) -> None:
    # The author lists their look-alike next to the real approver and signs as it: even with a
    # key listed for that look-alike, the approval is refused, and the message names whom it
    # imitates.
    install_allowed_signers(allowed.parents[1], [JANE, "raj@example.com", lookalike])
    approvers = [JANE, lookalike]
    approvals, messages = gate(
        "aws", "ml-platform@example.com", approvers, [signed(record(lookalike))], allowed
    )
    assert approvals[0]["signatureStatus"] == signatures.VERIFIED
    assert messages == [
        f"approval of 'fraud-detector' version '7' does not count, by {lookalike!r}: "
        f"{identities.looks_like_message(lookalike, JANE)}, a listed approver{AT}"
    ]


def test_the_spec_refuses_identities_that_do_not_read_as_written() -> None:
    raw = parse_spec_raw()
    raw["owner"] = OWNER_SPELLINGS["fullwidth"]
    raw["governance"]["approvers"] = [JANE, "ra\u200bj@example.com"]
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    lines = "\n".join(caught.value.lines)
    assert (
        "mlops:platform.owner: identity is not in Unicode NFKC form (it reads as "
        "'jane@example.com')" in lines
    )
    assert (
        "mlops:platform.governance.approvers[1]: identity holds an invisible or control "
        "character (U+200B)" in lines
    )


def parse_spec_raw() -> dict[str, Any]:
    import yaml

    document = yaml.safe_load((STACKS / "Pulumi.aws-prod.yaml").read_text())
    raw = document["config"]["mlops:platform"]
    raw["governance"]["approvals"] = []
    return raw


# --- which signers file and key verified -------------------------------------------------------


def test_a_verified_approval_names_its_key_signers_file_and_digest(allowed: Path) -> None:
    approvals, messages = gate(
        "aws", "ml-platform@example.com", [JANE], [signed(record())], allowed
    )
    assert messages == []
    assert approvals[0]["verifiedBy"] == {
        "principal": JANE,
        "key": fingerprint(JANE),
        "signersFile": allowed.resolve().as_posix(),  # outside any git work tree: absolute
        "signersDigest": "sha256:" + hashlib.sha256(allowed.read_bytes()).hexdigest(),
    }
    (allowed.parents[1] / ".git").mkdir()
    checked = signatures.check(
        signatures.approval_payload(PROJECT, record()), signed(record())["signature"], JANE, allowed
    )
    assert checked.signers_file == "governance/allowed_signers"


def _symlink(allowed: Path) -> Path:
    real = allowed.with_name("real_signers")
    allowed.rename(real)
    allowed.symlink_to(real)
    return allowed


def _dangling(allowed: Path) -> Path:
    allowed.unlink()
    allowed.symlink_to(allowed.with_name("gone"))
    return allowed


def _directory(allowed: Path) -> Path:
    text = allowed.read_text()
    allowed.unlink()
    allowed.mkdir()
    (allowed / "allowed_signers").write_text(text)
    return allowed


def _huge(allowed: Path) -> Path:
    # Valid lines after a megabyte of comments: a file this size is refused, not parsed.
    allowed.write_text("#" * 100 + "\n" * 0 + ("# padding\n" * 110_000) + allowed.read_text())
    return allowed


def _fifo(allowed: Path) -> Path:
    allowed.unlink()
    os.mkfifo(allowed)
    return allowed


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_symlink, "is a symlink (it must be a regular file)"),
        (_dangling, "is a symlink (it must be a regular file)"),
        (_directory, "is not a regular file"),
        (_fifo, "is not a regular file"),
        (_huge, "is larger than 1048576 bytes"),
    ],
    ids=["symlink", "dangling-symlink", "directory", "fifo", "huge"],
)
def test_an_untrustworthy_signers_file_verifies_nothing(make, reason: str, allowed: Path) -> None:
    approval = signed(record())
    path = make(allowed)
    approvals, messages = gate("aws", "ml-platform@example.com", [JANE], [approval], path)
    status = approvals[0]["signatureStatus"]
    assert status == f"cannot be verified: allowed-signers file {path} {reason}"
    assert "verifiedBy" not in approvals[0]
    assert messages == [
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
        f"{status}{AT}"
    ]


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "counts"),
    [
        pytest.param("2026-12-01T12:04:59Z", True, id="within-the-skew"),
        pytest.param("2026-12-01T12:05:01Z", False, id="beyond-the-skew"),
        pytest.param("2026-12-02", False, id="tomorrow"),
        pytest.param("2036-01-01", False, id="years-ahead"),
    ],
)
def test_an_approval_dated_in_the_future_does_not_count(
    when: str, counts: bool, allowed: Path
) -> None:
    approvals, messages = gate(
        "aws", "ml-platform@example.com", [JANE], [signed(record(when=when))], allowed
    )
    assert approvals[0]["signatureStatus"] == signatures.VERIFIED
    if counts:
        assert messages == [] and "dateStatus" not in approvals[0]
    else:
        expected = f"approvedAt {when} is dated in the future (beyond the 5-minute clock skew)"
        assert approvals[0]["dateStatus"] == expected
        assert messages == [
            "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
            + expected
            + AT
        ]


def test_the_maximum_age_comes_from_the_trusted_settings(tmp_path: Path, allowed: Path) -> None:
    (tmp_path / "governance" / "settings.yaml").write_text(
        "approvals:\n  maxAgeDays: 30\n  clockSkewMinutes: 0\n"
    )
    settings = trust.load(tmp_path)
    fresh, stale = "2026-11-02T12:00:00Z", "2026-10-31T11:59:59Z"
    assert (
        gate("aws", "x@example.com", [JANE], [signed(record(when=fresh))], allowed, settings)[1]
        == []
    )
    approvals, messages = gate(
        "aws", "x@example.com", [JANE], [signed(record(when=stale))], allowed, settings
    )
    expected = f"approvedAt {stale} is older than 30 days (approvals.maxAgeDays)"
    assert approvals[0]["dateStatus"] == expected
    assert messages == [
        "approval of 'fraud-detector' version '7' does not count, by 'jane@example.com': "
        f"{expected}{AT}"
    ]
    # No skew at all: one second ahead is the future.
    ahead = "2026-12-01T12:00:01Z"
    approvals, _ = gate(
        "aws", "x@example.com", [JANE], [signed(record(when=ahead))], allowed, settings
    )
    assert approvals[0]["dateStatus"].endswith("(beyond the 0-minute clock skew)")


def test_a_future_dated_enforcement_approval_does_not_hold(allowed: Path) -> None:
    approval = {"approvedBy": JANE, "ticket": "CHG-9", "approvedAt": "2026-12-25"}
    data = signatures.enforcement_payload(PROJECT, "prod", "advisory", approval)
    approval["signature"] = signatures.sign(data, key_for(JANE))
    reviewed = governance.review(
        platform("ml-platform@example.com", [JANE], enforcement="advisory",
                 enforcementApproval=approval),
        allowed,
        stack=STACK,
        environment="prod",
        settings=DEFAULTS,
        now=NOW,
    )  # fmt: skip
    assert reviewed.enforcement is None
    assert reviewed.problems == [
        "governance.enforcement: advisory in prod is refused (approvedAt 2026-12-25 is dated in "
        "the future (beyond the 5-minute clock skew)); every rule stays at its default level"
    ]
