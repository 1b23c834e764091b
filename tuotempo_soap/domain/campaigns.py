"""Campaigns (guide A.6, bulk messages): the rules that need no database.

- **Recipients.** A patient list is a header and rows of text cells (CSV or
  Excel, read by ``files.patient_lists``) or addresses pasted one per line.
  ``select_recipients`` keeps the rows every filter condition holds for, reads
  each row's address (phones in E.164 with the instance's country, mobiles only
  for SMS; e-mail addresses lower-cased) and language, and keeps each address
  once: what was read, filtered out, unusable and repeated is counted, by line
  number only (never a value: the counts may be shown and logged).
- **Filters** (``parse_filters``), one condition per line (or separated by
  ``;``), all of which must hold, over the file's own columns (case and accents
  in column names do not matter; a name with an operator word in it is quoted:
  ``"Check in" >= 01/01/2025``)::

      LANGUAGE = es                  equals (case-blind; numbers and dates by value)
      RESOURCE_LID != DR9            differs
      RESOURCE_LID in DR1, DR2       one of
      RESOURCE_LID not in DR3        none of
      AGE >= 65                      <, <=, >, >= on numbers or dates
      LAST_VISIT between 01/01/2024 and 31/12/2024   inclusive range

  A range compares numbers (``65``, ``3.5``, ``3,5``) or dates (``dd/mm/yyyy``,
  ``yyyy-mm-dd``, as ``domain.formats`` reads them), as the value written says;
  a cell that is not one (empty, text) does not match.
- **Cost** (``sms_cost``): the SMS segments each language's text needs
  (``domain.message.sms_size``: GSM-7 160/153, UCS-2 70/67) times its recipients.
- **Schedule** (``due_times``): messages spread at the campaign's rate
  (messages per minute) from its start, shifted out of its quiet hours (wall
  clock of the instance's time zone, e.g. ``21:00-09:00``): a message that would
  fall in them waits for their end, and the rate goes on from there.
- **Opt-out keywords** (``is_opt_out``): an SMS whose whole text is one of the
  words below (case, accents and punctuation aside) means "send me no more
  campaigns". Whole text only: "stop" inside a sentence, or an answer to a
  reminder, is not one. Every language's words count whatever the patient's
  language (none is an answer word of ``domain.reminders.replies``)::

      all: STOP   es: BAJA   it: CANCELLAMI   en: UNSUBSCRIBE   ca: BAIXA   pt: SAIR
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo

from .formats import FormatError, format_time, parse_date, parse_time
from .message import MAX_SMS_SEGMENTS, Channel, normalise_recipient, sms_size
from .phones import normalise_phone


class CampaignRuleError(ValueError):
    """A campaign's settings, texts, filters or list break a rule; ``field`` names
    what to correct (``filters``, ``texts.es``, ``rate_per_minute``, ...)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CampaignState(StrEnum):
    DRAFT = "DRAFT"  # recipients stored; nothing queued yet
    QUEUING = "QUEUING"  # started; its recipients are being queued in the outbox
    STARTED = "STARTED"  # started; every recipient queued in the outbox or skipped


class RecipientState(StrEnum):
    PENDING = "PENDING"  # not queued yet (a draft's, or a start interrupted half-way)
    QUEUED = "QUEUED"  # handed to the outbox: ``message_id`` says which message
    OPTED_OUT = "OPTED_OUT"  # skipped when the campaign started: the address opted out
    REJECTED = "REJECTED"  # the outbox refused the message (its recipient or text)


CHANNELS: tuple[Channel, ...] = (Channel.SMS, Channel.EMAIL)
DEFAULT_RATE_PER_MINUTE = 60
MAX_RATE_PER_MINUTE = 6000
DEFAULT_QUIET_HOURS = "21:00-09:00"
MAX_RECIPIENTS = 200_000
MAX_NAME_LENGTH = 100
MAX_TEXT_LENGTH = 5000
MAX_SUBJECT_LENGTH = 255
MAX_FILTER_LENGTH = 4000
# Problems are reported by line number, the first ones only.
MAX_PROBLEMS_SHOWN = 20

