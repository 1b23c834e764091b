"""The back office's catalogue: every language has every text, with the same
placeholders, and every text a template or page asks for exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

from tuotempo_soap.web.admin import routing
from tuotempo_soap.web.admin.texts import EN, LANGUAGES, TEXTS, texts_for

ADMIN = Path(__file__).resolve().parents[3] / "tuotempo_soap" / "web" / "admin"
# t("key"...) in templates and req.t("key"...) in pages; keys built at run time
# ("error." ~ code ...) are covered by the prefixes checked below.
_LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    assert set(TEXTS) == set(LANGUAGES)
    for language, words in TEXTS.items():
        assert set(words) == set(EN), (language, set(EN) ^ set(words))
        for key, text in words.items():
            assert text.strip(), (language, key)
            assert _placeholders(text) == _placeholders(EN[key]), (language, key)


def test_every_text_asked_for_exists() -> None:
    sources = [*ADMIN.glob("templates/*.html"), *ADMIN.glob("pages/*.py"), ADMIN / "app.py"]
    found = {key for path in sources for key in _LITERAL_KEY.findall(path.read_text())}
    asked = {key for key in found if not key.endswith(".")}  # "by." ~ who: built
    assert asked, "no text found: the pattern is stale"
    assert asked <= set(EN), sorted(asked - set(EN))
    for item in routing.NAV:
        assert item.label in EN
    for code in (400, 403, 404, 405, 500, 503):
        assert f"error.{code}.title" in EN and f"error.{code}.text" in EN
    for notice in ("signed_out", "expired", "signin_needed"):
        assert f"notice.{notice}" in EN


def test_languages_fall_back_to_english() -> None:
    assert texts_for("it-IT")("nav.messages") == "Messaggi"
    assert texts_for("es")("nav.messages") == "Mensajes"
    assert texts_for("de")("nav.messages") == "Messages"
    assert texts_for("en")("no.such.key") == "no.such.key"
    assert texts_for("en")("signin.throttled", seconds=3) == (
        "Too many failed sign-ins; try again in 3 s."
    )
