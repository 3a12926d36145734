"""The offline engine: run a Pulumi program under the SDK's mock engine and record everything.

``run(program, config=…)`` runs a function; ``run_project(directory, stack)`` runs a program
directory with a stack's config, the way ``pulumi preview`` would, but with no CLI, no plugins and
no cloud. Both return a ``Recording``: every resource's urn, type, logical name, parent, inputs
(camelCase, exactly what a policy sees), outputs, dependencies, property dependencies and
``protect``, plus the stack exports and the warnings the program logged.

Why a monitor of our own: ``Mocks.new_resource`` does not see parents, dependencies or options, and
the SDK's mock monitor does not run stack transforms. ``RecordingMonitor`` reads the
``RegisterResource`` requests themselves and runs registered transforms the way the engine does,
so lineage tags show up in recordings exactly as they would in a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import gc
import heapq
import json
import logging
import os
import runpy
import sys
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from mlops_iac.plan.mocks import LIVE_RESOURCES_KEY, PREVIOUS_OUTPUTS_KEY, RealisticMocks

SECRET_PLACEHOLDER = "offline-secret"
"""What a ``secure:`` config value reads as offline: the ciphertext cannot be decrypted here."""


class ProgramError(RuntimeError):
    """The program failed under the offline engine (bad config, a raised error, a failed apply)."""


@dataclass
class RecordedResource:
    """One registered resource, as the engine (and a policy) sees it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    provider: str | None
    id: str | None
    retain_on_delete: bool = False
    registered_outputs: dict[str, Any] = field(default_factory=dict)
    """For components: what ``register_outputs`` received."""
    secret_inputs: list[str] = field(default_factory=list)
    """Dotted paths of the inputs that are Pulumi secrets (encrypted in state, masked in logs)."""
    ignore_changes: list[str] = field(default_factory=list)
    """Property paths of the ``ignore_changes`` option."""
    source: tuple[str, int] | None = None
    """(file path, line) of the code that declared it: the SDK's ``sourcePosition``."""