# --- names of columns ----------------------------------------------------------


def column_key(name: str) -> str:
    """A column name as compared: ``[User Email]``, ``"user_email"`` and
    ``USER-EMAIL`` are one name; accents do not count (``Teléfono``)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", plain.casefold()).strip("_")


# Where a list's address is, unless the campaign names the column: the guide's
# names first (A.1 exports, A.2 views), then what clinics' own exports call them.
ADDRESS_COLUMNS: Mapping[Channel, tuple[str, ...]] = {
    Channel.SMS: (
        "user_mobile_phone",
        "mobile_phone",
        "mobile",
        "movil",
        "telefono_movil",
        "cellulare",
        "celular",
        "phone",
        "telefono",
        "telephone",
        "address",
    ),
    Channel.EMAIL: (
        "user_email",
        "email",
        "e_mail",
        "mail",
        "correo",
        "correo_electronico",
        "address",
    ),
}
LANGUAGE_COLUMNS: tuple[str, ...] = ("user_language", "language", "lang", "idioma", "lingua")


def find_column(
    header: Sequence[str], named: str | None, candidates: Iterable[str], what: str
) -> int | None:
    """The index of the column ``named`` (an error if the list has none such), or
    of the first of ``candidates`` the list has (None if none)."""
    keys = [column_key(name) for name in header]
    if named is not None and named.strip():
        wanted = column_key(named)
        if wanted in keys:
            return keys.index(wanted)
        raise CampaignRuleError(
            f"the list has no column '{named.strip()}'; its columns are: {_listed(header)}",
            field=what,
        )
    for candidate in candidates:
        if candidate in keys:
            return keys.index(candidate)
    return None


def _listed(header: Sequence[str]) -> str:
    shown = [name for name in header if name.strip()]
    return ", ".join(shown[:40]) + (" ..." if len(shown) > 40 else "") if shown else "(none)"


# --- filters -------------------------------------------------------------------


class FilterOp(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    BETWEEN = "between"


_RANGES = frozenset({FilterOp.LT, FilterOp.LE, FilterOp.GT, FilterOp.GE, FilterOp.BETWEEN})
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
_QUOTED_COLUMN = re.compile(r'^\s*"([^"]+)"\s*(.*)$', re.S)
_OPERATOR = re.compile(r"(?P<op>!=|<>|<=|>=|=|<|>|\bnot\s+in\b|\bin\b|\bbetween\b)", re.IGNORECASE)
_CONDITION_SEPARATORS = re.compile(r"[;\n\r]+")


@dataclass(frozen=True)
class Operand:
    """A value written in a condition, with what it reads as."""

    text: str
    number: Decimal | None = None
    day: date | None = None

    @classmethod
    def of(cls, text: str) -> Operand:
        text = _unquote(text)
        return cls(text, _as_number(text), _as_day(text))


@dataclass(frozen=True)
class Condition:
    """One filter condition as written (``text``) and read."""

    text: str
    column: str
    op: FilterOp
    operands: tuple[Operand, ...]


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _as_number(text: str) -> Decimal | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _as_day(text: str) -> date | None:
    text = text.strip()
    # A spreadsheet's date and time ("2024-05-01 00:00:00"): the day counts.
    if len(text) > 10 and text[10:11] in (" ", "T"):
        text = text[:10]
    if not text or not text[0].isdigit():
        return None
    try:
        return parse_date(text)
    except FormatError:
        return None


def parse_filters(text: str | None) -> list[Condition]:
    """The conditions of a filter text (see the module's rules); an error names the
    condition that cannot be read and why."""
    if text is None or not text.strip():
        return []
    if len(text) > MAX_FILTER_LENGTH:
        raise CampaignRuleError(
            f"the filters are {len(text)} characters long; at most {MAX_FILTER_LENGTH}",
            field="filters",
        )
    return [
        _condition(part.strip())
        for part in _CONDITION_SEPARATORS.split(text)
        if part.strip() and not part.strip().startswith("#")
    ]


def _condition(text: str) -> Condition:
    quoted = _QUOTED_COLUMN.match(text)
    if quoted:
        column, rest = quoted.group(1).strip(), quoted.group(2)
        found = _OPERATOR.match(rest.lstrip())
        if found is None:
            raise _bad(text, "no operator after the column (=, !=, <, <=, >, >=, in, between)")
        rest = rest.lstrip()
        op_text, value = found.group("op"), rest[found.end() :]
    else:
        found = _OPERATOR.search(text)
        if found is None:
            raise _bad(text, "no operator (=, !=, <, <=, >, >=, in, not in, between)")
        column, op_text, value = (
            text[: found.start()].strip(),
            found.group("op"),
            text[found.end() :],
        )
    if not column:
        raise _bad(text, "no column before the operator")
    op_word = " ".join(op_text.lower().split())
    op = FilterOp.NE if op_word == "<>" else FilterOp(op_word)
    value = value.strip()
    if not value:
        raise _bad(text, "no value after the operator")
    if op in (FilterOp.IN, FilterOp.NOT_IN):
        operands = tuple(Operand.of(item) for item in value.strip("()").split(",") if item.strip())
        if not operands:
            raise _bad(text, "no values in the list")
    elif op is FilterOp.BETWEEN:
        parts = re.split(r"\s+and\s+", value, maxsplit=1, flags=re.IGNORECASE)
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise _bad(text, "write it as: COLUMN between LOW and HIGH")
        operands = (Operand.of(parts[0]), Operand.of(parts[1]))
    else:
        operands = (Operand.of(value),)
    if op in _RANGES:
        kinds = {_kind(text, operand) for operand in operands}
        if len(kinds) > 1:
            raise _bad(text, "a range is between two numbers or two dates, not one of each")
    return Condition(text, column, op, operands)


def _kind(text: str, operand: Operand) -> str:
    if operand.day is not None:
        return "date"
    if operand.number is not None:
        return "number"
    raise _bad(text, f"'{operand.text}' is neither a number nor a date (dd/mm/yyyy)")


def _bad(text: str, why: str) -> CampaignRuleError:
    return CampaignRuleError(f"'{text}': {why}", field="filters")


@dataclass(frozen=True)
class BoundCondition:
    condition: Condition
    index: int  # the column's position in the list's rows

    def holds(self, row: Sequence[str]) -> bool:
        cell = row[self.index].strip() if self.index < len(row) else ""
        op, operands = self.condition.op, self.condition.operands
        if op in (FilterOp.EQ, FilterOp.IN):
            return any(_equal(cell, operand) for operand in operands)
        if op in (FilterOp.NE, FilterOp.NOT_IN):
            return not any(_equal(cell, operand) for operand in operands)
        low = operands[0]
        value: Decimal | date | None
        if low.day is not None:
            value = _as_day(cell)
            bounds: list[Decimal | date] = [o.day for o in operands if o.day is not None]
        else:
            value = _as_number(cell)
            bounds = [o.number for o in operands if o.number is not None]
        if value is None:
            return False
        return _compare(op, value, bounds)


def _compare(op: FilterOp, value: Decimal | date, bounds: list[Decimal | date]) -> bool:
    # Both sides are of one kind (parse_filters checked the operands, the cell was
    # read as that kind), which mypy cannot follow through the union.
    v: object = value
    b: list[object] = list(bounds)
    if op is FilterOp.LT:
        return v < b[0]  # type: ignore[operator]
    if op is FilterOp.LE:
        return v <= b[0]  # type: ignore[operator]
    if op is FilterOp.GT:
        return v > b[0]  # type: ignore[operator]
    if op is FilterOp.GE:
        return v >= b[0]  # type: ignore[operator]
    return b[0] <= v <= b[1]  # type: ignore[operator]


def _equal(cell: str, operand: Operand) -> bool:
    if operand.number is not None and (number := _as_number(cell)) is not None:
        return number == operand.number
    if operand.day is not None and (day := _as_day(cell)) is not None:
        return day == operand.day
    return cell.casefold() == operand.text.casefold()


def bind_filters(conditions: Sequence[Condition], header: Sequence[str]) -> list[BoundCondition]:
    """Each condition with its column's index; an unknown column is an error that
    lists the columns the file has."""
    keys = [column_key(name) for name in header]
    bound = []
    for condition in conditions:
        key = column_key(condition.column)
        if key not in keys:
            raise CampaignRuleError(
                f"'{condition.text}': the list has no column '{condition.column}'; "
                f"its columns are: {_listed(header)}",
                field="filters",
            )
        bound.append(BoundCondition(condition, keys.index(key)))
    return bound


# --- addresses, languages, texts -------------------------------------------------


def campaign_address(channel: Channel, raw: str, region: str) -> str:
    """The address as stored, compared and opted out: E.164 for a mobile number
    (the instance's country for numbers written without one), an e-mail address
    lower-cased. ``FormatError`` (without the value) when it cannot be used."""
    if channel is Channel.SMS:
        check = normalise_phone(raw, region, expect_mobile=True)
        if check.problem is None:
            return check.value
        if "mobile" in check.problem:
            raise FormatError("not a mobile number: SMS would not reach it")
        raise FormatError(f"not a phone number of {region.upper()} or in +country form")
    try:
        return normalise_recipient(Channel.EMAIL, raw, region)
    except FormatError:
        raise FormatError("not a valid e-mail address") from None


def primary_language(raw: str | None) -> str | None:
    """``es-ES``, ``ES``, ``es_ES`` -> ``es``; None when it is not a language code."""
    if raw is None:
        return None
    code = raw.strip().replace("_", "-").split("-")[0].lower()
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def language_of(raw: str | None, available: Collection[str], default: str) -> str:
    """The language a recipient gets: theirs when the campaign has a text in it,
    else the campaign's default."""
    code = primary_language(raw)
    return code if code is not None and code in available else default


@dataclass(frozen=True)
class CampaignText:
    text: str
    subject: str | None = None


def check_texts(
    channel: Channel, texts: Mapping[str, CampaignText], default_language: str | None
) -> tuple[dict[str, CampaignText], str]:
    """The texts by language code (trimmed, empty ones dropped) and the default
    language (given, or the only/first one); an error names ``texts.<lang>``."""
    cleaned: dict[str, CampaignText] = {}
    for raw_code, given in texts.items():
        code = primary_language(raw_code)
        if code is None:
            raise CampaignRuleError(f"'{raw_code}' is not a language code", field="texts")
        body = given.text.strip()
        if not body:
            continue
        where = f"texts.{code}"
        if len(body) > MAX_TEXT_LENGTH:
            raise CampaignRuleError(
                f"the text is {len(body)} characters; at most {MAX_TEXT_LENGTH}", field=where
            )
        subject = (given.subject or "").strip() or None
        if channel is Channel.SMS:
            size = sms_size(body)
            if size.segments > MAX_SMS_SEGMENTS:
                raise CampaignRuleError(
                    f"the text needs {size.segments} SMS segments ({size.encoding}); "
                    f"at most {MAX_SMS_SEGMENTS}",
                    field=where,
                )
            subject = None
        elif subject is None:
            raise CampaignRuleError("an e-mail needs a subject", field=f"subjects.{code}")
        elif len(subject) > MAX_SUBJECT_LENGTH:
            raise CampaignRuleError(
                f"the subject is over {MAX_SUBJECT_LENGTH} characters", field=f"subjects.{code}"
            )
        cleaned[code] = CampaignText(body, subject)
    if not cleaned:
        raise CampaignRuleError("write the text in one language at least", field="texts")
    default = primary_language(default_language) if default_language else None
    if default_language and default is None:
        raise CampaignRuleError(
            f"'{default_language}' is not a language code", field="default_language"
        )
    if default is None:
        default = next(iter(cleaned))
    if default not in cleaned:
        raise CampaignRuleError(
            f"there is no text in {default}, the default language", field="default_language"
        )
    return cleaned, default


# --- selecting the recipients ----------------------------------------------------


@dataclass
class Selection:
    """The recipients of a list (address and language, each address once) and
    what became of the other rows. ``problems``: the first unusable rows, as
    ``(line, why)``: line numbers and our words only."""

    recipients: list[tuple[str, str]] = field(default_factory=list)
    rows_read: int = 0
    filtered_out: int = 0
    invalid: int = 0
    duplicates: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def by_language(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, language in self.recipients:
            counts[language] = counts.get(language, 0) + 1
        return counts

    def reject(self, line: int, why: str) -> None:
        self.invalid += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            self.problems.append((line, why))


def select_recipients(
    header: Sequence[str],
    rows: Iterable[tuple[int, Sequence[str]]],
    *,
    channel: Channel,
    region: str,
    filters: Sequence[Condition] = (),
    address_column: str | None = None,
    language_column: str | None = None,
    languages: Collection[str],
    default_language: str,
) -> Selection:
    """The recipients of a patient list: ``rows`` are (line number, cells) under
    ``header``; see the module's rules."""
    bound = bind_filters(filters, header)
    where = find_column(header, address_column, ADDRESS_COLUMNS[channel], "address_column")
    if where is None:
        kind = "mobile number" if channel is Channel.SMS else "e-mail address"
        raise CampaignRuleError(
            f"which column holds the {kind}? Name it; the list's columns are: {_listed(header)}",
            field="address_column",
        )
    language_at = find_column(header, language_column, LANGUAGE_COLUMNS, "language_column")
    selection = Selection()
    seen: set[str] = set()
    for line, row in rows:
        selection.rows_read += 1
        if not all(condition.holds(row) for condition in bound):
            selection.filtered_out += 1
            continue
        raw = row[where].strip() if where < len(row) else ""
        if not raw:
            selection.reject(line, "no address")
            continue
        try:
            address = campaign_address(channel, raw, region)
        except FormatError as exc:
            selection.reject(line, str(exc))
            continue
        if address in seen:
            selection.duplicates += 1
            continue
        if len(seen) >= MAX_RECIPIENTS:
            raise CampaignRuleError(
                f"more than {MAX_RECIPIENTS} recipients; split the list", field="file"
            )
        seen.add(address)
        spoken = row[language_at] if language_at is not None and language_at < len(row) else None
        selection.recipients.append((address, language_of(spoken, languages, default_language)))
    return selection


_PASTE_SEPARATORS = re.compile(r"[\n\r,;\t]+")


def pasted_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Pasted addresses as a list of one column, ``ADDRESS``: one per line, or
    separated by commas, semicolons or tabs (never by spaces: ``600 00 00 00`` is
    one number)."""
    items = [item.strip() for item in _PASTE_SEPARATORS.split(text) if item.strip()]
    return ["ADDRESS"], [(index, [item]) for index, item in enumerate(items, start=1)]


# --- cost ----------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageCost:
    language: str
    recipients: int
    encoding: str | None  # GSM-7 / UCS-2 (SMS only)
    segments_each: int  # 0 for e-mail
    segments: int  # segments_each * recipients


def sms_cost(
    channel: Channel, texts: Mapping[str, CampaignText], recipients: Mapping[str, int]
) -> list[LanguageCost]:
    """What each language's messages cost in SMS segments (nothing for e-mail)."""
    costs = []
    for language in sorted(set(texts) | set(recipients)):
        count = recipients.get(language, 0)
        text = texts.get(language)
        if channel is Channel.SMS and text is not None:
            size = sms_size(text.text)
            costs.append(
                LanguageCost(language, count, size.encoding, size.segments, size.segments * count)
            )
        else:
            costs.append(LanguageCost(language, count, None, 0, 0))
    return costs


# --- schedule ------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """A daily window ``[start, end)`` of wall-clock time (it may wrap midnight)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str | None) -> QuietHours | None:
        """``21:00-09:00``; empty, ``none`` or ``off``: none."""
        if text is None or text.strip().lower() in ("", "none", "off", "no"):
            return None
        parts = text.replace("\u2013", "-").split("-")
        if len(parts) != 2:
            raise CampaignRuleError(
                f"'{text.strip()}' is not a window; write it as hh:mm-hh:mm (21:00-09:00)",
                field="quiet_hours",
            )
        try:
            start, end = parse_time(parts[0]), parse_time(parts[1])
        except FormatError as exc:
            raise CampaignRuleError(str(exc), field="quiet_hours") from None
        if start == end:
            raise CampaignRuleError(
                "the window starts and ends at the same time; leave it empty for none",
                field="quiet_hours",
            )
        return cls(start, end)

    def __str__(self) -> str:
        return f"{format_time(self.start)}-{format_time(self.end)}"

    def end_of(self, wall: datetime) -> datetime | None:
        """The end of the quiet hours a wall-clock moment falls in, or None."""
        clock, day = wall.time(), wall.date()
        if self.start < self.end:
            inside = self.start <= clock < self.end
            return datetime.combine(day, self.end) if inside else None
        if clock >= self.start:
            return datetime.combine(day + timedelta(days=1), self.end)
        if clock < self.end:
            return datetime.combine(day, self.end)
        return None

    def next_allowed(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """``moment`` (naive UTC), or the end of the quiet hours it falls in."""
        wall = moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
        end = self.end_of(wall)
        if end is None:
            return moment
        # fold=0: an end in a skipped spring hour lands just after the gap.
        return end.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)


def check_rate(rate_per_minute: int) -> int:
    if not 1 <= rate_per_minute <= MAX_RATE_PER_MINUTE:
        raise CampaignRuleError(
            f"the rate is 1 to {MAX_RATE_PER_MINUTE} messages a minute, not {rate_per_minute}",
            field="rate_per_minute",
        )
    return rate_per_minute


def due_times(
    start: datetime, rate_per_minute: int, quiet: QuietHours | None, zone: ZoneInfo
) -> Iterator[datetime]:
    """When each message of a campaign is due (naive UTC), in order, without end.

    The n-th message after a start (or after quiet hours ended) is due n
    intervals of ``60 / rate`` seconds later, counted from that start, so the
    rate does not drift with rounding.
    """
    interval_us = 60_000_000 / check_rate(rate_per_minute)
    anchor, index = start, 0
    if quiet is not None:
        anchor = quiet.next_allowed(anchor, zone)
    while True:
        due = anchor + timedelta(microseconds=math.floor(index * interval_us))
        if quiet is not None:
            allowed = quiet.next_allowed(due, zone)
            if allowed != due:
                anchor, index, due = allowed, 0, allowed
        yield due
        index += 1


# --- opting out ------------------------------------------------------------------

OPT_OUT_WORDS: Mapping[str, tuple[str, ...]] = {
    "es": ("STOP", "BAJA"),
    "it": ("STOP", "CANCELLAMI"),
    "en": ("STOP", "UNSUBSCRIBE"),
    "ca": ("STOP", "BAIXA"),
    "pt": ("STOP", "SAIR"),
    "fr": ("STOP",),
}
_OPT_OUT = frozenset(word.casefold() for words in OPT_OUT_WORDS.values() for word in words)


def is_opt_out(text: str) -> bool:
    """Whether an SMS's whole text is an opt-out word (see the module's list)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = re.findall(r"[a-z0-9]+", plain.casefold())
    return len(words) == 1 and words[0] in _OPT_OUT
