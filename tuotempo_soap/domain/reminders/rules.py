"""An instance's reminder rules: what is sent, when, on which channel, with which texts.

``ReminderRules`` is validated when built (directly or from JSON), so a service
never meets an impossible rule at sending time. Its ``templates`` hold the
built-in texts with the instance's overrides on top; ``to_dict`` writes only the
overrides, so an instance keeps receiving improved built-in texts.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from typing import Any

from ..formats import FormatError, format_time, parse_time
from ..message import Channel
from .templates import (
    DEFAULT_TEMPLATES,
    KINDS,
    LANGUAGES,
    Template,
    TemplateError,
    check_template,
)

REMINDER_CHANNELS: tuple[Channel, ...] = (
    Channel.SMS,
    Channel.EMAIL,
    Channel.VOICE,
    Channel.WHATSAPP,
)
# E-mail waits in an inbox; a phone buzzes or rings.
QUIET_CHANNELS: frozenset[Channel] = frozenset({Channel.SMS, Channel.VOICE, Channel.WHATSAPP})
MAX_OFFSET_HOURS = 720  # 30 days
MAX_TEMPLATE_LENGTH = 10_000

_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Three-letter codes some HIS send (ISO 639-2, bibliographic and terminological).
_LANGUAGE_ALIASES = {
    "spa": "es",
    "esp": "es",
    "ita": "it",
    "eng": "en",
    "cat": "ca",
    "por": "pt",
    "fra": "fr",
    "fre": "fr",
}


class RulesError(ValueError):
    """A reminder rule that cannot be used; ``key`` names the setting at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _normalise_tag(language: str) -> str:
    tag = language.strip().replace("_", "-")
    primary, _, region = tag.partition("-")
    primary = _LANGUAGE_ALIASES.get(primary.lower(), primary.lower())
    return f"{primary}-{region.upper()}" if region else primary


def language_fallback(
    language: str | None, default: str, available: Collection[str] = LANGUAGES
) -> str:
    """The language to write in: the patient's tag (``pt-BR``), else its primary
    subtag (``pt``), else the instance default, else English.

    Accepts the spellings HIS use (``ES``, ``es_ES``, ``spa``).
    """
    candidates: list[str] = []
    for value in (language, default):
        if value and value.strip():
            tag = _normalise_tag(value)
            candidates += [tag, tag.split("-")[0]]
    candidates.append("en")
    for candidate in candidates:
        if candidate in available:
            return candidate
    return "en"


def _merged(overrides: Mapping[str, Mapping[str, Template]]) -> dict[str, dict[str, Template]]:
    merged = {kind: dict(texts) for kind, texts in DEFAULT_TEMPLATES.items()}
    for kind, texts in overrides.items():
        merged.setdefault(kind, {}).update(texts)
    return merged


