"""Patients' answers to a reminder: what a reply means, and what it changes.

Reading a reply (``parse_reply``):

- Case, accents and punctuation do not matter ("Sì!!", "NÃO", "d'accord").
- A question ("?" or "¿") is not an answer: UNCLEAR, and the help text says how to answer.
- A lone digit or letter counts only as the whole reply: ``1``/``y``/``s`` confirm,
  ``2``/``n`` cancel; "la cita del 2" is not a cancellation.
- Phrases are read first and as a whole, so negations are understood where we
  know them: "no puedo ir", "non vengo", "no gracias" cancel; "no problem" and
  "no quiero anular" confirm.
- Clear words ("confirmo", "anular", "disdico", "cancel") count anywhere; short
  ones ("sí", "no", "ok", "yes", "oui", "non") only among the first two words
  (greetings and thanks skipped) or in a reply of at most three words, so that
  the "si" of "quería saber si puedo cambiar" is not a yes.
- The patient's language is read first; only when it finds nothing are all
  languages read (Portuguese "no" means "in the", not a refusal).
- A reply with both a confirming and a cancelling word is UNCLEAR: "no, confirmo"
  and "sí, anulo" are not guessed at.

What a reply changes (``decide``), in this order:

1. After the appointment start, nothing: ``TOO_LATE``.
2. On an appointment already cancelled (by the clinic, or by the patient even
   if the HIS has not applied it yet), nothing: ``ALREADY_CANCELLED``. A CONFIRM
   does not re-instate it: the slot may be given away; the patient is told to
   call. (A HIS re-instating an appointment should clear the patient's answer.)
3. UNCLEAR: nothing, and the patient gets the help text: ``HELP``.
4. CONFIRM after a CONFIRM: nothing new, acknowledged again: ``ALREADY_CONFIRMED``.
   Otherwise CONFIRM: ``CONFIRMED``.
5. CANCEL, even after a CONFIRM (a patient may change their mind): ``CANCELLED``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from unicodedata import combining, normalize

from ..reservation import PatientAnswer, Status


class ReplyIntent(StrEnum):
    CONFIRM = "CONFIRM"
    CANCEL = "CANCEL"
    UNCLEAR = "UNCLEAR"


_CONFIRM, _CANCEL = ReplyIntent.CONFIRM, ReplyIntent.CANCEL

# Per language, comma-separated: clear words and phrases (count anywhere) and short
# words (count near the start). Accents are stripped on reading, so none are written.
_LANGUAGES: dict[str, dict[str, str]] = {
    "es": {
        "confirm": (
            "confirmo, confirmar, confirmado, confirmada, confirmamos, asistire, acudire, "
            "alli estare, ahi estare, de acuerdo, sin problema, no hay problema, "
            "no quiero anular, no quiero cancelar"
        ),
        "confirm_short": "si, vale, ok, okey, claro, perfecto, bien",
        "cancel": (
            "anulo, anular, anulada, anulado, anulen, anule, cancelo, cancelar, cancelada, "
            "cancelado, cancelen, cancele, no puedo, no podre, no podemos, no voy, no ire, "
            "no asistire, no acudire, no vendre, no gracias"
        ),
        "cancel_short": "no",
    },
    "it": {
        "confirm": (
            "confermo, confermare, confermato, confermata, confermiamo, ci saro, ci saremo, "
            "va bene, nessun problema, non voglio disdire, non voglio annullare"
        ),
        "confirm_short": "si, ok, okay, certo, perfetto, bene",
        "cancel": (
            "annullo, annullare, annulla, annullato, annullata, disdico, disdire, disdetta, "
            "disdetto, cancello, cancellare, cancella, rinuncio, non vengo, non posso, "
            "non potro, non ci saro, non riesco, non verro, no grazie"
        ),
        "cancel_short": "no",
    },
    "en": {
        "confirm": (
            "confirm, confirmed, confirming, i ll be there, will be there, see you, "
            "no problem, don t want to cancel, do not want to cancel"
        ),
        "confirm_short": "yes, yeah, yep, yup, ok, okay, sure, fine",
        "cancel": (
            "cancel, cancelled, canceled, cancelling, can t come, cant come, cannot come, "
            "can not come, can t make it, cannot make it, not coming, won t come, wont come, "
            "unable to come, no thanks, no thank you"
        ),
        "cancel_short": "no, nope, nah",
    },
    "ca": {
        "confirm": (
            "confirmo, confirmar, confirmada, confirmat, d acord, hi sere, cap problema, "
            "no vull anul lar"
        ),
        "confirm_short": "si, ok, vale, perfecte, be",
        "cancel": (
            "anul lo, anul la, anul lar, anullo, anullar, anulo, anular, cancel lo, "
            "cancel lar, cancelo, cancelar, no puc, no podre, no vindre, no hi sere, "
            "no hi anire, no gracies"
        ),
        "cancel_short": "no",
    },
    "pt": {
        "confirm": (
            "confirmo, confirmar, confirmado, confirmada, estarei presente, la estarei, "
            "sem problema, de acordo, nao quero cancelar"
        ),
        "confirm_short": "sim, ok, claro, certo",
        "cancel": (
            "cancelo, cancelar, cancelada, cancelado, desmarco, desmarcar, anulo, anular, "
            "nao posso, nao vou, nao consigo, nao poderei, nao irei, nao obrigado, "
            "nao obrigada"
        ),
        "cancel_short": "nao",
    },
    "fr": {
        "confirm": (
            "confirme, confirmer, confirmee, confirmons, d accord, je serai la, "
            "pas de probleme, sans probleme, ne veux pas annuler"
        ),
        "confirm_short": "oui, ok, parfait",
        "cancel": (
            "annule, annuler, annulee, annulez, ne viendrai pas, ne viens pas, ne pourrai pas, "
            "ne peux pas, pas venir, serai pas, non merci"
        ),
        "cancel_short": "non",
    },
}


def _entries(text: str) -> list[str]:
    return [entry.strip() for entry in text.split(",") if entry.strip()]


# Whole-reply tokens, whatever the language.
_SINGLE = {"1": _CONFIRM, "2": _CANCEL, "y": _CONFIRM, "s": _CONFIRM, "n": _CANCEL}
# Skipped when judging where a short word stands: "Hola, buenos días, sí" is a yes.
_FILLERS = frozenset(
    _entries(
        "hola, buenas, buenos, dias, tardes, noches, gracias, ciao, buongiorno, buonasera, "
        "salve, grazie, hi, hello, hey, dear, good, morning, afternoon, evening, thanks, "
        "thank, you, bon, dia, bona, tarda, bondia, gracies, ola, bom, boa, obrigado, "
        "obrigada, bonjour, bonsoir, salut, merci"
    )
)
SHORT_WORD_POSITIONS = 2  # a short word counts among the first two words ...
SHORT_REPLY_WORDS = 3  # ... or anywhere in a reply this short


@dataclass(frozen=True)
class _Words:
    phrases: tuple[tuple[tuple[str, ...], ReplyIntent], ...]  # longest first
    clear: dict[str, ReplyIntent]
    short: dict[str, ReplyIntent]


def _words(tables: Iterable[dict[str, str]]) -> _Words:
    phrases: dict[tuple[str, ...], ReplyIntent] = {}
    clear: dict[str, ReplyIntent] = {}
    short: dict[str, ReplyIntent] = {}
    for table in tables:
        for group, intent in (("confirm", _CONFIRM), ("cancel", _CANCEL)):
            for entry in _entries(table[group]):
                tokens = tuple(entry.split())
                if len(tokens) > 1:
                    phrases[tokens] = intent
                else:
                    clear[entry] = intent
            for entry in _entries(table[f"{group}_short"]):
                short[entry] = intent
    ordered = tuple(sorted(phrases.items(), key=lambda item: -len(item[0])))
    return _Words(ordered, clear, short)


_BY_LANGUAGE = {language: _words([table]) for language, table in _LANGUAGES.items()}
_ALL = _words(_LANGUAGES.values())


def _tokens(text: str) -> list[str]:
    plain = "".join(c for c in normalize("NFKD", text) if not combining(c))
    return re.findall(r"[a-z0-9]+", plain.casefold())


def _intents(tokens: list[str], words: _Words) -> set[ReplyIntent]:
    found: set[ReplyIntent] = set()
    remaining: list[str | None] = list(tokens)
    for phrase, intent in words.phrases:
        size = len(phrase)
        index = 0
        while index + size <= len(remaining):
            if tuple(remaining[index : index + size]) == phrase:
                found.add(intent)
                remaining[index : index + size] = [None] * size  # read once, as a whole
                index += size
            else:
                index += 1
    content = [t for t in remaining if t not in _FILLERS]
    for position, token in enumerate(content):
        if token is None:
            continue
        if token in words.clear:
            found.add(words.clear[token])
        elif token in words.short and (
            position < SHORT_WORD_POSITIONS or len(content) <= SHORT_REPLY_WORDS
        ):
            found.add(words.short[token])
    return found


def _verdict(found: set[ReplyIntent]) -> ReplyIntent:
    return next(iter(found)) if len(found) == 1 else ReplyIntent.UNCLEAR


def parse_reply(text: str, language: str | None) -> ReplyIntent:
    """What a patient's text reply means; see the module's rules."""
    if "?" in text or "¿" in text:
        return ReplyIntent.UNCLEAR
    tokens = _tokens(text)
    if not tokens:
        return ReplyIntent.UNCLEAR
    if len(tokens) == 1 and tokens[0] in _SINGLE:
        return _SINGLE[tokens[0]]
    primary = (language or "").strip().replace("_", "-").split("-")[0].lower()
    own = _BY_LANGUAGE.get(primary)
    if own is not None:
        found = _intents(tokens, own)
        if found:
            return _verdict(found)
    return _verdict(_intents(tokens, _ALL))


def parse_keypad(digit: str) -> ReplyIntent:
    """A voice call's key press: 1 confirms, 2 cancels, anything else is unclear."""
    return {"1": _CONFIRM, "2": _CANCEL}.get(digit.strip(), ReplyIntent.UNCLEAR)


