"""Saved state that would turn a rule off (issue 24, items 4 and 10).

A state (``--state`` or ``<stackConfigDir>/state/<stack>.json``) decides whether a Cloud Run
service's single revision is a first deployment. Anything but an exact export is refused with exit
2 and one line naming the file, never read as "no state"; no state at all is "unknown", never a
first deployment. A generated corpus (fixed seed) of broken states checks the class.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_iac.plan.deploy import state as state_module
from tests.conftest import REPO, stack_config

SAVED = REPO / "stacks" / "state" / "gcp-prod.json"
# The shapes and the corpus mutate a small export (a stack serving one Cloud Run revision): every
# case is refused before the program runs, so its size, not its content, matters.
EXPORT = json.loads((Path(__file__).parent / "served_state.json").read_text())
ROLLBACK = "mlops-serving-rollback"


def _project(tmp_path: Path) -> Path:
    """A team program whose stack has a saved-state directory (the program never runs: a state
    that cannot be used is refused before it)."""
    project = tmp_path / "team"
    (project / "state").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: team\nruntime: python\n")
    (project / "__main__.py").write_text("import pulumi\n")
    (project / "Pulumi.team-prod.yaml").write_text("config: {}\n")
    return project


def _saved(project: Path) -> Path:
    return project / "state" / "team-prod.json"


# --- what sits at the state path: links, directories, empty and unreadable files ---------------


def _dangling(path: Path, tmp_path: Path) -> str:
    path.symlink_to(tmp_path / "gone.json")
    return f"is a symbolic link (to {tmp_path / 'gone.json'}, which does not exist)"


def _link_to_a_good_export(path: Path, tmp_path: Path) -> str:
    # Even a link to a real export: the reviewed directory holds files, not pointers elsewhere.
    path.symlink_to(SAVED)
    return f"is a symbolic link (to {SAVED}); a state is read from a regular file only"


def _link_to_a_directory(path: Path, tmp_path: Path) -> str:
    path.symlink_to(tmp_path)
    return "is a symbolic link"


def _directory(path: Path, tmp_path: Path) -> str:
    path.mkdir()
    return "is a directory, not a state file"


def _fifo(path: Path, tmp_path: Path) -> str:
    os.mkfifo(path)
    return "is not a regular file"


def _empty(path: Path, tmp_path: Path) -> str:
    path.write_bytes(b"")
    return "is empty"


def _blank(path: Path, tmp_path: Path) -> str:
    path.write_bytes(b" \n\t\n")
    return "is empty"


def _too_large(path: Path, tmp_path: Path) -> str:
    with path.open("wb") as handle:  # sparse: refused on its size, never read
        handle.truncate(state_module.MAX_STATE_BYTES + 1)
    return f"is {state_module.MAX_STATE_BYTES + 1} bytes, more than the 64 MiB a state may be"


def _never_deployed_claim(path: Path, tmp_path: Path) -> str:
    # A plan report naming nothing and no stack outputs: outputs unknown, not "served nothing".
    path.write_text('{"resources": []}')
    return ""


ENTRIES: dict[str, Callable[[Path, Path], str]] = {
    "dangling symlink": _dangling,
    "symlink to a good export": _link_to_a_good_export,
    "symlink to a directory": _link_to_a_directory,
    "directory": _directory,
    "fifo": _fifo,
    "empty": _empty,
    "blank": _blank,
    "over 64 MiB": _too_large,
}


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_saved_state_that_cannot_be_used_exits_2_never_no_state(entry, cli, tmp_path) -> None:
    project = _project(tmp_path)
    expected = ENTRIES[entry](_saved(project), tmp_path)
    code = cli("plan", "--stack", "team-prod", "--project", project, "--quiet")
    assert code == 2
    line = cli.one_error_line()
    assert line.startswith(f"mlops-iac plan: error: saved state {_saved(project)}: "), line
    assert expected in line


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_same_for_state_on_the_command_line(entry, cli, tmp_path) -> None:
    path = tmp_path / "given.json"
    expected = ENTRIES[entry](path, tmp_path)
    code = cli("plan", "--stack", "gcp-prod", "--project", REPO, "--state", path, "--quiet")
    assert code == 2
    line = cli.one_error_line()
    assert line.startswith(f"mlops-iac plan: error: --state {path}: ") and expected in line


def test_an_unreadable_state_exits_2(cli, tmp_path, monkeypatch) -> None:
    # The suite may run as root, where a mode-000 file is still readable: refuse the open.
    path = tmp_path / "state.json"
    path.write_text(json.dumps(EXPORT))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(state_module.os, "open", refuse)
    code = cli("plan", "--stack", "gcp-prod", "--project", REPO, "--state", path, "--quiet")
    assert code == 2
    assert cli.one_error_line() == (
        f"mlops-iac plan: error: --state {path}: cannot be read (Permission denied)"
    )


def test_a_missing_state_file_given_on_the_command_line_exits_2(cli, tmp_path) -> None:
    path = tmp_path / "missing.json"
    assert cli("plan", "--stack", "gcp-prod", "--project", REPO, "--state", path, "-q") == 2
    assert cli.one_error_line() == f"mlops-iac plan: error: --state {path}: does not exist"


def test_a_stack_name_cannot_reach_out_of_the_state_directory(cli, tmp_path) -> None:
    project = _project(tmp_path)
    (tmp_path / "evil.json").write_text('{"version": 3, "deployment": {}}')
    code = cli("plan", "--stack", "../../evil", "--project", project, "--quiet")
    assert code == 2
    assert cli.one_error_line() == (
        "mlops-iac plan: error: stack name '../../evil' is not a stack name"
    )


def test_the_saved_state_is_found_even_when_it_is_broken(tmp_path) -> None:
    from mlops_iac.plan.service import saved_state

    project = _project(tmp_path)
    assert saved_state(project, "team-prod") is None
    _saved(project).symlink_to(tmp_path / "gone.json")
    assert saved_state(project, "team-prod") == _saved(project)


# --- absent state: unknown, never a first deployment -------------------------------------------


def _gcp_prod_file(tmp_path: Path, extra: dict | None = None) -> Path:
    config = stack_config("gcp-prod")
    config.update(extra or {})
    path = tmp_path / "Pulumi.gcp-new.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def _plan_json(cli, tmp_path: Path, *args: str | Path) -> tuple[int, dict]:
    report = tmp_path / "plan.json"
    code = cli("plan", "--project", REPO, "--quiet", "--json", report, *args)
    return code, json.loads(report.read_text()) if report.exists() else {}


def _rollback(document: dict) -> list[str]:
    return [v["message"] for v in document["violations"] if v["policy"] == ROLLBACK]


def test_a_stack_file_cannot_claim_its_last_deployment_served_nothing(cli, tmp_path) -> None:
    # No saved state, and the stack file sets the engine's own key to "no outputs": ignored.
    claim = {"mlops-testing:previousOutputs": {}}
    config = _gcp_prod_file(tmp_path, claim)
    code, document = _plan_json(cli, tmp_path, "-s", "gcp-new", "--config-file", config)
    assert code == 1 and document["state"] is None
    [message] = _rollback(document)
    assert "the stack's last deployment is unknown (no saved state)" in message


def test_a_plan_report_without_stack_outputs_is_not_a_first_deployment(cli, tmp_path) -> None:
    state = tmp_path / "state.json"
    _never_deployed_claim(state, tmp_path)
    config = _gcp_prod_file(tmp_path)
    args = ("-s", "gcp-new", "--config-file", config, "--state", state)
    code, document = _plan_json(cli, tmp_path, *args)
    assert code == 1 and len(_rollback(document)) == 1


def test_the_report_names_the_state_file_and_its_digest(cli, tmp_path) -> None:
    sarif = tmp_path / "plan.sarif"
    code, document = _plan_json(cli, tmp_path, "-s", "gcp-prod", "--sarif", sarif)
    assert code == 0
    digest = "sha256:" + hashlib.sha256(SAVED.read_bytes()).hexdigest()
    expected = {"file": "stacks/state/gcp-prod.json", "digest": digest, "source": "saved state"}
    assert document["state"] == expected
    [run] = json.loads(sarif.read_text())["runs"]
    assert run["properties"]["state"] == expected
    assert cli("plan", "-s", "gcp-prod", "--project", REPO, "--no-color") == 0
    assert f"State: stacks/state/gcp-prod.json ({digest})\n" in cli.out


def test_no_state_is_reported_as_unknown(cli, tmp_path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "__main__.py").write_bytes((REPO / "__main__.py").read_bytes())
    stack_file = (REPO / "stacks" / "Pulumi.aws-dev.yaml").read_bytes()
    (project / "Pulumi.aws-dev.yaml").write_bytes(stack_file)
    (project / "Pulumi.yaml").write_text(
        (REPO / "Pulumi.yaml").read_text().replace("stackConfigDir: stacks", "")
    )
    report = tmp_path / "plan.json"
    code = cli("plan", "-s", "aws-dev", "--project", project, "--json", report, "--no-color")
    document = json.loads(report.read_text())
    assert document["state"] is None, cli.err
    assert "State: none saved: what the stack's last deployment served is unknown" in cli.out
    # Without a state the plan is of a first deploy: the private cluster's Kubernetes side fails.
    assert code == 1 and "kubernetes-cluster-unreachable" in cli.out


# --- the shapes a state must have ---------------------------------------------------------------


def _export(mutate: Callable[[dict], object]) -> str:
    data = copy.deepcopy(EXPORT)
    mutate(data)
    return json.dumps(data)


def _resource(data: dict, i: int = 1) -> dict:
    return data["deployment"]["resources"][i]


SHAPES: dict[str, tuple[str, str]] = {
    "top level a list": ("[]", "neither a `pulumi stack export`"),
    "top level a number": ("3", "neither a `pulumi stack export`"),
    "version a string": (
        _export(lambda d: d.update(version="3")),
        "version must be a number, not a string",
    ),
    "deployment a list": (
        _export(lambda d: d.update(deployment=[])),
        "deployment must be an object, not a list",
    ),
    "resources an object": (
        _export(lambda d: d["deployment"].update(resources={})),
        "deployment.resources must be a list, not an object",
    ),
    "resources null": (
        _export(lambda d: d["deployment"].update(resources=None)),
        "deployment.resources must be a list, not null",
    ),
    "resource a string": (
        _export(lambda d: d["deployment"]["resources"].append("x")),
        "deployment.resources[2] must be an object, not a string",
    ),
    "inputs a list": (
        _export(lambda d: _resource(d).update(inputs=[1, 2])),
        "deployment.resources[1].inputs must be an object, not a list",
    ),
    "outputs a number": (
        _export(lambda d: _resource(d, 0).update(outputs=7)),
        "deployment.resources[0].outputs must be an object, not a number",
    ),
    "urn a number": (
        _export(lambda d: _resource(d).update(urn=1)),
        "deployment.resources[1].urn must be a string, not a number",
    ),
    "type missing": (
        _export(lambda d: _resource(d).pop("type")),
        "deployment.resources[1] has no type",
    ),
    "urn not a Pulumi URN": (
        _export(lambda d: _resource(d).update(urn="arn:aws:x")),
        "deployment.resources[1].urn 'arn:aws:x' is not a Pulumi URN",
    ),
    "two root stacks": (
        _export(
            lambda d: d["deployment"]["resources"].append(dict(_resource(d, 0), urn="urn:pulumi:x"))
        ),
        "has 2 root pulumi:pulumi:Stack resource",
    ),
    "duplicate urn": (
        _export(lambda d: d["deployment"]["resources"].append(_resource(d))),
        "appears twice",
    ),
    "plan report exports a list": ('{"resources": [], "exports": []}', "exports must be an object"),
    "plan report resources a number": ('{"resources": 1}', "resources must be a list"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_wrong_shapes_are_one_line_errors(shape, tmp_path) -> None:
    text, expected = SHAPES[shape]
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(state_module.StateError) as caught:
        state_module.read_state(path)
    message = str(caught.value)
    assert message.startswith(f"--state {path}: ") and expected in message, message
    assert "\n" not in message


def test_a_never_deployed_export_is_known_to_have_served_nothing(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 3, "deployment": {"manifest": {}}}')
    read = state_module.read_state(path)
    assert read.resources == () and state_module.previous_outputs(read) == {}
    assert state_module.previous_outputs(None) == state_module.NO_SAVED_STATE


def test_5000_levels_of_nesting_are_refused_without_a_traceback(cli, tmp_path) -> None:
    path = tmp_path / "deep.json"
    nested = '{"a": ' * 5000 + "1" + "}" * 5000
    path.write_text('{"version": 3, "deployment": {"resources": [], "x": ' + nested + "}}")
    assert cli("plan", "--stack", "gcp-prod", "--project", REPO, "--state", path, "-q") == 2
    assert cli.one_error_line() == (
        f"mlops-iac plan: error: --state {path}: nested deeper than 64 levels"
    )
    # Just past the bound (no recursion limit involved) is refused the same way.
    path.write_text('{"deployment": {"resources": [], "x": ' + "[" * 63 + "]" * 63 + "}}")
    with pytest.raises(state_module.StateError, match="nested deeper than 64 levels"):
        state_module.read_state(path)
    path.write_text('{"deployment": {"resources": [], "x": ' + "[" * 62 + "]" * 62 + "}}")
    assert state_module.read_state(path).resources == ()


# --- the generated corpus -----------------------------------------------------------------------

BASE = json.dumps(EXPORT, indent=2)
Mutation = Callable[[random.Random], bytes]


def _paths(value: object, at: tuple = ()) -> list[tuple]:
    """Every key path of the export (to place a wrong value or nesting anywhere)."""
    found = [at]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*at, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*at, i))
    return found


ALL_PATHS = _paths(EXPORT)


def _set(data: object, path: tuple, value: object) -> object:
    if not path:
        return value
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def truncated(rng: random.Random) -> bytes:
    text = BASE.encode()
    return text[: rng.randint(1, len(text) - 2)]


def deep_nesting(rng: random.Random) -> bytes:
    depth = rng.randint(65, 5000)
    opener, closer = rng.choice([("[", "]"), ('{"k": ', "}")])
    marker = "__deep__"
    data = _set(copy.deepcopy(EXPORT), rng.choice(ALL_PATHS[1:]), marker)
    inner = opener * depth + "0" + closer * depth
    return json.dumps(data).replace(json.dumps(marker), inner, 1).encode()


#: A place a state's structure is fixed, and the wrong values tried there.
STRUCTURE: list[tuple[tuple, list[object]]] = [
    ((), [[], 1, "x", None, True]),
    (("version",), ["3", None, [3], {"v": 3}, True]),
    (("deployment",), [[], "x", 1, None, False]),
    (("deployment", "resources"), [{}, "x", 1, None, True]),
    (("deployment", "resources", 0), [[], "x", 1, None]),
    (("deployment", "resources", 1), [[], "x", 2.5, None]),
    (("deployment", "resources", 1, "urn"), [1, None, [], {}, "", "   ", "not-an-urn"]),
    (("deployment", "resources", 1, "type"), [1, None, [], {}, ""]),
    (("deployment", "resources", 0, "type"), ["pulumi:pulumi:StackX", "gcp:x:Y"]),
    (("deployment", "resources", 1, "name"), [1, [], {}, True]),
    (("deployment", "resources", 1, "inputs"), [[], 1, "x", True, None]),
    (("deployment", "resources", 0, "outputs"), [[], 1, "x", False, None]),
]


def wrong_type(rng: random.Random) -> bytes:
    path, values = rng.choice(STRUCTURE)
    return json.dumps(_set(copy.deepcopy(EXPORT), path, rng.choice(values))).encode()


def huge_string(rng: random.Random) -> bytes:
    # Past the (lowered) size bound; the bound is what refuses it.
    data = _set(copy.deepcopy(EXPORT), rng.choice(ALL_PATHS[1:]), "x" * (SMALL_BOUND + 10))
    return json.dumps(data).encode()


def non_finite(rng: random.Random) -> bytes:
    literal = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
    marker = "__number__"
    data = _set(copy.deepcopy(EXPORT), rng.choice(ALL_PATHS[1:]), marker)
    return json.dumps(data).replace(json.dumps(marker), literal, 1).encode()


def huge_integer(rng: random.Random) -> bytes:
    marker = "__number__"
    data = _set(copy.deepcopy(EXPORT), rng.choice(ALL_PATHS[1:]), marker)
    digits = "9" * rng.randint(4301, 20000)
    return json.dumps(data).replace(json.dumps(marker), digits, 1).encode()


def bom(rng: random.Random) -> bytes:
    return b"\xef\xbb\xbf" + BASE.encode()


def duplicate_key(rng: random.Random) -> bytes:
    # Repeat one "key": value line of the indented export, right after itself.
    lines = BASE.splitlines()
    candidates = [i for i, line in enumerate(lines) if line.strip().startswith('"') and ":" in line]
    i = rng.choice(candidates)
    line = lines[i] if lines[i].rstrip().endswith(",") else lines[i] + ","
    return "\n".join([*lines[:i], line, *lines[i:]]).encode()


def not_utf8(rng: random.Random) -> bytes:
    text = BASE.encode()
    at = rng.randint(0, len(text) - 1)
    return text[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) + text[at:]


def control_in_string(rng: random.Random) -> bytes:
    # A raw control character inside a string (JSON needs it escaped).
    text = BASE
    quotes = [i for i, c in enumerate(text) if c == '"']
    at = rng.choice(quotes) + 1
    # (Characters that are not JSON whitespace either, whichever side of the quote they land.)
    return (text[:at] + rng.choice(["\x00", "\x1b", "\x01", "\x07"]) + text[at:]).encode()


def trailing_garbage(rng: random.Random) -> bytes:
    return (BASE + rng.choice([" x", "}", "]", ",", "{}", "\x00"])).encode()


def cut_root(rng: random.Random) -> bytes:
    # The root stack resource cut, or a resource listed twice (which copy counts?).
    resources = EXPORT["deployment"]["resources"]
    data = copy.deepcopy(EXPORT)
    cut = [resources[1]] if rng.random() < 0.5 else [*resources, rng.choice(resources)]
    data["deployment"]["resources"] = copy.deepcopy(cut)
    return json.dumps(data).encode()


MUTATIONS: list[Mutation] = [
    truncated,
    deep_nesting,
    wrong_type,
    huge_string,
    non_finite,
    huge_integer,
    bom,
    duplicate_key,
    not_utf8,
    control_in_string,
    trailing_garbage,
    cut_root,
]
CORPUS_SIZE = 360
SMALL_BOUND = 64 * 1024


def corpus() -> list[tuple[str, bytes]]:
    rng = random.Random(24)
    return [
        (f"{n}-{MUTATIONS[n % len(MUTATIONS)].__name__}", MUTATIONS[n % len(MUTATIONS)](rng))
        for n in range(CORPUS_SIZE)
    ]


def test_generated_corpus_of_broken_states(cli, tmp_path, monkeypatch) -> None:
    # A 64 KiB bound keeps "over the bound" cases small; the real bound is checked above.
    monkeypatch.setattr(state_module, "MAX_STATE_BYTES", SMALL_BOUND)
    base = tmp_path / "base.json"
    base.write_text(BASE)
    assert len(state_module.read_state(base).resources) == 2  # the unmutated export is good
    started = time.perf_counter()
    failures = []
    path = tmp_path / "state.json"
    for name, content in corpus():
        path.write_bytes(content)
        code = cli("plan", "--stack", "gcp-prod", "--project", REPO, "--state", path, "-q")
        err = cli.err.strip()
        ok = code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
        if not ok or not err.startswith(f"mlops-iac plan: error: --state {path}: "):
            failures.append(f"{name}: exit {code}: {err[:300]}")
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures)"
    assert time.perf_counter() - started < 30  # about 5 s alone; the machine may be shared


# --- the state directory is a trust point -------------------------------------------------------


def test_a_state_directory_reached_through_a_link_is_refused(cli, tmp_path) -> None:
    # A program's state directory linked to one its author controls, holding a "good" export.
    project = _project(tmp_path)
    (project / "state").rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "team-prod.json").write_text('{"version": 3, "deployment": {}}')
    (project / "state").symlink_to(elsewhere)
    assert cli("plan", "--stack", "team-prod", "--project", project, "--quiet") == 2
    assert cli.one_error_line() == (
        f"mlops-iac plan: error: saved state directory {project / 'state'} is reached through a "
        "symbolic link; state is read from the reviewed directory itself, never through a link"
    )


def test_a_stack_config_dir_outside_the_program_is_refused(cli, tmp_path) -> None:
    project = _project(tmp_path)
    outside = tmp_path / "outside"
    (outside / "state").mkdir(parents=True)
    (outside / "Pulumi.team-prod.yaml").write_text("config: {}\n")
    (project / "Pulumi.yaml").write_text(
        "name: team\nruntime: python\nstackConfigDir: ../outside\n"
    )
    assert cli("plan", "--stack", "team-prod", "--project", project, "--quiet") == 2
    assert cli.one_error_line() == (
        f"mlops-iac plan: error: saved state directory {outside / 'state'} is outside the "
        f"program directory {project} (stackConfigDir must stay inside it)"
    )
