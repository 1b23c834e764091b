"""Built-in message texts, the placeholders they may use, and their safe renderer.

Texts are ``{placeholder}`` templates per kind and language. The renderer reads
plain names only: an instance's operator writes these texts, and
``str.format`` would let ``{date.__class__}`` or ``{x[0]}`` reach into objects.
Reminder texts are kept to GSM-7 characters and one SMS (160) in es/it/en with
typical values; :func:`sms_safe` transliterates the rest before an SMS goes out.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from typing import TypeAlias
from unicodedata import category, normalize

from ..formats import format_date, format_time
from ..message import Channel, sms_size

Template: TypeAlias = str

LANGUAGES: tuple[str, ...] = ("es", "it", "en", "ca", "pt", "fr")

MESSAGE_KINDS: tuple[str, ...] = (
    "reminder",
    "change",
    "cancellation",
    "post_visit",
    "ack_confirm",
    "ack_cancel",
    "ack_already_cancelled",
    "ack_too_late",
    "help",
)
SUBJECT_PREFIX = "email_subject_"
KINDS: tuple[str, ...] = MESSAGE_KINDS + tuple(SUBJECT_PREFIX + k for k in MESSAGE_KINDS)

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "date",
        "time",
        "weekday",
        "resource",
        "location",
        "activity",
        "clinic",
        "clinic_phone",
        "appointments",
        "confirm_hint",
        "cancel_hint",
        "confirm_url",
        "cancel_url",
        "old_date",
        "old_time",
    }
)


class TemplateError(ValueError):
    """A template that is malformed or uses something other than a known plain name."""


_FORMATTER = string.Formatter()


def _fields(template: str) -> list[tuple[str, str | None]]:
    """(literal, placeholder) pairs; refuses anything but ``{name}`` and ``{{``/``}}``."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:  # a lone "{" or "}"
        raise TemplateError(f"malformed template: {exc}") from None
    pairs: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pairs.append((literal, None))
            continue
        if not name.isidentifier() or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise TemplateError(f"{{{shown}}} is not allowed; use a plain {{name}}")
        pairs.append((literal, name))
    return pairs


