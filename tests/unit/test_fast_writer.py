"""The fast path's text writer against its lxml writer, value by value.

The differential test (tests/integration/soap/test_engine_differential.py)
holds the lxml writer to Spyne's bytes on real answers; this one holds the
text writer to the lxml writer on every kind of character a stored value may
hold: markup characters, carriage returns, non-ASCII, astral planes, control
characters lxml refuses, empty strings, missing optional and required values.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tuotempo_soap.config import Settings
from tuotempo_soap.soap.application import build_spyne_app
from tuotempo_soap.soap.fast import FastSoap
from tuotempo_soap.soap.runtime import Runtime
from tuotempo_soap.store.bootstrap import open_store

_ALPHABET = "aZ09 &<>\"'\t\n\r\x7f\x85\xa0é€\u2028\ufffd😀;#/="
_REFUSED = "\x00\x01\x0b\x1f\ufffe\ud800"


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> FastSoap:
    directory = tmp_path_factory.mktemp("writer")
    settings = Settings.from_env(
        {"TUOTEMPO_DATABASE_URL": f"sqlite:///{directory}/db", "TUOTEMPO_DATA_DIR": str(directory)}
    )
    runtime = Runtime(settings, open_store(settings, migrate=True))
    return FastSoap(runtime, build_spyne_app(runtime))


def _text(rng: random.Random, refused: bool) -> str:
    chars = [rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 12))]
    if refused:
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(_REFUSED))
    return "".join(chars)


def _row(rng: random.Random, refused: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"RESERVATION_ID": rng.randrange(1, 10**12)}
    for name in ("APP_LID", "APP_DATE", "NOTES", "USER_FIRST_NAME", "STATUS", "LAST_UPDATE"):
        if rng.random() < 0.8:
            row[name] = _text(rng, refused and name == "NOTES")
    return row


@pytest.mark.parametrize("seed", range(40))
def test_text_writer_writes_what_lxml_writes(fast: FastSoap, seed: int) -> None:
    rng = random.Random(seed)
    refused = seed % 4 == 3
    page = {
        "RESULT": "OK",
        "COUNT": 3,
        "MORE_RESULTS": rng.random() < 0.5,
        "NEXT_REQUEST_TIMESTAMP": None if seed % 10 == 5 else _text(rng, False),
        "RESERVATIONS": [_row(rng, refused) for _ in range(rng.randrange(0, 4))],
    }
    batch = {
        "RESULT": "PARTIAL",
        "CREATED": 1,
        "UPDATED": 0,
        "UNCHANGED": 0,
        "FAILED": 1,
        "ITEMS": [
            {
                "APP_LID": _text(rng, False),
                "RESULT": "OK",
                "WARNINGS": [_text(rng, refused) for _ in range(rng.randrange(0, 3))] or None,
            }
            for _ in range(rng.randrange(0, 4))
        ],
    }
    for operation, result in (("getReservations", page), ("updateReservations", batch)):
        spec = fast.operations[f"{{http://tuotempo-soap.org/v1}}{operation}"]
        try:
            expected: bytes | str = fast.write_tree(spec, result)
        except ValueError:
            expected = "refused"
        try:
            written: bytes | str = fast.write(spec, result)
        except ValueError:
            written = "refused"
        assert written == expected, (operation, result)
