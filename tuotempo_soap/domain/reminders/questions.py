"""Asking a patient which appointment a reply is about, and reading the answer.

When one phone number has open reminders from several clinics (instances) sent
through the same provider, and the provider does not say which conversation a
reply belongs to, the reply is not guessed at: the patient gets a short
numbered list and is asked to answer with the number and the answer
("1 NO", "2 SI"). ``read_choice`` reads such a reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time

from .templates import sms_safe

# Per language: the question, then one line per appointment.
_QUESTION = {
    "es": "Tiene varias citas. Responda con el numero y su respuesta, p. ej. 1 SI o 2 NO:",
    "it": "Ha piu appuntamenti. Risponda con il numero e la sua risposta, es. 1 SI o 2 NO:",
    "en": "You have several appointments. Reply with the number and your answer, "
    "e.g. 1 YES or 2 NO:",
    "ca": "Te diverses cites. Respongui amb el numero i la seva resposta, p. ex. 1 SI o 2 NO:",
    "pt": "Tem varias consultas. Responda com o numero e a sua resposta, p. ex. 1 SIM ou 2 NAO:",
    "fr": "Vous avez plusieurs rendez-vous. Repondez avec le numero et votre reponse, "
    "p. ex. 1 OUI ou 2 NON :",
}

# "1 NO", "2: si", "1) yes", "1.confirmo", "2-no": a number of the list, then the answer.
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*(?:[.):,;-]\s*|\s+)(\S.*)$", re.DOTALL)


@dataclass(frozen=True)
class Choice:
    """One line of the list: what the patient needs to tell appointments apart."""

    day: date
    start: time | None
    clinic: str | None = None


def which_appointment(language: str | None, choices: Sequence[Choice]) -> str:
    """The SMS text: the question and a numbered line per appointment."""
    primary = (language or "").strip().replace("_", "-").split("-")[0].lower()
    lines = [_QUESTION.get(primary, _QUESTION["en"])]
    for number, choice in enumerate(choices, start=1):
        when = f"{choice.day:%d/%m/%Y}" + (f" {choice.start:%H:%M}" if choice.start else "")
        lines.append(f"{number}: {when}" + (f" {choice.clinic}" if choice.clinic else ""))
    return sms_safe("\n".join(lines))


def read_choice(text: str, count: int) -> tuple[int, str] | None:
    """``(index, answer)`` for "1 NO" when 1..count is on the list (index from 0)."""
    match = _CHOICE.match(text)
    if match is None:
        return None
    number = int(match.group(1))
    if not 1 <= number <= count:
        return None
    return number - 1, match.group(2).strip()
