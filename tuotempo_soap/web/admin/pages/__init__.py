"""The back office's pages, one module per subject; each registers its views
with ``routing.pages`` when imported. ``load`` imports every module here, so a
new page is a new module and nothing else needs to list it."""

from __future__ import annotations

import importlib
import pkgutil


def load() -> None:
    """Import every page module of this package (once; Python caches imports)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}")