class Outcome(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    ALREADY_CONFIRMED = "ALREADY_CONFIRMED"
    ALREADY_CANCELLED = "ALREADY_CANCELLED"
    TOO_LATE = "TOO_LATE"
    HELP = "HELP"


_CANCELLED = frozenset({Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value})
_ACKS = {
    Outcome.CONFIRMED: "ack_confirm",
    Outcome.ALREADY_CONFIRMED: "ack_confirm",
    Outcome.CANCELLED: "ack_cancel",
    Outcome.ALREADY_CANCELLED: "ack_already_cancelled",
    Outcome.TOO_LATE: "ack_too_late",
    Outcome.HELP: "help",
}


@dataclass(frozen=True)
class Decision:
    """What to do with a reply: the answer to record (``None``: change nothing) and
    the template kind of the acknowledgement to send back."""

    outcome: Outcome
    answer: PatientAnswer | None
    ack_kind: str

    @property
    def changes(self) -> bool:
        return self.answer is not None

    @property
    def cancels(self) -> bool:
        """True when the reservation becomes ``CANCELLED by USER`` and the clinic is told."""
        return self.answer is PatientAnswer.CANCELLED


def _decision(outcome: Outcome, answer: PatientAnswer | None = None) -> Decision:
    return Decision(outcome, answer, _ACKS[outcome])


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def decide(
    current_status: str | None,
    current_answer: str | None,
    intent: ReplyIntent,
    appointment_start: datetime,
    now: datetime,
) -> Decision:
    """Apply the rule for (possibly contradicting) replies; see the module's rules.

    Naive datetimes are read as UTC, as the store keeps them.
    """
    if _utc(now) >= _utc(appointment_start):
        return _decision(Outcome.TOO_LATE)
    cancelled = current_status in _CANCELLED or current_answer == PatientAnswer.CANCELLED.value
    if cancelled:
        return _decision(Outcome.ALREADY_CANCELLED)
    if intent is ReplyIntent.UNCLEAR:
        return _decision(Outcome.HELP)
    if intent is ReplyIntent.CONFIRM:
        if current_answer == PatientAnswer.CONFIRMED.value:
            return _decision(Outcome.ALREADY_CONFIRMED)
        return _decision(Outcome.CONFIRMED, PatientAnswer.CONFIRMED)
    return _decision(Outcome.CANCELLED, PatientAnswer.CANCELLED)
