"""Identities as a reader sees them: NFKC and the UTS #39 confusable skeleton.

An approver identity is text a human reads. ``jаne@example.com`` with a Cyrillic ``а``, a
fullwidth ``ｊane@example.com`` or ``jane@example.com`` with a zero-width space all *look* like
Jane, and none of them *is* Jane. So identities are compared two ways:

- a check that **refuses** (the owner must not approve their own model, lower enforcement or
  waive a rule) refuses when the two identities *look* alike: :func:`looks_alike`, their
  confusable skeletons (https://www.unicode.org/reports/tr39/#def-skeleton) after NFKC and case
  folding, or their loose letters-and-digits keys, match. A false match only refuses more;
- a check that **grants** (an approver is listed; a signature is the approver's) keeps the exact
  identity (:func:`exact`: only the domain's case folds), and a granted identity that merely looks
  like a listed approver or the owner is refused with :func:`impostor`'s message.

The confusables data is the mapping part of Unicode's own ``confusables.txt``, shipped beside
this module as ``confusables.txt`` (``python -m tools.confusables`` regenerates it). It is parsed
once per process.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Unicode's confusable mappings (``source ; prototype``), shipped with the pack.
DATA_FILE = Path(__file__).with_name("confusables.txt")
_LINE = re.compile(r"^\s*([0-9A-Fa-f]{4,6})\s*;\s*([0-9A-Fa-f ]+?)\s*(?:;\s*MA\b|$)")


class ConfusablesUnavailable(RuntimeError):
    """Unicode's confusables data cannot be found or read (a broken install)."""


def _data_path() -> Path:
    if not DATA_FILE.is_file():
        raise ConfusablesUnavailable(f"{DATA_FILE} is missing: reinstall mlops-iac")
    return DATA_FILE


@functools.cache
def prototypes() -> Mapping[int, str]:
    """The UTS #39 prototype of each confusable code point (``ord('а') -> 'a'``)."""
    path = _data_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfusablesUnavailable(f"{path}: cannot be read ({exc})") from None
    table: dict[int, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            table[int(match.group(1), 16)] = "".join(
                chr(int(point, 16)) for point in match.group(2).split()
            )
    if len(table) < 1000:  # the file has over 6,000 mappings; fewer is not the file
        raise ConfusablesUnavailable(f"{path}: not Unicode's confusables.txt")
    return table


def skeleton(text: Any) -> str:
    """UTS #39 ``skeleton(X)`` of NFKC(X): NFD, each code point to its prototype, NFD again."""
    table = prototypes()
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", str(text)))
    return unicodedata.normalize("NFD", decomposed.translate(table))


def _uts39(text: str) -> str:
    # The skeleton exactly as UTS #39 defines it (no NFKC): NFKC can move a character off its
    # own confusable mapping (halfwidth U+FFE8 is confusable with "l"; its NFKC form U+2502 is not).
    table = prototypes()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(table))


def _folded(text: Any) -> set[str]:
    """The skeletons a refusing check compares, case-folded after mapping (prototypes are not all
    lower case: "0" -> "O"), from the text as written and case-folded before mapping (capital
    ``I`` is confusable with ``l``; its folded ``i`` is not)."""
    value = str(text)
    return {
        fold(spelled).casefold()
        for spelled in (value, value.casefold())
        for fold in (skeleton, _uts39)
    }


def _visible(text: str) -> str:
    # Letters and digits of any script: punctuation, marks and invisible characters (zero-width
    # spaces, joiners, bidi controls) do not tell two identities apart to a reader.
    return "".join(ch for ch in text if ch.isalnum())


def canonical(text: Any) -> str:
    """A loose key (ASCII letters and digits only), for checks where a false match only refuses.

    Never use it to *grant*: ``ja.ne@example.com`` and ``jane@ex-ample.com`` share one key.
    """
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def exact(text: Any) -> str:
    """An identity as a granting check compares it: exact, except the domain's case.

    The local part of an address may be case-sensitive (RFC 5321 §2.4); a domain never is. So
    ``Jane@Example.COM`` is ``Jane@example.com`` and nothing else is folded: no punctuation is
    stripped, no local-part case is ignored, no look-alike letter is mapped.
    """
    local, at, domain = str(text).rpartition("@")
    return f"{local}@{domain.lower()}" if at else str(text)


def looks_alike(a: Any, b: Any) -> bool:
    """Whether a reader could take ``a`` for ``b``: for checks that *refuse* (four eyes).

    True when their confusable skeletons match after NFKC and case folding, with or without
    punctuation and invisible characters, or when their loose ASCII keys (:func:`canonical`)
    match.
    """
    if a is None or b is None:
        return False
    if canonical(a) == canonical(b):
        return True
    fa, fb = _folded(a), _folded(b)
    return bool(fa & fb) or bool({_visible(x) for x in fa} & {_visible(x) for x in fb})


def same(a: Any, b: Any) -> bool:
    """Whether ``a`` is ``b`` for a check that *grants*: :func:`exact` identities match."""
    return exact(a) == exact(b)


def impostor(who: Any, trusted: Iterable[Any]) -> str | None:
    """The first of ``trusted`` that ``who`` looks like without being it, or ``None``.

    Being exactly one of them does not help: a list that holds both ``jane@example.com`` and
    ``jаne@example.com`` (Cyrillic ``а``) makes each an impostor of the other, so neither grants.
    """
    for candidate in trusted:
        if candidate and not same(who, candidate) and looks_alike(who, candidate):
            return str(candidate)
    return None


def looks_like_message(who: Any, like: Any) -> str:
    """``'x' looks like 'y' but is not 'y'``, with each identity's non-ASCII characters named."""
    return f"{_shown(who)} looks like {_shown(like)} but is not {_shown(like)}"


def _shown(text: Any) -> str:
    """``repr``-like, with each character a reader cannot tell from ASCII spelled as ``U+XXXX``."""
    value = str(text)
    if value.isascii() and value.isprintable():
        return repr(value)
    shown = "".join(
        ch if ch.isascii() and ch.isprintable() else f"<U+{ord(ch):04X}>" for ch in value
    )
    return repr(shown)


def nfkc_problem(text: Any) -> str | None:
    """Why an identity as written is refused, or ``None``: it must be in NFKC form and hold no
    invisible or control character (Unicode categories Cc, Cf, Co, Cs, Cn, Zl, Zp)."""
    value = str(text)
    hidden = [ch for ch in value if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029"]
    if hidden:
        points = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(hidden))
        return f"holds an invisible or control character ({points})"
    normal = unicodedata.normalize("NFKC", value)
    if normal != value:
        return (
            f"is not in Unicode NFKC form (it reads as {_shown(normal)}): write the identity "
            "as it normalises"
        )
    return None
