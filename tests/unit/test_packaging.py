"""The plain ``pip install -e .`` of the README's first command must be enough to
run the package: every third-party module it imports belongs to a distribution
listed in ``install_requires``, not only in the ``test`` extra.

(zeep once sat only in the test extra: CI stayed green while ``serve --demo``
failed on a fresh machine.)
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirement_names(block: str) -> set[str]:
    names = set()
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.match(r"[A-Za-z0-9_.\-]+", line)
            assert match, line
            names.add(_canonical(match.group(0)))
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in [*(ROOT / "tuotempo_soap").rglob("*.py"), *(ROOT / "migrations").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_every_third_party_import_is_an_install_requirement() -> None:
    required = _requirement_names(_setup_cfg()["options"]["install_requires"])
    owners = packages_distributions()
    third_party = {
        module
        for module in _imported_top_level_modules()
        if module not in sys.stdlib_module_names and module not in ("tuotempo_soap", "__future__")
    }
    assert third_party, "the scan found no imports at all"
    missing = {}
    for module in sorted(third_party):
        distributions = {_canonical(d) for d in owners.get(module, [])}
        assert distributions, f"{module} is imported but no installed distribution provides it"
        if not distributions & required:
            missing[module] = sorted(distributions)
    assert not missing, f"imported by the package but not in install_requires: {missing}"


def test_the_test_extra_does_not_hide_a_runtime_dependency() -> None:
    cfg = _setup_cfg()
    runtime = _requirement_names(cfg["options"]["install_requires"])
    test_only = _requirement_names(cfg["options.extras_require"]["test"]) - runtime
    owners = packages_distributions()
    provided = {
        module for module, dists in owners.items() if {_canonical(d) for d in dists} & test_only
    }
    leaked = provided & _imported_top_level_modules()
    assert not leaked, f"the package imports modules only the test extra installs: {leaked}"
