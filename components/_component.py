"""What every component shares: child options, secure-default resolution, prod protection."""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi

from mlops_iac.spec import clouds

T = TypeVar("T")

PROD = "prod"

# Cloud → (import name, distribution) of the provider SDK its extra installs.
CLOUD_SDKS = {name: (entry.sdk, entry.distribution) for name, entry in clouds.REGISTRY.items()}


def require_cloud_sdk(cloud: str) -> None:
    """Fail with the extra to install when ``cloud``'s provider SDK is missing.

    Each cloud package calls this before importing its components, so ``import
    mlops_iac.components.azure`` in an AWS-only install says ``pip install 'mlops-iac[azure]'``
    instead of a bare ``No module named 'pulumi_azure_native'``. Provider SDKs load their
    submodules lazily, so importing the top-level package here costs little.
    """
    module, distribution = CLOUD_SDKS[cloud]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise ModuleNotFoundError(
            f"mlops_iac.components.{cloud} needs {distribution}, which is not installed: "
            f"pip install 'mlops-iac[{cloud}]'",
            name=module,
        ) from None


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's PEP 562 ``__getattr__`` and ``__dir__``: ``exports`` maps each public name to
    the submodule (relative to ``package``) that defines it, imported on first access.

    A cloud package imports its SDK's top level and nothing else; the module behind a name (and
    the SDK submodules that module uses) loads when the program first touches the name. The
    loaded value is cached in the package's namespace, so later accesses cost nothing.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__


class Component(pulumi.ComponentResource):
    """Base of every mlops component: its outputs are assigned and registered in one call.

    A component declares its outputs once as class annotations (the contract's output Protocol
    checks them) and ends its constructor with ``self.register(name=value, ...)``: each value
    becomes the attribute of that name and the same mapping is registered with the engine, so the
    two can never drift apart.
    """

    def register(self, **outputs: Any) -> None:
        """Assign each output to ``self`` and register them all (last, as Pulumi requires)."""
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)


def child_opts(
    parent: pulumi.Resource,
    *,
    protect: bool = False,
    depends_on: list[pulumi.Resource] | None = None,
    **kwargs: Any,
) -> pulumi.ResourceOptions:
    """Options for a child: parented to the component; protected and retained when asked.

    Protected children are also retained on delete, so removing a prod component from a program
    never deletes the data behind it.
    """
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect or None,
        retain_on_delete=protect or None,
        depends_on=depends_on,
        **kwargs,
    )


def component_opts(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The caller's options, merged rather than replaced (an empty set when none were given)."""
    return pulumi.ResourceOptions.merge(pulumi.ResourceOptions(), opts)


def unset(default: Any) -> Any:
    """An Args field that is unset (``None``) unless the caller gives a value.

    The component resolves ``None`` to ``default`` (usually through :func:`secure_default`);
    the value is recorded in the field's metadata so the generated reference shows the value
    actually used, and wiring code can pass ``None`` instead of repeating the default.
    """
    return dataclasses.field(default=None, metadata={"default": default})


def default_of(args_class: type, setting: str) -> Any:
    """The value an unset Args field resolves to (``None`` when the field has no such default)."""
    for found in dataclasses.fields(args_class):
        if found.name == setting:
            if "default" in found.metadata:
                return found.metadata["default"]
            if found.default is not dataclasses.MISSING:
                return found.default
            return None
    raise KeyError(f"{args_class.__name__} has no field {setting!r}")


def given(value: T | None, default: T) -> T:
    """``value`` when the caller gave one (``0``, ``False`` and ``""`` included), else ``default``.

    Never ``value or default``: an explicit zero is a setting, not a request for the default.
    """
    return default if value is None else value


def at_least(component: str, setting: str, value: T, minimum: int) -> T:
    """``value``, or ``ValueError`` naming the setting when it is a number below ``minimum``.

    For limits the cloud itself imposes; an Output (known only at deploy time) is passed through.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value < minimum:
        raise ValueError(f"{component}: {setting} must be at least {minimum}, got {value!r}")
    return value


def secure_default(component: str, setting: str, value: T | None, default: T) -> T:
    """``value`` if the caller set it, else the secure ``default``.

    A caller who turns a secure default off gets a warning naming the component and setting, so
    a weakened platform is visible in every ``pulumi up`` and offline plan.
    """
    if value is None:
        return default
    if value != default:
        pulumi.log.warn(f"{component}: {setting} is {value!r}; the secure default is {default!r}")
    return value


def require_not_prod(component: str, environment: str, setting: str, enabled: bool) -> None:
    """Refuse a setting that prod forbids (``force_destroy``, public endpoints)."""
    if enabled and environment == PROD:
        raise ValueError(f"{component}: {setting} is refused in prod")


# How the providers say a resource does not exist: pulumi-gcp's data sources end with
# "<name> not found"; azure-native quotes ARM's "RESPONSE 404" and its error codes. Whole words
# only: a "404" inside an id or a hash of another error (403, 429, 5xx) must not count.
_NOT_FOUND = re.compile(
    r"\bnot found\b|\bRESPONSE 404\b"
    r"|\b(?:NotFound|ResourceNotFound|ParentResourceNotFound|ResourceGroupNotFound)\b"
)


def read_live(label: str, what: str, read: Callable[[], T]) -> T | None:
    """``read()`` (a synchronous invoke of a live resource), or None when the cloud says
    ``what`` does not exist (deleted outside Pulumi, or not created yet), with a warning. Any
    other failure stops the program with one line naming ``what``: a read that silently failed
    would let the update undo what the cloud recorded."""
    try:
        return read()
    except Exception as exc:  # the engine raises a plain Exception for a failed invoke
        message = " ".join(str(exc).split())
        if _NOT_FOUND.search(message):
            pulumi.log.warn(f"{label}: {what} does not exist (yet); nothing live to keep")
            return None
        raise ValueError(f"{label}: cannot read {what}: {message[:300]}") from None


def field_of(value: Any, key: str) -> Any:
    """``key`` of an invoke result or of a plain mapping (results nest typed objects)."""
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)