def check_template(template: str) -> None:
    """Raise ``TemplateError`` unless every placeholder is a known plain name."""
    for _, name in _fields(template):
        if name is not None and name not in PLACEHOLDERS:
            known = ", ".join(sorted(PLACEHOLDERS))
            raise TemplateError(f"unknown placeholder {{{name}}}; known: {known}")


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from ``values``; a missing value renders empty.

    Never evaluates attributes, indexing, conversions or format specs: those are
    a ``TemplateError`` here, whatever ``values`` holds.
    """
    parts: list[str] = []
    for literal, name in _fields(template):
        parts.append(literal)
        if name is not None:
            parts.append(str(values.get(name, "")))
    return "".join(parts)


def tidy(text: str) -> str:
    """Collapse the blanks an empty placeholder leaves behind, line by line."""
    lines = (" ".join(line.split()) for line in text.strip().splitlines())
    return "\n".join(lines)


# Characters outside GSM-7 that have an accepted stand-in; the rest lose their accent.
_SMS_STAND_INS = {
    "\u00b7": ".",  # middle dot: Catalan l·l is written l.l where it is missing
    "\u2019": "'",  # typographic apostrophe, as phones type it
    "\u2018": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00e7": "c",  # GSM-7 has only the capital
    "\u00a0": " ",
}


@lru_cache(maxsize=512)
def _is_gsm7(char: str) -> bool:
    return sms_size(char).encoding == "GSM-7"


def sms_safe(text: str) -> str:
    """The text in GSM-7 when accents are all that stand in the way.

    One character outside GSM-7 turns the whole SMS into UCS-2, where a segment
    holds 70 characters instead of 160: ``sábado`` would triple the cost. Text
    that still needs UCS-2 after that (another script, emoji) is returned as it
    was: a question mark in a name is worse than a longer message.
    """
    out: list[str] = []
    for char in text:
        if _is_gsm7(char):
            out.append(char)
            continue
        stand_in = _SMS_STAND_INS.get(char)
        if stand_in is None:
            stand_in = "".join(c for c in normalize("NFKD", char) if category(c) != "Mn")
        if not stand_in or not all(_is_gsm7(c) for c in stand_in):
            return text
        out.append(stand_in)
    return "".join(out)


WEEKDAYS: dict[str, tuple[str, ...]] = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ca": ("dilluns", "dimarts", "dimecres", "dijous", "divendres", "dissabte", "diumenge"),
    "pt": (
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}


def weekday_name(day: date, language: str) -> str:
    names = WEEKDAYS.get(language.split("-")[0], WEEKDAYS["en"])
    return names[day.weekday()]


# How to answer, per channel: (confirm or cancel, cancel only). The SMS words are
# ones replies.parse_reply understands in that language.
_REPLY_HINTS: dict[str, dict[str, tuple[str, str]]] = {
    "SMS": {
        "es": ("Responda SI para confirmar o NO para anular.", "Para anular responda NO."),
        "it": ("Risponda SI per confermare o NO per disdire.", "Per disdire risponda NO."),
        "en": ("Reply YES to confirm or NO to cancel.", "To cancel reply NO."),
        "ca": ("Respongui SI per confirmar o NO per anul·lar.", "Per anul·lar respongui NO."),
        "pt": ("Responda SIM para confirmar ou NÃO para cancelar.", "Para cancelar responda NÃO."),
        "fr": ("Répondez OUI pour confirmer ou NON pour annuler.", "Pour annuler répondez NON."),
    },
    "VOICE": {
        "es": ("Pulse 1 para confirmar o 2 para anular.", "Pulse 2 para anular."),
        "it": ("Prema 1 per confermare o 2 per disdire.", "Prema 2 per disdire."),
        "en": ("Press 1 to confirm or 2 to cancel.", "Press 2 to cancel."),
        "ca": ("Premi 1 per confirmar o 2 per anul·lar.", "Premi 2 per anul·lar."),
        "pt": ("Prima 1 para confirmar ou 2 para cancelar.", "Prima 2 para cancelar."),
        "fr": ("Tapez 1 pour confirmer ou 2 pour annuler.", "Tapez 2 pour annuler."),
    },
}
# E-mail labels in front of the confirm and cancel links.
_LINK_LABELS: dict[str, tuple[str, str]] = {
    "es": ("Confirmar", "Anular"),
    "it": ("Confermare", "Disdire"),
    "en": ("Confirm", "Cancel"),
    "ca": ("Confirmar", "Anul·lar"),
    "pt": ("Confirmar", "Cancelar"),
    "fr": ("Confirmer", "Annuler"),
}


def reply_hints(
    channel: Channel | str,
    language: str,
    *,
    confirm_url: str | None = None,
    cancel_url: str | None = None,
) -> tuple[str, str]:
    """(``confirm_hint``, ``cancel_hint``) for a channel: words to text back (SMS and
    WhatsApp), keys to press (voice), or the links (e-mail; empty without links)."""
    lang = language.split("-")[0]
    channel = Channel(channel)
    if channel is Channel.EMAIL:
        # Each link on a line of its own, so nothing that follows sticks to the URL.
        confirm_label, cancel_label = _LINK_LABELS.get(lang, _LINK_LABELS["en"])
        cancel_line = f"{cancel_label}: {cancel_url}" if cancel_url else ""
        confirm_line = f"{confirm_label}: {confirm_url}" if confirm_url else ""
        both = "\n".join(line for line in (confirm_line, cancel_line) if line)
        return (f"\n{both}\n" if both else ""), (f"\n{cancel_line}\n" if cancel_line else "")
    table = _REPLY_HINTS["VOICE" if channel is Channel.VOICE else "SMS"]
    return table.get(lang, table["en"])


@dataclass(frozen=True)
class Slot:
    """One appointment as a message shows it."""

    day: date
    start: time | None = None
    resource: str | None = None
    location: str | None = None
    activity: str | None = None


def appointments_line(slots: Sequence[Slot]) -> str:
    """``09:30 Dr Rossi (Centro Norte); 11:00 Lab``: one item per appointment, in order."""
    items = []
    for slot in slots:
        words = [format_time(slot.start) if slot.start else "", slot.resource or ""]
        item = " ".join(w for w in words if w)
        if slot.location:
            item = f"{item} ({slot.location})" if item else slot.location
        if item:
            items.append(item)
    return "; ".join(items)


def placeholder_values(
    slots: Sequence[Slot],
    *,
    language: str,
    channel: Channel | str,
    clinic: str | None = None,
    clinic_phone: str | None = None,
    confirm_url: str | None = None,
    cancel_url: str | None = None,
    ask_confirmation: bool = True,
    old_day: date | None = None,
    old_start: time | None = None,
) -> dict[str, str]:
    """Every placeholder's value for one patient-day; single values are the first slot's.

    ``confirm_hint`` is empty when the instance does not ask for confirmation.
    """
    first = slots[0] if slots else None
    confirm_hint, cancel_hint = reply_hints(
        channel, language, confirm_url=confirm_url, cancel_url=cancel_url
    )
    return {
        "date": format_date(first.day) if first else "",
        "time": format_time(first.start) if first and first.start else "",
        "weekday": weekday_name(first.day, language) if first else "",
        "resource": (first.resource or "") if first else "",
        "location": (first.location or "") if first else "",
        "activity": (first.activity or "") if first else "",
        "clinic": clinic or "",
        "clinic_phone": clinic_phone or "",
        "appointments": appointments_line(slots),
        "confirm_hint": confirm_hint if ask_confirmation else "",
        "cancel_hint": cancel_hint,
        "confirm_url": confirm_url or "",
        "cancel_url": cancel_url or "",
        "old_date": format_date(old_day) if old_day else "",
        "old_time": format_time(old_start) if old_start else "",
    }


# Texts end with "{clinic}" (and the phone where a call may follow) as a signature,
# so that an instance without a clinic name set leaves no dangling words.
DEFAULT_TEMPLATES: dict[str, dict[str, Template]] = {
    "reminder": {
        "es": "Recordatorio de su cita: {weekday} {date}, {appointments}. {confirm_hint} {clinic}",
        "it": "Promemoria appuntamento: {weekday} {date}, {appointments}. {confirm_hint} {clinic}",
        "en": "Appointment reminder: {weekday} {date}, {appointments}. {confirm_hint} {clinic}",
        "ca": "Recordatori de la seva cita: {weekday} {date}, {appointments}. {confirm_hint} "
        "{clinic}",
        "pt": "Lembrete da sua consulta: {weekday} {date}, {appointments}. {confirm_hint} {clinic}",
        "fr": "Rappel de votre rendez-vous : {weekday} {date}, {appointments}. {confirm_hint} "
        "{clinic}",
    },
    "change": {
        "es": "Su cita del {old_date} {old_time} ha cambiado. Nueva cita: {weekday} {date}, "
        "{appointments}. {confirm_hint} {clinic}",
        "it": "Il suo appuntamento del {old_date} {old_time} è cambiato. Nuovo appuntamento: "
        "{weekday} {date}, {appointments}. {confirm_hint} {clinic}",
        "en": "Your appointment of {old_date} {old_time} has changed. New appointment: "
        "{weekday} {date}, {appointments}. {confirm_hint} {clinic}",
        "ca": "La seva cita del {old_date} {old_time} ha canviat. Nova cita: {weekday} {date}, "
        "{appointments}. {confirm_hint} {clinic}",
        "pt": "A sua consulta de {old_date} {old_time} foi alterada. Nova consulta: {weekday} "
        "{date}, {appointments}. {confirm_hint} {clinic}",
        "fr": "Votre rendez-vous du {old_date} {old_time} a changé. Nouveau rendez-vous : "
        "{weekday} {date}, {appointments}. {confirm_hint} {clinic}",
    },
    "cancellation": {
        "es": "Su cita del {weekday} {date}, {appointments}, ha sido anulada. Para pedir otra, "
        "contacte con nosotros. {clinic} {clinic_phone}",
        "it": "Il suo appuntamento di {weekday} {date}, {appointments}, è stato annullato. Per "
        "prenotarne un altro ci contatti. {clinic} {clinic_phone}",
        "en": "Your appointment on {weekday} {date}, {appointments}, has been cancelled. To book "
        "another, please contact us. {clinic} {clinic_phone}",
        "ca": "La seva cita del {weekday} {date}, {appointments}, ha estat anul·lada. Per "
        "demanar-ne una altra, contacti'ns. {clinic} {clinic_phone}",
        "pt": "A sua consulta de {weekday} {date}, {appointments}, foi cancelada. Para marcar "
        "outra, contacte-nos. {clinic} {clinic_phone}",
        "fr": "Votre rendez-vous du {weekday} {date}, {appointments}, a été annulé. Pour en "
        "prendre un autre, contactez-nous. {clinic} {clinic_phone}",
    },
    "post_visit": {
        "es": "Gracias por su visita del {date}. Si tiene cualquier duda, contacte con nosotros. "
        "{clinic} {clinic_phone}",
        "it": "Grazie per la visita del {date}. Per qualsiasi dubbio ci contatti. "
        "{clinic} {clinic_phone}",
        "en": "Thank you for your visit on {date}. If you have any questions, please contact "
        "us. {clinic} {clinic_phone}",
        "ca": "Gràcies per la seva visita del {date}. Per a qualsevol dubte, contacti'ns. "
        "{clinic} {clinic_phone}",
        "pt": "Obrigado pela sua visita de {date}. Para qualquer dúvida, contacte-nos. "
        "{clinic} {clinic_phone}",
        "fr": "Merci pour votre visite du {date}. Pour toute question, contactez-nous. "
        "{clinic} {clinic_phone}",
    },
    "ack_confirm": {
        "es": "Gracias, su cita del {date} {time} queda confirmada. {clinic}",
        "it": "Grazie, il suo appuntamento del {date} {time} è confermato. {clinic}",
        "en": "Thank you, your appointment on {date} {time} is confirmed. {clinic}",
        "ca": "Gràcies, la seva cita del {date} {time} queda confirmada. {clinic}",
        "pt": "Obrigado, a sua consulta de {date} {time} está confirmada. {clinic}",
        "fr": "Merci, votre rendez-vous du {date} {time} est confirmé. {clinic}",
    },
    "ack_cancel": {
        "es": "Su cita del {date} {time} ha sido anulada. Gracias por avisarnos. "
        "{clinic} {clinic_phone}",
        "it": "Il suo appuntamento del {date} {time} è stato disdetto. Grazie per averci "
        "avvisato. {clinic} {clinic_phone}",
        "en": "Your appointment on {date} {time} has been cancelled. Thank you for letting us "
        "know. {clinic} {clinic_phone}",
        "ca": "La seva cita del {date} {time} ha estat anul·lada. Gràcies per avisar-nos. "
        "{clinic} {clinic_phone}",
        "pt": "A sua consulta de {date} {time} foi cancelada. Obrigado por nos avisar. "
        "{clinic} {clinic_phone}",
        "fr": "Votre rendez-vous du {date} {time} a été annulé. Merci de nous avoir prévenus. "
        "{clinic} {clinic_phone}",
    },
    "ack_already_cancelled": {
        "es": "Su cita del {date} {time} ya estaba anulada. Para pedir una nueva, llame a la "
        "clínica. {clinic} {clinic_phone}",
        "it": "Il suo appuntamento del {date} {time} era già stato annullato. Per prenotarne "
        "uno nuovo chiami la clinica. {clinic} {clinic_phone}",
        "en": "Your appointment on {date} {time} was already cancelled. To book a new one, "
        "please call the clinic. {clinic} {clinic_phone}",
        "ca": "La seva cita del {date} {time} ja estava anul·lada. Per demanar-ne una de nova, "
        "truqui a la clínica. {clinic} {clinic_phone}",
        "pt": "A sua consulta de {date} {time} já estava cancelada. Para marcar uma nova, "
        "ligue para a clínica. {clinic} {clinic_phone}",
        "fr": "Votre rendez-vous du {date} {time} était déjà annulé. Pour en prendre un "
        "nouveau, appelez la clinique. {clinic} {clinic_phone}",
    },
    "ack_too_late": {
        "es": "Su cita del {date} {time} ya ha pasado y no podemos registrar su respuesta. "
        "Si lo necesita, llame a la clínica. {clinic} {clinic_phone}",
        "it": "Il suo appuntamento del {date} {time} è già passato e non possiamo registrare "
        "la risposta. Se serve, chiami la clinica. {clinic} {clinic_phone}",
        "en": "Your appointment on {date} {time} has already passed, so we cannot record your "
        "answer. If needed, please call the clinic. {clinic} {clinic_phone}",
        "ca": "La seva cita del {date} {time} ja ha passat i no podem registrar la resposta. "
        "Si cal, truqui a la clínica. {clinic} {clinic_phone}",
        "pt": "A sua consulta de {date} {time} já passou e não podemos registar a resposta. "
        "Se precisar, ligue para a clínica. {clinic} {clinic_phone}",
        "fr": "Votre rendez-vous du {date} {time} est déjà passé, nous ne pouvons pas "
        "enregistrer votre réponse. Au besoin, appelez la clinique. {clinic} {clinic_phone}",
    },
    "help": {
        "es": "No hemos entendido su respuesta. {confirm_hint} Para otros cambios, llame a la "
        "clínica. {clinic} {clinic_phone}",
        "it": "Non abbiamo capito la risposta. {confirm_hint} Per altre modifiche chiami la "
        "clinica. {clinic} {clinic_phone}",
        "en": "Sorry, we did not understand your answer. {confirm_hint} For other changes, "
        "please call the clinic. {clinic} {clinic_phone}",
        "ca": "No hem entès la seva resposta. {confirm_hint} Per a altres canvis, truqui a la "
        "clínica. {clinic} {clinic_phone}",
        "pt": "Não percebemos a sua resposta. {confirm_hint} Para outras alterações, ligue "
        "para a clínica. {clinic} {clinic_phone}",
        "fr": "Nous n'avons pas compris votre réponse. {confirm_hint} Pour tout autre "
        "changement, appelez la clinique. {clinic} {clinic_phone}",
    },
    "email_subject_reminder": {
        "es": "Recordatorio de su cita del {date}",
        "it": "Promemoria del suo appuntamento del {date}",
        "en": "Reminder of your appointment on {date}",
        "ca": "Recordatori de la seva cita del {date}",
        "pt": "Lembrete da sua consulta de {date}",
        "fr": "Rappel de votre rendez-vous du {date}",
    },
    "email_subject_change": {
        "es": "Su cita ha cambiado: {date} {time}",
        "it": "Il suo appuntamento è cambiato: {date} {time}",
        "en": "Your appointment has changed: {date} {time}",
        "ca": "La seva cita ha canviat: {date} {time}",
        "pt": "A sua consulta foi alterada: {date} {time}",
        "fr": "Votre rendez-vous a changé : {date} {time}",
    },
    "email_subject_cancellation": {
        "es": "Cita anulada: {date}",
        "it": "Appuntamento annullato: {date}",
        "en": "Appointment cancelled: {date}",
        "ca": "Cita anul·lada: {date}",
        "pt": "Consulta cancelada: {date}",
        "fr": "Rendez-vous annulé : {date}",
    },
    "email_subject_post_visit": {
        "es": "Gracias por su visita",
        "it": "Grazie per la sua visita",
        "en": "Thank you for your visit",
        "ca": "Gràcies per la seva visita",
        "pt": "Obrigado pela sua visita",
        "fr": "Merci pour votre visite",
    },
    "email_subject_ack_confirm": {
        "es": "Cita confirmada: {date}",
        "it": "Appuntamento confermato: {date}",
        "en": "Appointment confirmed: {date}",
        "ca": "Cita confirmada: {date}",
        "pt": "Consulta confirmada: {date}",
        "fr": "Rendez-vous confirmé : {date}",
    },
    "email_subject_ack_cancel": {
        "es": "Cita anulada: {date}",
        "it": "Appuntamento disdetto: {date}",
        "en": "Appointment cancelled: {date}",
        "ca": "Cita anul·lada: {date}",
        "pt": "Consulta cancelada: {date}",
        "fr": "Rendez-vous annulé : {date}",
    },
    "email_subject_ack_already_cancelled": {
        "es": "Su cita ya estaba anulada",
        "it": "Il suo appuntamento era già annullato",
        "en": "Your appointment was already cancelled",
        "ca": "La seva cita ja estava anul·lada",
        "pt": "A sua consulta já estava cancelada",
        "fr": "Votre rendez-vous était déjà annulé",
    },
    "email_subject_ack_too_late": {
        "es": "Su cita ya ha pasado",
        "it": "Il suo appuntamento è già passato",
        "en": "Your appointment has already passed",
        "ca": "La seva cita ja ha passat",
        "pt": "A sua consulta já passou",
        "fr": "Votre rendez-vous est déjà passé",
    },
    "email_subject_help": {
        "es": "No hemos entendido su respuesta",
        "it": "Non abbiamo capito la sua risposta",
        "en": "We did not understand your answer",
        "ca": "No hem entès la seva resposta",
        "pt": "Não percebemos a sua resposta",
        "fr": "Nous n'avons pas compris votre réponse",
    },
}
