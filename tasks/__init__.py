"""The suite's own tasks, one package (or module) each; importing this package registers them all.

pyproject.toml names this package under the `recency_bench.tasks` entry point group; the suite finds it
there and never imports it by name.
"""
import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