@dataclass
class Recording:
    """Everything one offline run registered."""

    project: str
    stack: str
    resources: list[RecordedResource]
    """In ``canonical_order``: the same on every run of the same program and config."""
    exports: dict[str, Any]
    warnings: list[str]
    """What the program logged as warnings, sorted (the engine's arrival order varies)."""
    unmocked_invokes: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    """The stack config the program ran with (regions, opt-ins the deploy checks read)."""

    def deploy_errors(self, state: Any = None, report: Any = None) -> list[Any]:
        """What the real deploy would refuse (``mlops_iac.plan.deploy.check``).

        ``state``: the resources that exist before this update (``deploy.load_state``); ``None``
        plans a first deploy. ``report``: a ``deploy.Report`` that also collects skipped checks.
        """
        from mlops_iac.plan import deploy

        return deploy.check(self.resources, state=state, config=self.config, report=report)

    secret_exports: list[str] = field(default_factory=list)
    """Names of the stack outputs that are Pulumi secrets (their values are in ``exports``)."""

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """All resources of one type token, in the recording's order (``canonical_order``)."""
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str, type_token: str | None = None) -> RecordedResource:
        """The one resource with this name (and type); KeyError lists the names otherwise."""
        found = [
            r
            for r in self.resources
            if r.name == name and (type_token is None or r.type == type_token)
        ]
        if len(found) != 1:
            names = sorted(r.name for r in self.resources)
            raise KeyError(f"{len(found)} resources named {name!r}; names: {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def children(self, parent: RecordedResource | str) -> list[RecordedResource]:
        """Direct children of a resource (by resource or urn)."""
        urn = parent if isinstance(parent, str) else parent.urn
        return [r for r in self.resources if r.parent == urn]

    def children_by_name(self, parent: RecordedResource | str) -> dict[str, RecordedResource]:
        """Direct children keyed by logical name: what a component test compares."""
        return {r.name: r for r in self.children(parent)}

    def descendants(self, parent: RecordedResource | str) -> list[RecordedResource]:
        """Children, grandchildren and so on, in the recording's order."""
        urn = parent if isinstance(parent, str) else parent.urn
        seen = {urn}
        found = []
        for resource in self.resources:
            if resource.parent in seen:
                seen.add(resource.urn)
                found.append(resource)
        return found


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that records each registration and runs stack transforms."""

    def __init__(self, mocks: RealisticMocks) -> None:
        super().__init__(mocks)
        self.records: dict[str, RecordedResource] = {}
        self.order: list[str] = []
        self._transform_tokens: list[str] = []
        self._lock = threading.Lock()

    def RegisterStackTransform(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._transform_tokens.append(request.token)
        return super().RegisterStackTransform(request)

    def _apply_transforms(self, request: Any) -> None:
        for token in self._transform_tokens:
            callback = _find_callback(token)
            if callback is None:
                continue
            transform_request = resource_pb2.TransformRequest(
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                properties=request.object,
            )
            response = _sync_await(callback(transform_request.SerializeToString()))
            result = resource_pb2.TransformResponse.FromString(response.SerializeToString())
            request.object.CopyFrom(result.properties)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        _ensure_event_loop()
        if self._transform_tokens:
            self._apply_transforms(request)
        response = super().RegisterResource(request)
        inputs = rpc.deserialize_properties(request.object)
        registration = self.resources[response.urn]
        secret_inputs: list[str] = []
        record = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=_plain(inputs, secret_inputs),
            outputs=_plain(registration.state),
            dependencies=list(request.dependencies),
            property_dependencies={
                key: list(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            protect=bool(request.protect),
            provider=request.provider or None,
            id=registration.id or None,
            retain_on_delete=bool(request.retainOnDelete),
            secret_inputs=secret_inputs,
            ignore_changes=list(request.ignoreChanges),
            source=_source(request),
        )
        with self._lock:
            self.records[response.urn] = record
            self.order.append(response.urn)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        _ensure_event_loop()
        outputs = _plain(rpc.deserialize_properties(request.outputs))
        with self._lock:
            record = self.records.get(request.urn)
            if record is not None:
                record.registered_outputs = outputs
        return super().RegisterResourceOutputs(request)


def canonical_order(resources: Sequence[RecordedResource]) -> list[RecordedResource]:
    """``resources`` in one order that depends on what was registered, not on when.

    Why: the SDK registers sibling resources as their inputs resolve, on executor threads, so
    the order in which the monitor sees them changes from run to run (two NAT gateways swapped
    places in a plan's output). This order is one the engine could have seen: a resource comes
    after its parent, its provider and its dependencies, and among the resources that are ready
    the smallest URN comes first. A reference to a resource that is not in ``resources`` is
    ignored.
    """
    # Nodes are positions, so that a URN registered twice (the engine would refuse it) stays
    # in the recording twice, as registered.
    at: dict[str, list[int]] = {}
    for index, resource in enumerate(resources):
        at.setdefault(resource.urn, []).append(index)
    waiting_on: list[set[int]] = []
    dependents: dict[int, list[int]] = {}
    for index, resource in enumerate(resources):
        refs = {resource.parent, *resource.dependencies}
        refs.update(u for urns in resource.property_dependencies.values() for u in urns)
        if resource.provider:  # a provider reference is "<urn>::<id>"
            refs.add(resource.provider.rsplit("::", 1)[0])
        before = {i for u in refs if u and u != resource.urn for i in at.get(u, ())}
        waiting_on.append(before)
        for i in before:
            dependents.setdefault(i, []).append(index)
    ready = [(r.urn, i) for i, r in enumerate(resources) if not waiting_on[i]]
    heapq.heapify(ready)
    ordered: list[RecordedResource] = []
    while ready:
        _, index = heapq.heappop(ready)
        ordered.append(resources[index])
        for dependent in dependents.get(index, ()):
            waiting_on[dependent].discard(index)
            if not waiting_on[dependent]:
                heapq.heappush(ready, (resources[dependent].urn, dependent))
    if len(ordered) < len(resources):  # a cycle (the engine would refuse it): the rest by URN
        placed = {id(r) for r in ordered}
        ordered += sorted((r for r in resources if id(r) not in placed), key=lambda r: r.urn)
    return ordered


def _find_callback(token: str) -> Callable[[bytes], Any] | None:
    for servicer in _CallbackServicer._servicers:
        callback = servicer._callbacks.get(token)
        if callback is not None:
            return callback
    return None


def _source(request: Any) -> tuple[str, int] | None:
    """The declaring file and line the SDK sends with a registration (``file://`` URI)."""
    try:
        if not request.HasField("sourcePosition"):
            return None
        position = request.sourcePosition
    except ValueError:  # an SDK whose request has no such field
        return None
    uri = urllib.parse.urlparse(position.uri)
    if uri.scheme != "file" or not position.line:
        return None
    return urllib.request.url2pathname(uri.path), int(position.line)


def _plain(value: Any, secrets: list[str] | None = None, path: str = "") -> Any:
    """Deserialized properties as plain JSON-like data (secrets unwrapped, resources as urns).

    The dotted path of every secret unwrapped is appended to ``secrets`` when given.
    """
    if isinstance(value, Mapping):
        if rpc._special_sig_key in value:  # a secret or asset envelope
            if secrets is not None and value[rpc._special_sig_key] == rpc._special_secret_sig:
                secrets.append(path)
            return _plain(value.get("value"), secrets, path)
        return {
            str(k): _plain(v, secrets, f"{path}.{k}" if path else str(k)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_plain(v, secrets, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, pulumi.Resource):
        return getattr(value, "_mock_urn", None) or repr(value)
    if isinstance(value, pulumi.AssetArchive):  # code archives: comparable, like the engine's hash
        return {"assets": {k: _plain(v, secrets, path) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {"path": value.path}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    return value


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _config_strings(config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: strings, objects as JSON, secrets marked."""
    values: dict[str, str] = {}
    secrets: list[str] = []

    def unwrap(value: Any) -> tuple[Any, bool]:
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        if isinstance(value, Mapping):
            out, secret = {}, False
            for k, v in value.items():
                out[k], s = unwrap(v)
                secret = secret or s
            return out, secret
        if isinstance(value, list):
            items = [unwrap(v) for v in value]
            return [v for v, _ in items], any(s for _, s in items)
        return value, False

    for key, raw in config.items():
        value, secret = unwrap(raw)
        values[key] = value if isinstance(value, str) else json.dumps(value, default=_iso)
        if secret:
            secrets.append(key)
    return values, secrets


def _iso(value: Any) -> str:
    """YAML reads unquoted dates as date objects; the CLI hands them to programs as strings."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"config value of type {type(value).__name__} is not JSON-serialisable")


_gc_depth = 0


@contextlib.contextmanager
def batched_gc() -> Iterator[None]:
    """Collect cyclic garbage in bigger batches while a program runs (and its pack evaluates).

    Why: a program keeps every resource's futures, ``Output``s and closures alive until the run
    ends, and CPython's default thresholds (700, 10, 10) then trigger a full collection each
    time the heap grows by a quarter, each walking every live object, the provider SDKs'
    hundreds of thousands of classes and functions included. Freezing what exists before the
    run (imports, caches) and collecting the young generation 70x less often nearly halved a
    50-team plan (``benchmarks/README.md``). Garbage is still collected, in bigger batches;
    settings are restored on exit, also on error. Nested uses are no-ops.
    """
    global _gc_depth
    if _gc_depth:
        yield
        return
    threshold = gc.get_threshold()
    # A caller that froze the heap itself (a pre-fork server) owns the permanent generation.
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    _gc_depth += 1
    try:
        yield
    finally:
        _gc_depth -= 1
        gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()


def run(
    program: Callable[[], Any],
    *,
    config: Mapping[str, Any] | None = None,
    project: str = "project",
    stack: str = "test",
    mocks: RealisticMocks | None = None,
    source_root: str | os.PathLike[str] | None = None,
) -> Recording:
    """Run ``program`` under the recording mock engine and return what it registered.

    ``config`` maps full keys (``aws:region``, ``mlops:platform``) to values as a stack file holds
    them; objects are passed as JSON and ``secure:`` values read as ``SECRET_PLACEHOLDER``. Each
    run gets a fresh event loop and fresh Pulumi settings, so runs do not leak into each other.
    Raises ``ProgramError`` when the program fails; with ``source_root`` (the program's
    directory) its message starts with the ``file:line`` of the program's own code that raised
    or made the failing call.
    """
    context = contextvars.Context()
    root = Path(source_root) if source_root is not None else None
    with batched_gc():
        return context.run(_run_isolated, program, dict(config or {}), project, stack, mocks, root)


def _run_isolated(
    program: Callable[[], Any],
    config: dict[str, Any],
    project: str,
    stack: str,
    mocks: RealisticMocks | None,
    source_root: Path | None = None,
) -> Recording:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The SDK runs monitor calls on executor threads, each of which opens an event loop of its own
    # and never closes it. Give the pool an initializer that opens (and records) those loops, so
    # they can be closed when the run ends instead of leaking sockets.
    worker_loops: list[asyncio.AbstractEventLoop] = []
    executor = ThreadPoolExecutor(
        max_workers=8, initializer=lambda: worker_loops.append(_ensure_event_loop())
    )
    loop.set_default_executor(executor)
    mocks = mocks or RealisticMocks(project=project, stack=stack, config=config)
    monitor = RecordingMonitor(mocks)
    logger = logging.getLogger(f"mlops_iac.offline.{id(monitor)}")
    logger.propagate = False
    collector = _LogCollector()
    logger.addHandler(collector)
    values, secret_keys = _config_strings(config)
    pulumi.runtime.set_all_config(values, secret_keys)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor
    )
    exports: dict[str, Any] = {}
    # apply() unwraps secrets: keep each export's own secretness to report it.
    export_secrecy: dict[str, Any] = {}

    def body() -> Any:
        program()
        root = pulumi.runtime.settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}) or {})
        export_secrecy.update(outputs)
        return pulumi.Output.from_input(outputs).apply(exports.update)

    failure: ProgramError | None = None
    secret_exports: list[str] = []
    try:
        _sync_await(
            pulumi.runtime.stack.run_pulumi_func(
                lambda: _sync_await(pulumi.Output.from_input(body()).future())
            )
        )
        for key, value in export_secrecy.items():
            if _sync_await(pulumi.Output.from_input(value).is_secret()):
                secret_exports.append(key)
    except pulumi.RunError as exc:
        failure = ProgramError(str(exc))
    except ProgramError:
        raise
    except Exception as exc:
        # An error raised inside an apply reaches here wrapped once per input and resource it
        # flowed into ("While processing input ..."): report the error itself. The exception is
        # not chained, so the failed run's futures can be collected below.
        root: BaseException = exc
        seen = {id(root)}
        while root.__cause__ is not None and id(root.__cause__) not in seen:  # causes can loop
            root = root.__cause__
            seen.add(id(root))
        where = _user_frame(root, source_root) if source_root is not None else None
        failure = ProgramError(f"{where + ': ' if where else ''}{type(root).__name__}: {root}")
    finally:
        logger.removeHandler(collector)
        # A program that failed inside an apply leaves registrations pending: finish them here,
        # on this run's loop, so that none outlives it and breaks the next run.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        # The SDK's set of outstanding outputs is shared across contexts: a failed run must not
        # hand its tasks (bound to this loop, closed below) to the next run.
        with pulumi.runtime.settings.SETTINGS.lock:
            pulumi.runtime.settings.SETTINGS.outputs.clear()
        if failure is not None:
            # Its futures hold exceptions nobody retrieves and coroutines nobody awaits: collect
            # them now, quietly, rather than in whichever test runs next.
            loop.set_exception_handler(lambda _loop, _context: None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gc.collect()
        loop.run_until_complete(loop.shutdown_default_executor())
        for worker_loop in worker_loops:
            worker_loop.close()
        loop.close()
        asyncio.set_event_loop(None)
    if failure is not None:
        raise failure
    resources = canonical_order([monitor.records[urn] for urn in monitor.order])
    return Recording(
        project=project,
        stack=stack,
        resources=resources,
        exports=_plain(exports),
        # A warning about a resource is logged once its URN resolves, so several of them
        # arrive in a different order on each run: sorted, they read the same every time.
        warnings=sorted(collector.messages),
        unmocked_invokes=list(mocks.unmocked_invokes),
        config=config,
        secret_exports=sorted(secret_exports),
    )


@dataclass(frozen=True)
class Project:
    """A Pulumi program directory: its ``Pulumi.yaml`` and where its stack files live."""

    directory: Path
    name: str
    main: Path
    stack_config_dir: Path
    config: Mapping[str, Any] = field(default_factory=dict)
    """Project-level config values from ``Pulumi.yaml`` (full keys): every stack gets them,
    and a stack file's value for the same key wins, as the Pulumi CLI does."""
    runtime_options: Mapping[str, Any] = field(default_factory=dict)
    """``runtime.options`` of ``Pulumi.yaml`` (``toolchain``, ``virtualenv``)."""

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Project:
        """Read ``Pulumi.yaml`` with the stack files' bounded loader. Raises ``ProgramError``
        when it is missing or malformed."""
        from mlops_iac.spec import stackyaml

        path = Path(directory).resolve()
        manifest = path / "Pulumi.yaml"
        if not manifest.is_file():
            raise ProgramError(f"no Pulumi.yaml in {path}")
        try:
            data = stackyaml.load(manifest.read_bytes()) or {}
        except stackyaml.StackYamlError as exc:
            raise ProgramError(f"{manifest}: {exc}") from None
        except OSError as exc:
            raise ProgramError(f"{manifest}: cannot be read ({exc})") from None
        if not isinstance(data, dict) or not data.get("name"):
            raise ProgramError(f"{manifest}: needs a 'name'")
        name = str(data["name"])
        main = path / str(data.get("main", "."))
        if main.is_dir():
            main = main / "__main__.py"
        config = _project_config(manifest, name, data.get("config"))
        runtime = data.get("runtime")
        options = runtime.get("options") if isinstance(runtime, dict) else None
        return cls(
            path,
            name,
            main,
            path / str(data.get("stackConfigDir", ".")),
            config,
            options if isinstance(options, dict) else {},
        )

    @property
    def virtualenv(self) -> Path | None:
        """The program's virtualenv as the Pulumi CLI finds it: ``runtime.options.virtualenv``
        (relative to the project), else ``.venv`` for the ``uv`` and ``poetry`` toolchains when
        it exists (uv's project environment; poetry's in-project one); ``None`` for none
        (https://www.pulumi.com/docs/iac/languages-sdks/python/#virtual-environments)."""
        named = self.runtime_options.get("virtualenv")
        if isinstance(named, str) and named:
            return self.directory / named
        if self.runtime_options.get("toolchain") in ("uv", "poetry"):
            default = self.directory / ".venv"
            return default if default.is_dir() else None
        return None

    def site_packages(self) -> tuple[Path | None, str | None]:
        """``(site-packages of the program's virtualenv, warning)``: the directory the offline run
        adds to ``sys.path`` after this interpreter's own (so ``mlops-iac`` and the Pulumi SDK it
        runs with stay the ones in use, and the team's other dependencies are found), or a
        one-line warning saying why the virtualenv is not used."""
        venv = self.virtualenv
        if venv is None:
            return None, None
        shown = self.runtime_options.get("virtualenv") or ".venv"
        if not (venv / "pyvenv.cfg").is_file():
            return None, (
                f"Pulumi.yaml virtualenv {shown} is not a virtual environment (create it: "
                "python -m venv, pip install -r requirements.txt); the program runs with this "
                "mlops-iac's packages only"
            )
        if venv.resolve() == Path(sys.prefix).resolve():
            return None, None
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        for candidate in (venv / "lib" / version / "site-packages", venv / "Lib" / "site-packages"):
            if candidate.is_dir():
                return candidate, None
        return None, (
            f"Pulumi.yaml virtualenv {shown} has no {version} site-packages (another Python); "
            "the program runs with this mlops-iac's packages only"
        )

    def notes(self, stack: str, config_file: str | os.PathLike[str] | None = None) -> list[str]:
        """One-line warnings about what an offline run cannot honour: an unusable virtualenv,
        and Pulumi ESC ``environment:`` imports in the stack file (their values are not seen)."""
        found = []
        if (warning := self.site_packages()[1]) is not None:
            found.append(warning)
        from mlops_iac.spec import stackyaml

        path = Path(config_file) if config_file else self.stack_file(stack)
        try:
            data = stackyaml.load(path.read_bytes(), project=self.name) or {}
        except (OSError, stackyaml.StackYamlError):
            return found  # read_config reports it
        imports = data.get("environment") if isinstance(data, dict) else None
        if imports:
            names = imports if isinstance(imports, list) else [imports]
            found.append(
                f"{path.name} imports Pulumi ESC environment(s) "
                f"{', '.join(str(n) for n in names)}: offline, only the file's own config is "
                "seen (put the values the plan needs in config:)"
            )
        return found

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def saved_state(self, stack: str) -> Path | None:
        """``<stackConfigDir>/state/<stack>.json``: the stack's last ``pulumi stack export``, kept
        beside its stack file (CI saves it after each ``pulumi up``) so offline checks judge an
        update of what exists. ``None`` only when nothing is at that path: a dangling link, a
        directory or any other entry is returned, for ``deploy.read_state`` to refuse, never
        taken as "no state"."""
        if not stack or stack in (".", "..") or any(c in stack for c in "/\\\0"):
            raise ProgramError(f"stack name {stack!r} is not a stack name")
        directory = Path(os.path.normpath(self.stack_config_dir / "state"))
        # The state directory is a trust point (reviewed by the platform owners): it must be the
        # program's own, reached without links, or a program could point it anywhere.
        if not directory.is_relative_to(self.directory):
            raise ProgramError(
                f"saved state directory {directory} is outside the program directory "
                f"{self.directory} (stackConfigDir must stay inside it)"
            )
        if os.path.lexists(directory) and os.path.realpath(directory) != str(directory):
            raise ProgramError(
                f"saved state directory {directory} is reached through a symbolic link; "
                "state is read from the reviewed directory itself, never through a link"
            )
        path = directory / f"{stack}.json"
        return path if os.path.lexists(path) else None

    def read_saved_state(self, stack: str) -> Any:
        """The stack's saved state read strictly (a ``deploy.SavedState``), or ``None`` when none
        is saved. Raises ``ProgramError`` (one line) for a state that cannot be used."""
        from mlops_iac.plan import deploy

        path = self.saved_state(stack)
        if path is None:
            return None
        try:
            return deploy.read_state(path, source="saved state")
        except deploy.StateError as exc:
            raise ProgramError(str(exc)) from None

    def stacks(self) -> list[str]:
        """Names of the stacks that have a stack file."""
        files = sorted(self.stack_config_dir.glob("Pulumi.*.yaml"))
        return [f.name[len("Pulumi.") : -len(".yaml")] for f in files]

    def read_config(self, stack: str, config_file: str | os.PathLike[str] | None = None) -> dict:
        """The stack's config with keys made full (``key`` → ``<project>:key``,
        ``ns:config:key`` → ``ns:key``), as the CLI does. Two keys that are one full key are
        refused (``stackyaml.config_key``), never silently merged."""
        path = Path(config_file) if config_file else self.stack_file(stack)
        if config_file and not path.is_file():
            raise ProgramError(f"config file {path} does not exist or is not a file")
        if not path.is_file():
            known = ", ".join(self.stacks()) or "none"
            raise ProgramError(f"no stack file {path} (known stacks: {known})")
        from mlops_iac.spec import stackyaml  # the bounded loader, before anything else

        try:
            data = stackyaml.load(path.read_bytes(), project=self.name) or {}
        except stackyaml.StackYamlError as exc:
            raise ProgramError(f"{path}: {exc}") from None
        except OSError as exc:
            raise ProgramError(f"{path}: cannot be read ({exc})") from None
        if not isinstance(data, dict):
            raise ProgramError(f"{path}: must be a mapping with a 'config' key")
        raw = data.get("config", {})
        if not isinstance(raw, dict):
            raise ProgramError(f"{path}: 'config' must be a mapping")
        return {**self.config, **{stackyaml.config_key(k, self.name): v for k, v in raw.items()}}


#: What a project-level config declaration in ``Pulumi.yaml`` may hold
#: (https://www.pulumi.com/docs/iac/concepts/projects/project-file/, "config options").
_DECLARATION_KEYS = frozenset({"type", "description", "secret", "default", "value", "items"})


def _project_config(manifest: Path, project: str, raw: Any) -> dict[str, Any]:
    """The values ``Pulumi.yaml``'s ``config:`` gives every stack, by full key.

    A plain value, or a declaration's ``value`` (else its ``default``), as the Pulumi CLI
    merges them under each stack's own config. The platform spec is refused there: it is
    governed per stack, in the stack file that plan reads and reviewers review. A mapping that is
    not a declaration is refused too (plan cannot tell how the CLI would read it).
    """
    from mlops_iac.spec import stackyaml
    from mlops_iac.spec.keys import ROOT

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProgramError(f"{manifest}: 'config' must be a mapping")
    values: dict[str, Any] = {}
    for key, declared in raw.items():
        full = stackyaml.config_key(str(key), project)
        if full.casefold() == ROOT.casefold():
            raise ProgramError(
                f"{manifest}: config.{key}: the platform spec belongs in each stack file, not in "
                "Pulumi.yaml (every stack would inherit it unreviewed)"
            )
        if not isinstance(declared, dict):
            values[full] = declared
        elif not set(declared) <= _DECLARATION_KEYS:
            unknown = sorted(set(map(str, declared)) - _DECLARATION_KEYS)
            raise ProgramError(
                f"{manifest}: config.{key}: {unknown[0]!r} is not a config declaration key "
                f"({', '.join(sorted(_DECLARATION_KEYS))})"
            )
        elif "value" in declared:
            values[full] = declared["value"]
        elif "default" in declared:
            values[full] = declared["default"]
    return values


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for a YAML error: the problem and where (the parser's text spans lines)."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def run_project(
    directory: str | os.PathLike[str],
    stack: str,
    *,
    config_file: str | os.PathLike[str] | None = None,
    extra_config: Mapping[str, Any] | None = None,
) -> Recording:
    """Run the program in ``directory`` with the config of ``stack`` (or ``config_file``)."""
    project = Project.load(directory)
    config = project.read_config(stack, config_file)
    if PREVIOUS_OUTPUTS_KEY not in (extra_config or {}):
        from mlops_iac.plan import deploy

        # The program's reference to its own stack reads the saved export's outputs, always
        # over any the stack file claims (what the last deployment served decides a rollout);
        # without a saved export they are unknown, never "nothing was deployed".
        saved = project.read_saved_state(stack)
        config[PREVIOUS_OUTPUTS_KEY] = deploy.previous_outputs(saved)
        config[LIVE_RESOURCES_KEY] = deploy.live_resources(saved)
    else:
        # Live reads answer from a state only, never from what a stack file claims.
        config.pop(LIVE_RESOURCES_KEY, None)
    config.update(extra_config or {})
    if not project.main.is_file():
        raise ProgramError(f"program entry point {project.main} does not exist")

    site_packages = project.site_packages()[0]

    def program() -> None:
        with _program_path(project.directory, site_packages):
            runpy.run_path(str(project.main), run_name="__main__")

    return run(
        program,
        config=config,
        project=project.name,
        stack=stack,
        source_root=project.directory,
    )


_OWN_PACKAGES = ("cli", "components", "drift", "plan", "policies", "spec")


def _library_dirs() -> list[Path]:
    """Where this package's own modules live (a checkout's top-level folders, or site-packages)."""
    import importlib.util

    found = []
    for name in _OWN_PACKAGES:
        spec = importlib.util.find_spec(f"mlops_iac.{name}")
        found += [Path(p).resolve() for p in (spec and spec.submodule_search_locations) or ()]
    return found


def _user_frame(error: BaseException, root: Path) -> str | None:
    """``file:line`` of the innermost frame of ``error`` in the program's own files under
    ``root`` (an installed library there, e.g. a ``.venv``, or this package's own modules in a
    checkout, is not the program's), the file shown relative to the working directory when it is
    below it; ``None`` if no frame is the user's."""
    try:
        base = root.resolve()
    except OSError:
        return None
    library = _library_dirs()
    found: tuple[Path, int] | None = None
    for frame, line in _tb_frames(error):
        path = Path(frame.f_code.co_filename)
        if not path.is_absolute() or "site-packages" in path.parts:
            continue
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if resolved.is_relative_to(base) and not any(resolved.is_relative_to(d) for d in library):
            found = (resolved, line)
    if found is None:
        return None
    path, line = found
    try:
        shown = str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    return f"{shown}:{line}"


def _tb_frames(error: BaseException) -> Iterator[tuple[Any, int]]:
    tb = error.__traceback__
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


class _program_path:  # noqa: N801 (used as a context manager)
    """Put the program directory first on sys.path (its virtualenv's site-packages, if any,
    last) and make it the working directory."""

    def __init__(self, directory: Path, site_packages: Path | None = None) -> None:
        self.directory = directory
        self.site_packages = str(site_packages) if site_packages else None

    def __enter__(self) -> None:
        self.cwd = Path.cwd()
        sys.path.insert(0, str(self.directory))
        self.added = self.site_packages is not None and self.site_packages not in sys.path
        if self.added:
            sys.path.append(str(self.site_packages))
        os.chdir(self.directory)

    def __exit__(self, *exc: object) -> None:
        os.chdir(self.cwd)
        if str(self.directory) in sys.path:
            sys.path.remove(str(self.directory))
        if self.added and self.site_packages in sys.path:
            sys.path.remove(str(self.site_packages))
