"""A generated corpus of malformed inputs through ``mlops-iac drift check`` (in process).

Fixed seed, a few hundred cases: tampered baselines, and CSV / JSON Lines / gzip data with ragged
rows, nested or non-object records, bytes that are not UTF-8, truncated gzip streams, over-long
lines and random byte noise. Every case must exit 0, 1, 2 or 3; 2 is exactly one line on stderr and
never a traceback; 0 and 1 write a strict-JSON report (no NaN) whose verdict matches the exit code
(1 if and only if ``drift``). Cases built to be invalid must exit 2.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import random

import pytest

from mlops_iac.cli.main import main
from tests.drift._data import FEATURES, rows, write_csv

SEED = 20261207
CASES = 320
LOOSE = ["--psi", "0.5", "--ks", "0.25", "--js", "0.25"]  # 300 rows: sampling noise
HOSTILE = [float("nan"), float("inf"), float("-inf"), "0.5", None, [], {}, True, -1]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("fuzz")
    train = write_csv(folder / "train.csv", rows(600, seed=1))
    base = folder / "baseline.json"
    assert main(["drift", "baseline", "--data", str(train), "--out", str(base)]) == 0
    world = {"baseline": json.loads(base.read_text()), "baseline_path": base}
    for label, shift in (("", "channel"), ("quiet-", None)):  # drifted and not
        served = rows(300, seed=4, shift=shift)
        header = ",".join(FEATURES) + "\n"
        world[f"{label}csv"] = (
            header + "".join(",".join(map(str, r)) + "\n" for r in served)
        ).encode()
        world[f"{label}jsonl"] = "".join(
            json.dumps(dict(zip(FEATURES, r, strict=True))) + "\n" for r in served
        ).encode()
    return world


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path


def _numeric_leaf(rng: random.Random, baseline: dict) -> tuple:
    """A path to a number the check computes with (bins, shares, counts)."""
    wanted = ("edges", "proportions", "categories", "other", "count", "missing")
    paths = [p for p in _leaves(baseline) if len(p) > 2 and p[0] == "features" and p[2] in wanted]
    return rng.choice(paths + [("rows",)])


def _put(document: dict, path: tuple, value) -> None:
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _baseline_case(rng: random.Random, world: dict) -> tuple[bytes, bool]:
    """(baseline bytes, whether they must be refused)."""
    doc = copy.deepcopy(world["baseline"])
    text = json.dumps(doc)
    choice = rng.randrange(5)
    if choice == 0:  # a hostile value where a number is computed with
        _put(doc, _numeric_leaf(rng, doc), rng.choice(HOSTILE))
        return json.dumps(doc).encode(), True
    if choice == 1:  # a required field removed
        feature = rng.choice(list(doc["features"]))
        profile = doc["features"][feature]
        key = rng.choice([k for k in profile if k != "sampled"])
        del profile[key]
        return json.dumps(doc).encode(), True
    if choice == 2:  # truncated JSON
        return text[: rng.randrange(len(text) - 1)].encode(), True
    if choice == 3:  # one edge moved out of order
        numeric = [n for n, p in doc["features"].items() if p["kind"] == "numeric"]
        edges = doc["features"][rng.choice(numeric)]["edges"]
        index = rng.randrange(1, len(edges))
        edges[index] = edges[index - 1] - rng.random()
        return json.dumps(doc).encode(), True
    raw = bytearray(text.encode())  # byte noise: anything may happen, never a traceback
    for _ in range(rng.randint(1, 4)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw), False


def _data_case(rng: random.Random, world: dict) -> tuple[str, bytes, bool]:
    """(file name, data bytes, whether they must be refused)."""
    kind = rng.choice(["csv", "jsonl"])
    lines = world[rng.choice(["", "quiet-"]) + kind].splitlines(keepends=True)
    choice = rng.randrange(8)
    invalid = True
    at = rng.randrange(1, len(lines))
    if choice == 0 and kind == "csv":  # ragged row
        lines[at] = lines[at].rstrip(b"\n") + (b",x\n" if rng.random() < 0.5 else b"")
        if not lines[at].endswith(b"\n"):
            lines[at] = b",".join(lines[at].split(b",")[:-1]) + b"\n"
    elif choice == 0:  # nested value
        record = json.loads(lines[at])
        record[rng.choice(FEATURES)] = rng.choice([{"a": 1}, [1, 2], [[]]])
        lines[at] = json.dumps(record).encode() + b"\n"
    elif choice == 1 and kind == "jsonl":  # not an object
        lines[at] = rng.choice([b"5\n", b"[1, 2]\n", b'"text"\n', b"null\n"])
    elif choice in (1, 2):  # not UTF-8
        position = rng.randrange(len(lines[at]))
        lines[at] = (
            lines[at][:position] + rng.choice([b"\xff", b"\xc3", b"\xe9"]) + lines[at][position:]
        )
    elif choice == 3:  # a line over the record bound
        lines[at] = b"7," * (600_000) + b"\n"
    elif choice == 4:  # truncated gzip
        whole = gzip.compress(b"".join(lines))
        return f"data.{kind}.gz", whole[: rng.randrange(len(whole) - 8)], True
    elif choice == 5:  # BOM and a valid gzip: must be read, not refused
        data = b"\xef\xbb\xbf" + b"".join(lines)
        return f"data.{kind}.gz", gzip.compress(data), False
    else:  # byte noise
        invalid = False
        raw = bytearray(b"".join(lines))
        for _ in range(rng.randint(1, 6)):
            raw.insert(rng.randrange(len(raw)), rng.choice(b'\x00\r\n,"{}[]\x1b\t:x9'))
        return f"data.{kind}", bytes(raw), False
    return f"data.{kind}", b"".join(lines), invalid


def _strict(text: str):
    def refuse(constant: str):
        raise AssertionError(f"the report holds {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_corpus_exits_0_1_or_2_and_never_a_traceback(world, tmp_path, capsys):
    rng = random.Random(SEED)
    outcomes = {0: 0, 1: 0, 2: 0}
    for case in range(CASES):
        folder = tmp_path / f"c{case}"
        folder.mkdir()
        baseline, name, data, must_refuse = world["baseline_path"], "", b"", False
        if rng.random() < 0.4:
            raw, must_refuse = _baseline_case(rng, world)
            baseline = folder / "baseline.json"
            baseline.write_bytes(raw)
            name, data = "data.csv", world[rng.choice(["csv", "quiet-csv"])]
        else:
            name, data, must_refuse = _data_case(rng, world)
        path = folder / name
        path.write_bytes(data)
        report = folder / "report.json"
        argv = ["drift", "check", "--baseline", str(baseline), "--data", str(path)]
        code = main([*argv, "--json", str(report), "--min-rows", "50", "--jobs", "1", *LOOSE])
        out, err = capsys.readouterr()
        label = f"case {case} ({name}, refuse={must_refuse}): {code} {err!r}"
        assert code in (0, 1, 2, 3), label
        outcomes[code] = outcomes.get(code, 0) + 1
        if code == 2:
            assert err.count("\n") == 1 and err.startswith("mlops-iac drift: error: "), label
            assert "Traceback" not in err and "\x1b" not in err, label
            assert not report.exists(), label
            continue
        assert not must_refuse, label
        assert err == "", label
        document = _strict(report.read_text())
        assert (code == 1) == (document["verdict"] == "drift"), label
        assert (code == 3) == (document["verdict"] == "drift-small-sample"), label
        for result in document["features"].values():
            assert all(
                math.isfinite(result[key])
                for key in ("psi", "ks", "jensenShannon")
                if key in result
            ), label
        assert "\x1b" not in out, label
    assert min(outcomes[code] for code in (0, 1, 2)) >= 10, outcomes
    assert min(outcomes.values()) >= 10, outcomes