@dataclass(frozen=True)
class ReminderRules:
    """Reminder settings of one instance. Times are wall-clock times in its zone.

    ``quiet_start == quiet_end`` means no quiet hours. An empty ``offsets_hours``
    sends no reminders but still allows notices and post-visit messages.
    """

    enabled: bool = True
    offsets_hours: tuple[int, ...] = (72, 24)
    channel_order: tuple[str, ...] = ("SMS", "EMAIL", "VOICE")
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    ask_confirmation: bool = True
    require_privacy: bool = False
    notify_changes: bool = True
    cancellation_notice: bool = False
    post_visit_hours: int | None = None
    clinic_phone: str | None = None
    clinic_name: str | None = None
    cancellation_email: str | None = None
    templates: dict[str, dict[str, Template]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "enabled",
            "ask_confirmation",
            "require_privacy",
            "notify_changes",
            "cancellation_notice",
        ):
            if not isinstance(getattr(self, name), bool):
                raise RulesError(name, "must be true or false")
        object.__setattr__(self, "offsets_hours", _offsets(self.offsets_hours))
        object.__setattr__(self, "channel_order", _channels(self.channel_order))
        for name in ("quiet_start", "quiet_end"):
            if not isinstance(getattr(self, name), time):
                raise RulesError(name, "must be a time of day (hh:mm)")
        if self.post_visit_hours is not None and not _is_hours(self.post_visit_hours):
            raise RulesError(
                "post_visit_hours", f"must be empty or 1..{MAX_OFFSET_HOURS} hours after"
            )
        for name in ("clinic_phone", "clinic_name", "cancellation_email"):
            object.__setattr__(self, name, _optional_text(name, getattr(self, name)))
        if self.cancellation_email is not None and not _EMAIL.match(self.cancellation_email):
            raise RulesError("cancellation_email", f"'{self.cancellation_email}' is not an e-mail")
        object.__setattr__(self, "templates", _merged(_templates(self.templates)))

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(Channel(name) for name in self.channel_order)

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_start != self.quiet_end

    @property
    def languages(self) -> frozenset[str]:
        """Languages with a reminder text (built-in or added by the instance)."""
        return frozenset(self.templates["reminder"])

    def template(self, kind: str, language: str) -> Template:
        """The text of ``kind`` in ``language``, else its primary subtag, else English."""
        if kind not in KINDS:
            raise RulesError("templates", f"unknown kind '{kind}'")
        texts = self.templates[kind]
        tag = _normalise_tag(language)
        for candidate in (tag, tag.split("-")[0], "en"):
            if candidate in texts:
                return texts[candidate]
        return DEFAULT_TEMPLATES[kind]["en"]

    def overrides(self) -> dict[str, dict[str, Template]]:
        """The texts that differ from the built-in ones."""
        result: dict[str, dict[str, Template]] = {}
        for kind, texts in self.templates.items():
            defaults = DEFAULT_TEMPLATES.get(kind, {})
            changed = {lang: text for lang, text in texts.items() if defaults.get(lang) != text}
            if changed:
                result[kind] = changed
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values; ``from_dict`` reads them back to an equal object."""
        return {
            "enabled": self.enabled,
            "offsets_hours": list(self.offsets_hours),
            "channel_order": list(self.channel_order),
            "quiet_start": format_time(self.quiet_start),
            "quiet_end": format_time(self.quiet_end),
            "ask_confirmation": self.ask_confirmation,
            "require_privacy": self.require_privacy,
            "notify_changes": self.notify_changes,
            "cancellation_notice": self.cancellation_notice,
            "post_visit_hours": self.post_visit_hours,
            "clinic_phone": self.clinic_phone,
            "clinic_name": self.clinic_name,
            "cancellation_email": self.cancellation_email,
            "templates": self.overrides(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReminderRules:
        """Read rules from JSON values; absent keys take their defaults.

        Unknown keys are errors: a misspelt ``quite_start`` must not be ignored.
        """
        if not isinstance(data, Mapping):
            raise RulesError("rules", "must be an object")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise RulesError(str(key), "is not a reminder setting")
        values: dict[str, Any] = dict(data)
        for name in ("offsets_hours", "channel_order"):
            if name in values:
                if not isinstance(values[name], list | tuple):
                    raise RulesError(name, "must be a list")
                values[name] = tuple(values[name])
        for name in ("quiet_start", "quiet_end"):
            if name in values:
                values[name] = _time(name, values[name])
        if "templates" in values and values["templates"] is None:
            values["templates"] = {}
        return cls(**values)


def _is_hours(value: object) -> bool:
    # bool is an int to Python; "true" hours is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_OFFSET_HOURS


def _offsets(value: object) -> tuple[int, ...]:
    if not isinstance(value, tuple | list):
        raise RulesError("offsets_hours", "must be a list of hours")
    for hours in value:
        if not _is_hours(hours):
            raise RulesError(
                "offsets_hours",
                f"{hours!r} is not a whole number of hours in 1..{MAX_OFFSET_HOURS}",
            )
    if len(set(value)) != len(value):
        raise RulesError("offsets_hours", "the same offset is given twice")
    return tuple(sorted(value, reverse=True))


def _channels(value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list) or not value:
        raise RulesError("channel_order", "must list at least one channel")
    allowed = ", ".join(c.value for c in REMINDER_CHANNELS)
    names: list[str] = []
    for item in value:
        name = item.strip().upper() if isinstance(item, str) else None
        if name not in {c.value for c in REMINDER_CHANNELS}:
            raise RulesError("channel_order", f"{item!r} is not a channel; expected {allowed}")
        if name in names:
            raise RulesError("channel_order", f"{name} is listed twice")
        names.append(name)
    return tuple(names)


def _time(name: str, value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise RulesError(name, "must be a time of day (hh:mm)")
    try:
        return parse_time(value)
    except FormatError as exc:
        raise RulesError(name, str(exc)) from None


def _optional_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RulesError(name, "must be text")
    text = value.strip()
    if len(text) > 255:
        raise RulesError(name, "is longer than 255 characters")
    return text or None


def _templates(value: object) -> dict[str, dict[str, Template]]:
    if not isinstance(value, Mapping):
        raise RulesError("templates", "must map a kind to {language: text}")
    result: dict[str, dict[str, Template]] = {}
    for kind, texts in value.items():
        if kind not in KINDS:
            raise RulesError(
                f"templates.{kind}", f"unknown kind; expected one of {', '.join(KINDS)}"
            )
        if not isinstance(texts, Mapping):
            raise RulesError(f"templates.{kind}", "must map a language to a text")
        result[kind] = {}
        for language, text in texts.items():
            key = f"templates.{kind}.{language}"
            if not isinstance(language, str) or not _LANGUAGE_TAG.match(language):
                raise RulesError(key, "is not a language code such as es or pt-BR")
            if not isinstance(text, str) or not text.strip():
                raise RulesError(key, "must be a non-empty text")
            if len(text) > MAX_TEMPLATE_LENGTH:
                raise RulesError(key, f"is longer than {MAX_TEMPLATE_LENGTH} characters")
            try:
                check_template(text)
            except TemplateError as exc:
                raise RulesError(key, str(exc)) from None
            result[kind][language] = text
    return result
