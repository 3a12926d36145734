"""One home per cross-cutting fact: a walk over the library's sources finds exactly one definition
of each, so a second copy (which would drift from the first) fails here.

Docstrings and comments are prose, not definitions; string and number literals in code are.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Everything that ships or runs the platform; tests and examples quote the facts on purpose.
SOURCES = ("cli", "components", "drift", "plan", "policies", "spec", "tools", "__main__.py")


def _files() -> Iterator[Path]:
    for name in SOURCES:
        path = REPO / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    # Module, class and function docstrings, and attribute docstrings (a bare string statement
    # after an assignment): any string that is a statement of its own.
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            for statement in statements if isinstance(statements, list) else ():
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


@pytest.fixture(scope="module")
def trees() -> list[tuple[str, ast.AST, set[int]]]:
    parsed = []
    for path in _files():
        tree = ast.parse(path.read_text(), str(path))
        parsed.append((path.relative_to(REPO).as_posix(), tree, _docstrings(tree)))
    return parsed


def _where(trees, match: Callable[[ast.AST], bool]) -> list[str]:
    return sorted(
        f"{name}:{node.lineno}"
        for name, tree, docs in trees
        for node in ast.walk(tree)
        if id(node) not in docs and match(node)
    )


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _files_of(places: list[str]) -> list[str]:
    return sorted({place.split(":")[0] for place in places})


def test_the_drift_metric_name_is_spelled_once(trees):
    found = _where(trees, lambda n: _text(n) in ("DriftedFeatures", "drifted_features"))
    assert _files_of(found) == ["drift/wire.py"] and len(found) == 2, found


def test_the_drift_namespace_is_spelled_once(trees):
    found = _where(trees, lambda n: (_text(n) or "").strip("/") == "mlops/drift")
    assert _files_of(found) == ["drift/wire.py"] and len(found) == 1, found
    custom = _where(trees, lambda n: "custom.googleapis.com/" in (_text(n) or ""))
    assert _files_of(custom) == ["drift/wire.py"], custom


def test_the_default_drift_thresholds_are_written_once(trees):
    # A default is a module or class attribute set to a number: ``PSI = 0.2`` or a dataclass
    # field ``psi: float = 0.2``; locals (``ks = 0.0`` while computing one) are not defaults.
    names = {"psi", "ks", "js", "jensen_shannon", "min_rows"}
    found = []
    for name, tree, _docs in trees:
        scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))]
        for scope in scopes:
            for node in scope.body:
                if not isinstance(node, ast.Assign | ast.AnnAssign):
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                spelled = {ast.unparse(t).lower().removeprefix("drift_") for t in targets}
                value = node.value
                number = isinstance(value, ast.Constant) and type(value.value) in (int, float)
                if number and spelled & names:
                    found.append(f"{name}:{node.lineno}")
    assert _files_of(found) == ["drift/wire.py"] and len(found) == 4, found
    psi = _where(trees, lambda n: isinstance(n, ast.Constant) and n.value == 0.2)
    assert _files_of(psi) == ["drift/wire.py"] and len(psi) == 1, psi


def test_the_lineage_keys_are_listed_once(trees):
    def listing(node: ast.AST) -> bool:
        if not isinstance(node, ast.Tuple | ast.List | ast.Set):
            return False
        values = {_text(element) for element in node.elts}
        return {"git-sha", "dataset-version"} <= values or {
            "model-version",
            "approved-by",
        } <= values

    found = _where(trees, listing)
    assert _files_of(found) == ["spec/keys.py"] and len(found) == 2, found


def test_the_platform_config_key_is_spelled_once(trees):
    found = _where(trees, lambda n: "mlops:platform" in (_text(n) or ""))
    assert found == ["spec/keys.py:" + found[0].split(":")[1]], found


def test_the_sagemaker_traffic_limits_live_in_spec_limits(trees):
    def rounding(node: ast.AST) -> bool:
        # ceil(percent * fleet / 100) however it is written: a division by 100 under a ceil or
        # a negated floor division.
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("math.ceil", "ceil"):
            return "/ 100" in ast.unparse(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return "// 100" in ast.unparse(node.operand)
        return False

    # A nearest-rank percentile (CloudWatch statistics, ceil(p / 100 * n)) rounds the same way
    # but is no traffic limit: its one function is set apart by name.
    percentile = {
        id(inner)
        for _, tree, _ in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "percentile"
        for inner in ast.walk(node)
    }
    found = _where(trees, lambda n: id(n) not in percentile and rounding(n))
    assert _files_of(found) == ["spec/limits.py"], found
    reference = _where(trees, lambda n: "API_TrafficRoutingConfig" in (_text(n) or ""))
    assert _files_of(reference) == ["spec/limits.py"], reference

    # Each limit is a name in spec.limits; the callers import it (no literal 3600-second wait or
    # 60-minute bake beside a rollout anywhere else).
    def limit(node: ast.AST) -> bool:
        if not isinstance(node, ast.Compare):
            return False
        text = ast.unparse(node)
        rollout = any(word in text for word in ("bake", "stated", "canary", "linear", "share"))
        numbers = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant)}
        return rollout and bool(numbers & {10, 50, 60, 3600})

    assert _where(trees, limit) == []
