"""docs/openapi.yaml is what docs/generate_openapi.py writes today, and a valid
OpenAPI 3.1 document."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tuotempo_soap.web.jsonapi import openapi_document

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = ROOT / "docs" / "generate_openapi.py"
COMMITTED = ROOT / "docs" / "openapi.yaml"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_openapi", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_description_is_current() -> None:
    assert _generator().is_current(COMMITTED), (
        "docs/openapi.yaml is stale: run python docs/generate_openapi.py"
    )


def test_the_committed_description_is_valid_openapi_3_1() -> None:
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_what_the_generator_writes_reads_back_as_the_document(tmp_path: Path) -> None:
    written = tmp_path / "openapi.yaml"
    written.write_text(_generator().render(openapi_document()), encoding="utf-8")
    assert yaml.safe_load(written.read_text(encoding="utf-8")) == openapi_document()
