"""Lets Spyne 2.14 (its last release) import and run on Python 3.12 and 3.13.

Spyne vendors an old copy of ``six`` (``spyne.util.six``) whose meta-path
importer serves ``spyne.util.six.moves`` and its submodules through the
PEP 302 ``find_module``/``load_module`` pair only. Python 3.12 stopped asking
meta-path finders for ``find_module``, so ``import spyne`` fails there with
``No module named 'spyne.util.six.moves'``. :class:`SpyneSixFinder` answers
those names with a modern spec whose loader delegates to that same importer,
reproducing what Python 3.11's fallback did, without changing Spyne's files or
classes. It is installed on every version so that 3.11 runs the same path.

Python 3.13 also removed the ``cgi`` module Spyne uses to parse Content-Type
headers; the ``legacy-cgi`` distribution (a dependency on 3.13+) puts it back
under the same name, and :func:`install` says so plainly if it is missing.

This module must be imported before anything from ``spyne``: the ``soap``
package imports it first, and so do the other places that use Spyne (the
example clinic server, the tests).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

SIX_MODULE = "spyne.util.six"
"""Spyne's vendored six; its meta-path importer lives in its ``_importer``."""


def _six_importer() -> Any:
    """The vendored six's importer, or None while ``spyne.util.six`` is not loaded.

    Its class has no stubs (and Spyne none at all), hence ``Any``."""
    six = sys.modules.get(SIX_MODULE)
    return getattr(six, "_importer", None)


class SixMovesLoader(Loader):
    """``create_module``/``exec_module`` on top of the vendored six's ``load_module``."""

    def __init__(self, importer: Any) -> None:
        self._importer = importer

    def is_package(self, fullname: str) -> bool:
        # Consulted by spec_from_loader: ``moves`` and ``moves.urllib`` are packages.
        return bool(self._importer.is_package(fullname))

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        # load_module resolves a moved name to the real module (``moves.
        # collections_abc`` is ``collections.abc``) and registers it. The
        # import system is about to stamp our spec on whatever we return, so
        # keep the module's own spec to put back: ``collections.abc`` must
        # keep describing itself, as it did under Python 3.11.
        module: ModuleType = self._importer.load_module(spec.name)
        spec.loader_state = module.__dict__.get("__spec__")
        return module

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        own_spec = spec.loader_state if spec is not None else None
        if own_spec is not None:
            module.__spec__ = own_spec


class SpyneSixFinder(MetaPathFinder):
    """Finds ``spyne.util.six.moves...`` names by asking the vendored importer."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if not fullname.startswith(SIX_MODULE + "."):
            return None
        importer = _six_importer()
        if importer is None or importer.find_module(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, SixMovesLoader(importer))


def _cgi_available() -> bool:
    return "cgi" in sys.modules or importlib.util.find_spec("cgi") is not None


def install() -> None:
    """Puts the finder on ``sys.meta_path`` once; checks that ``cgi`` can be imported."""
    if not any(type(finder).__name__ == SpyneSixFinder.__name__ for finder in sys.meta_path):
        sys.meta_path.append(SpyneSixFinder())
    if not _cgi_available():
        raise ImportError(
            "Spyne needs the 'cgi' module, removed from Python 3.13: "
            "install the 'legacy-cgi' package (pip install 'legacy-cgi>=2.6')"
        )


install()
