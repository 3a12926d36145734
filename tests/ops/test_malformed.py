"""Hostile and careless stack files: every one exits 2 with one line, fast, never a traceback.

The bounded loader (``mlops_iac.spec.stackyaml``) reads a stack file before anything else
does, in ``plan`` and in every day-2 command. A generated corpus of malformed files (fixed seed)
checks that each is refused with exit 2, one line naming a line number or a key path.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_iac.spec import clouds, stackyaml
from mlops_iac.spec.stackyaml import StackYamlError
from tests.conftest import STACKS

REFERENCE = {cloud: (STACKS / f"Pulumi.{cloud}-prod.yaml").read_text() for cloud in clouds.NAMES}
ROOT = Path(__file__).resolve().parents[2]

BOMB = (
    "config:\n  aws:region: us-east-1\n  other:\n"
    "    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(
        f"    {k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    )
)

HOSTILE: dict[str, tuple[str, str]] = {
    "duplicate top-level key": ("a: 1\nb: 2\na: 3\n", "duplicate key a at lines 1 and 3"),
    "non-string key": ("config:\n  1: x\n", "line 2: key 1 is not a string"),
    "boolean key": ("config:\n  true: x\n", "line 2: key true is not a string"),
    "null key": ("config:\n  ~: x\n", "is not a string"),
    "collection key": ("config:\n  ? [a]\n  : x\n", "is not a string"),
    "1000 levels of flow nesting": ("a: " + "[" * 1000 + "]" * 1000 + "\n", "line 1"),
    "1000 levels of block nesting": (
        "".join("  " * i + f"k{i}:\n" for i in range(1000)) + "  " * 1000 + "v\n",
        "nested deeper than 64 levels",
    ),
    "recursive alias": ("a: &x\n  b: *x\n", "recursive alias"),
    "binary value": ("a: !!binary aGVsbG8=\n", "tag tag:yaml.org,2002:binary is not allowed"),
    "python object": ("a: !!python/object/apply:os.system [id]\n", "is not allowed"),
    "custom tag": ("a: !vault secret\n", "tag !vault is not allowed"),
    "billion laughs": (BOMB, "aliases expand to more than"),
    "too many aliases": (
        "a: &a x\nb: [" + ", ".join(["*a"] * 300) + "]\n",
        "more than 256 aliases",
    ),
    "huge integer": ("a: " + "9" * 6000 + "\n", "line 1: value cannot be read"),
    "not UTF-8": ("\udcff", "not UTF-8"),
    "oversized file": ("a: " + "x" * (stackyaml.MAX_BYTES + 1), "the limit is"),
    "unclosed flow": ("a: [1, 2\n", "not valid YAML: did not find expected ',' or ']' (line 2"),
}


def _load(text: str) -> object:
    data = text.encode("utf-8", "surrogateescape")
    return stackyaml.load(data)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_yaml_is_refused_quickly_with_one_line(name: str) -> None:
    text, expected = HOSTILE[name]
    started = time.perf_counter()
    with pytest.raises(StackYamlError) as caught:
        _load(text)
    assert time.perf_counter() - started < 2
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message and len(message) < 400


def test_anchors_within_bounds_still_load() -> None:
    data = _load("base: &b {x: 1, y: 2}\nother: *b\nwhen: 2026-11-20\n")
    assert data["other"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    "text",
    [
        "other: [&b {x: 1},\n  {<<: *b, y: 3}]\n",
        "other:\n  <<: {x: 1}\n",
        "other:\n  ? <<\n  : {x: 1}\n",
        "other:\n  !!merge <<: {x: 1}\n",
        "other:\n  !!merge x: {x: 1}\n",
        'other:\n  "<<": {x: 1}\n',
        "other:\n  <<: [{x: 1}, {y: 2}]\n",
    ],
)
def test_merge_keys_are_refused_naming_the_line(text: str) -> None:
    # A merge overrides keys the duplicate check never sees (environment: dev under <<).
    with pytest.raises(StackYamlError) as caught:
        _load(text)
    message = str(caught.value)
    assert message.startswith("line 2: ") and "merge" in message, message
    assert "\n" not in message


def test_escape_sequences_are_never_echoed_raw() -> None:
    assert stackyaml.printable("\x1b[2J\x1b]0;pwned\x07ok\u202e") == (
        "\\x1b[2J\\x1b]0;pwned\\x07ok\\u202e"
    )


def test_a_megabyte_value_is_echoed_truncated() -> None:
    shown = stackyaml.printable("x" * 1_000_000)
    assert len(shown) < 200 and shown.endswith("(999880 more characters)")


# --- every command refuses a duplicate key, naming both lines ---------------------------------


def _with_duplicate(text: str) -> str:
    # environment: prod followed later in the same mapping by environment: dev
    return text.replace(
        "    costCenter: cc-1234\n", "    costCenter: cc-1234\n    environment: dev\n"
    )


@pytest.mark.parametrize("cloud", clouds.NAMES)
def test_plan_refuses_a_duplicate_environment_on_every_cloud(cloud, cli, tmp_path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / f"Pulumi.{cloud}-prod.yaml").write_text(_with_duplicate(REFERENCE[cloud]))
    code = cli(
        "plan",
        "--stack",
        f"{cloud}-prod",
        "--project",
        ROOT,
        "--config-file",
        stacks / f"Pulumi.{cloud}-prod.yaml",
    )
    assert code == 2
    lines = REFERENCE[cloud].splitlines()
    first = next(i for i, line in enumerate(lines, 1) if line.strip() == "environment: prod")
    assert f"duplicate key environment at lines {first} and" in cli.err
    assert "Traceback" not in cli.err and len(cli.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        (
            "approve",
            "--model",
            "m",
            "--version",
            "1",
            "--approver",
            "jane@example.com",
            "--ticket",
            "T-1",
        ),
        ("rollback",),
        ("verify", "--outputs", "outputs.json"),
        ("dvc-remote", "--outputs", "outputs.json"),
    ],
)
def test_every_day2_command_refuses_a_duplicate_key(argv, cli, tmp_path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.aws-prod.yaml").write_text(_with_duplicate(REFERENCE["aws"]))
    (tmp_path / "outputs.json").write_text("{}")
    argv = tuple(str(tmp_path / a) if a == "outputs.json" else a for a in argv)
    code = cli(argv[0], "--stack", "aws-prod", "--project", tmp_path, *argv[1:])
    assert code == 2, cli.err
    assert "duplicate key environment at lines" in cli.one_error_line()


# --- the generated corpus ----------------------------------------------------------------------

Mutation = Callable[[random.Random, list[str]], list[str]]
_KEY_LINE = re.compile(r"^(\s+)([A-Za-z][A-Za-z0-9]*):\s*(.*)$")


def _platform_lines(lines: list[str]) -> list[int]:
    start = lines.index("  mlops:platform:")
    return [i for i in range(start + 1, len(lines)) if _KEY_LINE.match(lines[i])]


def _pick(rng: random.Random, lines: list[str], scalar: bool | None = None) -> int:
    candidates = [
        i
        for i in _platform_lines(lines)
        if scalar is None or bool(_KEY_LINE.match(lines[i]).group(3)) is scalar
    ]
    return rng.choice(candidates)


def dup_key(rng: random.Random, lines: list[str]) -> list[str]:
    i = _pick(rng, lines, scalar=True)
    return lines[: i + 1] + [lines[i]] + lines[i + 1 :]


def unknown_key(rng: random.Random, lines: list[str]) -> list[str]:
    i = _pick(rng, lines)
    indent = _KEY_LINE.match(lines[i]).group(1)
    word = rng.choice(
        ["enviroment", "ownr", "maxNode", "gpuz", "Approvals", "x" * rng.randint(1, 9)]
    )
    return lines[:i] + [f"{indent}{word}{rng.randint(0, 99)}: 1"] + lines[i:]


def wrong_scalar(rng: random.Random, lines: list[str]) -> list[str]:
    i = _pick(rng, lines, scalar=True)
    indent, key, value = _KEY_LINE.match(lines[i]).groups()
    if value in ("true", "false"):
        bad = rng.choice(['"yes"', "1", "0", "[]", "{}", "~"])
    elif re.fullmatch(r"-?[0-9.]+", value):
        bad = rng.choice(["true", "false", '"12"', "-1", "[1]", "{a: 1}", "1e999"])
    else:
        # Not ``~``: null is a valid value of an optional key (gcp.billingAccount).
        bad = rng.choice(["true", "[1, 2]", "{a: b}", "''", '"\\e[31mred"', "3.5", "@x", "{}"])
    return lines[:i] + [f"{indent}{key}: {bad}"] + lines[i + 1 :]


def drop_required(rng: random.Random, lines: list[str]) -> list[str]:
    required = ("    cloud:", "    environment:", "    project:", "    lineage:", "    serving:")
    target = rng.choice(required)
    i = next(n for n, line in enumerate(lines) if line.startswith(target))
    end = i + 1
    while end < len(lines) and lines[end].startswith("      "):
        end += 1
    return lines[:i] + lines[end:]


def non_string_key(rng: random.Random, lines: list[str]) -> list[str]:
    i = _pick(rng, lines)
    indent = _KEY_LINE.match(lines[i]).group(1)
    key = rng.choice(["1", "true", "null", "3.5", "2026-01-01", "[a]", "{b: c}", "~"])
    return lines[:i] + [f"{indent}{key}: x"] + lines[i:]


def bad_yaml(rng: random.Random, lines: list[str]) -> list[str]:
    i = _pick(rng, lines)
    junk = rng.choice(
        ["\t- tab", "  : :", "[unclosed", "key: 'open", "- a\n b: c", "%TAG ! x", "&a"]
    )
    return lines[:i] + [junk] + lines[i:]


def hostile_tag(rng: random.Random, lines: list[str]) -> list[str]:
    i = _pick(rng, lines, scalar=True)
    indent, key, value = _KEY_LINE.match(lines[i]).groups()
    tag = rng.choice(
        ["!!binary", "!!python/name:os.system", "!!set", "!!omap", "!custom", "!!pairs"]
    )
    return lines[:i] + [f"{indent}{key}: {tag} {value or 'x'}"] + lines[i + 1 :]


def deep(rng: random.Random, lines: list[str]) -> list[str]:
    depth = rng.randint(65, 3000)
    i = _pick(rng, lines, scalar=True)
    indent, key, _ = _KEY_LINE.match(lines[i]).groups()
    return lines[:i] + [f"{indent}{key}: " + "[" * depth + "]" * depth] + lines[i + 1 :]


def alias_bomb(rng: random.Random, lines: list[str]) -> list[str]:
    width = rng.randint(8, 12)
    bomb = ["  team:bomb:", "    l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for n in range(1, 9):
        bomb.append(f"    l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]")
    at = lines.index("  mlops:platform:")
    return lines[:at] + bomb + lines[at:]


def recursive(rng: random.Random, lines: list[str]) -> list[str]:
    at = lines.index("  mlops:platform:")
    name = f"r{rng.randint(0, 999)}"
    return lines[:at] + [f"  team:loop: &{name}", f"    self: *{name}"] + lines[at:]


def bad_email(rng: random.Random, lines: list[str]) -> list[str]:
    i = next(n for n, line in enumerate(lines) if line.startswith("    owner:"))
    value = rng.choice(
        ["jane", "jane@", "@example.com", "ja ne@example.com", "\x1b[31m@x.y", "a@b"]
    )
    return lines[:i] + [f"    owner: {stackyaml_quote(value)}"] + lines[i + 1 :]


def stackyaml_quote(value: str) -> str:
    from mlops_iac.cli.stackfile import quoted

    return quoted(value)


MUTATIONS: list[Mutation] = [
    dup_key,
    unknown_key,
    wrong_scalar,
    drop_required,
    non_string_key,
    bad_yaml,
    hostile_tag,
    deep,
    alias_bomb,
    recursive,
    bad_email,
]
CORPUS_SIZE = 520


def corpus() -> list[tuple[str, str, str]]:
    rng = random.Random(16)
    cases = []
    for n in range(CORPUS_SIZE):
        cloud = rng.choice(sorted(REFERENCE))
        mutation = MUTATIONS[n % len(MUTATIONS)]
        lines = REFERENCE[cloud].splitlines()
        cases.append(
            (f"{n}-{mutation.__name__}-{cloud}", cloud, "\n".join(mutation(rng, lines)) + "\n")
        )
    return cases


_WHERE = re.compile(r"\bline \d+|lines \d+ and \d+|mlops:platform[.\[]|mlops:platform: ")


def test_generated_corpus_of_malformed_stack_files(cli, tmp_path) -> None:
    started = time.perf_counter()
    failures = []
    for name, cloud, text in corpus():
        path = tmp_path / f"Pulumi.{cloud}-prod.yaml"
        path.write_text(text, encoding="utf-8")
        code = cli(
            "plan", "--stack", f"{cloud}-prod", "--project", ROOT, "--config-file", path, "--quiet"
        )
        err = cli.err.strip()
        if code != 2 or "Traceback" in err or not _WHERE.search(err):
            failures.append(f"{name}: exit {code}: {err[:300]}")
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures)"
    assert time.perf_counter() - started < 60
