"""Plugins and run identity: which plugin module registered which architecture or task, and the fields
beyond the config that change a run's numbers (see RunConfig.identity for why each one is there)."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import sys
from typing import Sequence

import torch

from suite.core.config import RunConfig
from suite.models.zoo import ARCHITECTURES
from suite.run.code_version import task_code_version
from suite.task import TASKS, all_tasks, get_task

# plugin module name -> (hash of its source, {"arch:NAME" or "task:NAME": the object it registered})
_PLUGINS: dict[str, tuple[str, dict[str, object]]] = {}


# The suite's own architectures, as registered when the zoo was imported (before any plugin could be).
BUILTIN_ARCHITECTURES = frozenset(ARCHITECTURES)


class PluginError(Exception):
    """A --plugin module that cannot be imported (the message is one line)."""


def import_plugins(modules: Sequence[str]) -> None:
    """Import user modules that register architectures or tasks (e.g. --plugin mypkg.my_cell), noting the
    names each one registers. Raises PluginError, also for a plugin that calls sys.exit on import."""
    for name in modules:
        if name not in _PLUGINS:
            _PLUGINS[name] = _import_noting_registrations(name)


def _import_noting_registrations(name: str) -> tuple[str, dict[str, object]]:
    all_tasks()  # the suite's own tasks first, so a plugin's task of the same name is seen as replacing one
    before = _registry_snapshot()
    try:
        module = sys.modules.get(name)
        # already imported by someone else: import it again, so that what it registers can be seen
        module = importlib.reload(module) if module is not None else importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise PluginError(f"plugin '{name}' called sys.exit({exc.code!r}) while being imported") from None
    except BaseException as exc:
        raise PluginError(f"cannot import plugin '{name}': {type(exc).__name__}: {exc}") from None
    after = _registry_snapshot()
    registered = {key: obj for key, obj in after.items() if before.get(key) is not obj}
    taken = [key for key in registered if key in before and _builtin(key, before[key])]
    if taken:
        _restore(before, taken)
        kind, _, taken_name = taken[0].partition(":")
        kind = "architecture" if kind == "arch" else "task"
        raise PluginError(f"plugin '{name}' registers the {kind} '{taken_name}', which is built in: it would "
                          f"silently replace the suite's own (same label, other numbers); register it under "
                          f"another name")
    return source_hash(module), registered


def _builtin(key: str, previous: object) -> bool:
    """Whether a registry entry is the suite's own: an architecture the zoo registered, or a task defined in
    the suite's packages (a plugin re-imported re-registers its own entries, which is no replacement)."""
    kind, _, name = key.partition(":")
    if kind == "arch":
        return name in BUILTIN_ARCHITECTURES
    return getattr(previous, "__module__", "").split(".")[0] in ("suite", "tasks")


def _restore(before: dict[str, object], keys: list[str]) -> None:
    """Put the built-in entries a refused plugin replaced back in place."""
    for key in keys:
        kind, _, name = key.partition(":")
        if kind == "arch":
            ARCHITECTURES[name] = before[key]
        else:
            TASKS[name] = before[key]()  # tasks are registered as instances of their class


def _registry_snapshot() -> dict[str, object]:
    return {**{f"arch:{k}": v for k, v in ARCHITECTURES.items()}, **{f"task:{k}": type(v) for k, v in TASKS.items()}}


def source_hash(module) -> str:
    """Hash of a module's source code (its compiled code when the source is not available)."""
    try:
        text = inspect.getsource(module).encode()
    except (OSError, TypeError):
        text = repr(sorted(vars(module))).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def plugin_hashes(cfg: RunConfig) -> dict[str, str]:
    """Source hashes of the plugin modules whose registration of this run's architecture or task is the
    one in force (a later registration of the same name replaces an earlier one)."""
    current = _registry_snapshot()
    wanted = (f"arch:{cfg.model.arch}", f"task:{cfg.task}")
    return {name: digest for name, (digest, registered) in sorted(_PLUGINS.items())
            if any(key in registered and registered[key] is current.get(key) for key in wanted)}


def identify(cfg: RunConfig, threads: int) -> RunConfig:
    """The config with its identity filled in: the version of the code the run executes, torch version,
    threads (on CPU, where they split the arithmetic; on a GPU they only feed it) and plugin sources."""
    identity: dict = {"code": task_code_version(get_task(cfg.task)), "torch": torch.__version__}
    if cfg.device == "cpu":
        identity["threads"] = threads
    plugins = plugin_hashes(cfg)
    if plugins:
        identity["plugins"] = plugins
    return dataclasses.replace(cfg, identity=identity)
