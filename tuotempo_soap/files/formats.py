"""The export file of guide A.1.1 and the files we write back, as bytes and text.

Reading a clinic's export:

- ``ContentScan`` sees every byte once, while the file is copied: its size, its
  SHA-256, and its encoding (a BOM says UTF-8 or UTF-16; valid UTF-8 is UTF-8;
  otherwise Windows-1252 when bytes 0x80-0x9F are used as its printable
  characters, ISO-8859-1 when not). A configured encoding is checked instead,
  and the first byte that does not fit is named with its line.
- ``read_layout`` reads the header line: the delimiter is the one of ``; , TAB |``
  that splits it into the most names of the guide (``APP_LID``, ``[APP_LID]``,
  ``"app_lid"`` all count); columns the guide does not know are ignored and
  said so; APP_LID, APP_DATE and RESOURCE_LID must be there.
- ``detect_date_format`` looks at the first dates: a first number above 12 means
  day first (the guide's ``dd/mm/yyyy``), a second one above 12 with no first one
  means month first; ``yyyymmdd`` and ISO dates are recognised too.
- ``read_rows`` yields one ``FileRow`` per record, streamed from ``csv.reader``:
  a row that cannot be read (wrong number of values, a date not in the file's
  format) carries its ``ItemError``; the others go to the field rules of
  ``domain.reservation``, as updateReservations items do.

Writing: ``ResultWriter`` (one line per row read, the same answer an
updateReservations item gets) and ``CancellationWriter`` (guide A.1.2.1, with
the patient's answer).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, NoReturn, TextIO

from ..domain.formats import FormatError, format_date
from ..domain.reservation import FIELD_NAMES, FIELDS, ItemError
from .errors import FileFormatError

# The fields of the export as the guide lists them (A.1.1); any other field of
# the reservation record (A.2.1: APP_END_TIME, STATUS, ...) is read too.
EXPORT_FIELDS: tuple[str, ...] = (
    "APP_LID",
    "APP_DATE",
    "APP_START_TIME",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "RESOURCE_NAME",
    "RESOURCE_MOBILE_PHONE",
    "RESOURCE_EMAIL",
    "LOCATION_LID",
    "LOCATION_NAME",
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(s.name for s in FIELDS if s.required)
DATE_FIELDS: frozenset[str] = frozenset(s.name for s in FIELDS if s.kind == "date")

# The cancellations file (A.1.2.1), then the patient's answer and when the
# status changed, so the clinic's software can tell a patient's answer apart.
CANCELLATION_COLUMNS: tuple[str, ...] = (
    "APP_LID",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "STATUS",
    "PATIENT_ANSWER",
    "PATIENT_ANSWER_CHANNEL",
    "PATIENT_ANSWER_TIME",
    "STATUS_CHANGED_AT",
)
RESULT_COLUMNS: tuple[str, ...] = (
    "LINE",
    "APP_LID",
    "RESULT",
    "ACTION",
    "ERROR_CODE",
    "ERROR_FIELD",
    "MESSAGE",
)

DELIMITERS: tuple[str, ...] = (";", ",", "\t", "|")
_DELIMITER_NAMES = {
    "semicolon": ";",
    "comma": ",",
    "tab": "\t",
    "\\t": "\t",
    "pipe": "|",
}
_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "iso8859-1": "ISO-8859-1",
    "latin-1": "ISO-8859-1",
}
# Undefined in Windows-1252: a file that uses them is ISO-8859-1 (C1 controls).
_UNDEFINED_IN_1252 = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
_NOT_C1 = bytes(b for b in range(256) if not 0x80 <= b <= 0x9F)


def encoding_label(codec: str) -> str:
    """How people name an encoding: ``cp1252`` -> ``Windows-1252``."""
    return _LABELS.get(codec, codec.upper())


def parse_encoding(text: str | None) -> str | None:
    """A configured encoding as Python's codec name (None: detect); unknown names
    are an error naming the setting."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    try:
        return codecs.lookup(text.strip()).name
    except LookupError:
        raise FormatError(
            f"'{text}' is not an encoding; use UTF-8, Windows-1252, ISO-8859-1 or auto"
        ) from None


def parse_delimiter(text: str | None) -> str | None:
    """``;``, ``,``, ``|``, ``tab`` (or ``\\t``, ``semicolon``...); None (or ``auto``): detect."""
    if text is None:
        return None
    if text == "\t":
        return "\t"
    key = text.strip().lower()
    if key in ("", "auto"):
        return None
    value = _DELIMITER_NAMES.get(key, key)
    if value not in DELIMITERS:
        raise FormatError(f"'{text}' is not a delimiter; use ; , | or tab (or auto)")
    return value


def delimiter_label(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else delimiter


# --- bytes: size, checksum, encoding ---------------------------------------------


@dataclass(frozen=True)
class FileFacts:
    """What one pass over the bytes found."""

    size: int
    sha256: str
    encoding: str  # Python's codec name
    problem: str | None = None

    @property
    def encoding_label(self) -> str:
        return encoding_label(self.encoding)


class ContentScan:
    """Feed every chunk of a file (in order), then ``finish``.

    With ``encoding`` None the encoding is detected; otherwise the bytes are
    checked against it and ``finish`` raises ``FileFormatError`` naming the first
    byte that does not decode.
    """

    def __init__(self, encoding: str | None = None) -> None:
        self._configured = encoding
        self._hash = hashlib.sha256()
        self._size = 0
        self._newlines = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        self._codec = encoding
        self._bad: tuple[int, int, int] | None = None  # (offset, byte, line)
        self._c1: set[int] = set()

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._decoder is None:
            self._start(chunk)
        self._hash.update(chunk)
        if self._bad is None and self._decoder is not None:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = self._newlines + chunk[: exc.start].count(b"\n") + 1
                self._bad = (self._size + exc.start, chunk[exc.start], line)
        self._c1.update(chunk.translate(None, _NOT_C1))
        self._newlines += chunk.count(b"\n")
        self._size += len(chunk)

    def _start(self, chunk: bytes) -> None:
        if self._codec is None:
            if chunk.startswith(codecs.BOM_UTF8):
                self._codec = "utf-8-sig"
            elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                self._codec = "utf-16"
            else:
                self._codec = "utf-8"
        elif self._codec == "utf-8" and chunk.startswith(codecs.BOM_UTF8):
            self._codec = "utf-8-sig"  # configured UTF-8, written with a BOM: skip it
        self._decoder = codecs.getincrementaldecoder(self._codec)()

    def finish(self) -> FileFacts:
        """The facts; ``problem`` says why the bytes are not text in the
        configured encoding (or in the one their BOM announces)."""
        if self._bad is None and self._decoder is not None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self._bad = (self._size, 0, self._newlines + 1)
        codec = self._codec or "utf-8"
        problem = None
        if self._bad is not None:
            offset, byte, line = self._bad
            if self._configured is not None or codec in ("utf-8-sig", "utf-16"):
                problem = (
                    f"the file is not valid {encoding_label(codec)}: byte 0x{byte:02X} "
                    f"at offset {offset} (line {line}); set the instance's encoding "
                    "(files source set --encoding) to the one the export is written in"
                )
            else:
                # Not UTF-8: one of the single-byte encodings HIS exports use.
                undefined = not self._c1 or self._c1 & _UNDEFINED_IN_1252
                codec = "iso8859-1" if undefined else "cp1252"
        return FileFacts(self._size, self._hash.hexdigest(), codec, problem)


def raise_format(message: str, field_name: str) -> NoReturn:
    raise FileFormatError(message, field=field_name)


# --- the header line ---------------------------------------------------------------

_NAME_JUNK = re.compile(r"^[\s\"'\[]+|[\s\"'\]]+$")


def _field_name(text: str) -> str:
    return "_".join(_NAME_JUNK.sub("", text).upper().split())


_KNOWN = frozenset(FIELD_NAMES)


@dataclass(frozen=True)
class Layout:
    """How the file is laid out: its delimiter, and the field each column holds
    (None: a column of no field of the guide, ignored)."""

    delimiter: str
    columns: tuple[str | None, ...]
    header_line: int
    ignored: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return len(self.columns)


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def read_layout(stream: IO[str], delimiter: str | None = None) -> Layout:
    """Read up to and including the header line; ``stream`` is left just after it."""
    line_number = 0
    header = ""
    while True:
        line = stream.readline()
        if not line:
            raise_format(
                "the file is empty: expected a header line naming the fields "
                f"({', '.join(EXPORT_FIELDS[:3])}, ...)",
                "header",
            )
        line_number += 1
        if line.strip():
            header = line.rstrip("\r\n")
            break
    candidates = (delimiter,) if delimiter else DELIMITERS
    best: tuple[int, str, list[str]] | None = None
    for candidate in candidates:
        names = [_field_name(name) for name in _split(header, candidate)]
        known = sum(1 for name in names if name in _KNOWN)
        if best is None or known > best[0]:
            best = (known, candidate, names)
    if best is None:  # no candidate at all: cannot happen, DELIMITERS is not empty
        raise_format("no delimiter to try", "header")
    known, chosen, names = best
    if known == 0:
        # The line itself is not repeated: a data row in its place holds patients' numbers.
        raise_format(
            f"line {line_number} is not a header line: none of its {len(names)} values "
            f"(delimiter {delimiter_label(chosen)!r}) names a field of the guide "
            "(APP_LID, APP_DATE, RESOURCE_LID, ...)",
            "header",
        )
    # An export that ends every line with the delimiter has an empty last name.
    while names and names[-1] == "":
        names.pop()
    columns: list[str | None] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for name in names:
        if name in _KNOWN:
            if name in seen:
                raise_format(f"the header names {name} twice", name)
            seen.add(name)
            columns.append(name)
        else:
            columns.append(None)
            ignored.append(name or "(empty)")
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        raise_format(
            f"the header has no {', '.join(missing)} column "
            f"(delimiter {delimiter_label(chosen)!r}); the guide requires it",
            missing[0],
        )
    return Layout(chosen, tuple(columns), line_number, tuple(ignored))


# --- dates -------------------------------------------------------------------------

_TOKENS = (("yyyy", "%Y"), ("dd", "%d"), ("mm", "%m"))
_DAY_MONTH = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})$")
_COMPACT = re.compile(r"^\d{8}$")
# A date column exported as a date-time at midnight: "15/01/2026 00:00:00".
_MIDNIGHT = re.compile(r"^(\S+)[ T]00:00(?::00(?:\.0+)?)?$")


@dataclass(frozen=True)
class DateFormat:
    """How the file writes dates. ``pattern`` None: the guide's ``dd/mm/yyyy`` (and
    what the domain reads leniently: ``d/m/yyyy``, ``yyyy-mm-dd``...); otherwise
    a ``strptime`` pattern every date is read with, then written the guide's way."""

    label: str
    pattern: str | None = None

    def to_guide(self, text: str) -> str:
        value = text.strip()
        midnight = _MIDNIGHT.match(value)
        if midnight:
            value = midnight.group(1)
        if self.pattern is None:
            return value
        try:
            return format_date(datetime.strptime(value, self.pattern).date())
        except ValueError:
            raise FormatError(
                f"'{value}' is not a date in this file's format {self.label}"
            ) from None


GUIDE_DATES = DateFormat("dd/mm/yyyy")


def parse_date_format(text: str | None) -> DateFormat | None:
    """``dd/mm/yyyy``, ``mm/dd/yyyy``, ``yyyymmdd``, ``yyyy-mm-dd``... (or a
    ``strptime`` pattern); None (or ``auto``): detect."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    label = text.strip()
    pattern = label
    if "%" not in pattern:
        for token, directive in _TOKENS:
            pattern = re.sub(token, directive, pattern, flags=re.IGNORECASE)
    if any(pattern.count(d) != 1 for d in ("%d", "%m", "%Y")):
        raise FormatError(
            f"'{text}' is not a date format; write it as dd/mm/yyyy, mm/dd/yyyy or yyyymmdd"
        )
    if pattern.index("%d") < pattern.index("%m") < pattern.index("%Y"):
        # Day, month, year: the guide's order, which the domain reads with any
        # of its separators and without leading zeros.
        return DateFormat(label.lower() if "%" not in label else label)
    return DateFormat(label.lower() if "%" not in label else label, pattern)


def detect_date_format(values: Iterable[str]) -> DateFormat:
    """The format of these dates (the first few hundred of a file)."""
    day_first = month_first = compact = other = 0
    separator = "/"
    for raw in values:
        value = raw.strip()
        midnight = _MIDNIGHT.match(value)
        if midnight:
            value = midnight.group(1)
        if not value:
            continue
        match = _DAY_MONTH.match(value)
        if match:
            first, second = int(match.group(1)), int(match.group(3))
            separator = match.group(2)
            day_first += first > 12
            month_first += second > 12 and first <= 12
        elif _COMPACT.match(value):
            compact += 1
        else:
            other += 1
    if compact and compact >= other and not (day_first or month_first):
        return DateFormat("yyyymmdd", "%Y%m%d")
    if month_first and not day_first:
        label = f"mm{separator}dd{separator}yyyy"
        return DateFormat(label, f"%m{separator}%d{separator}%Y")
    return GUIDE_DATES


# --- records -----------------------------------------------------------------------


@dataclass
class FileRow:
    """One record of the file: its line, the guide's fields it holds (text as
    written, dates already in the guide's format), or why it cannot be used."""

    line: int
    values: dict[str, str]
    error: ItemError | None = None

    @property
    def app_lid(self) -> str | None:
        lid = self.values.get("APP_LID")
        return (lid.strip() or None) if lid is not None else None


def sample_dates(stream: IO[str], layout: Layout, limit: int = 500) -> list[str]:
    """The APP_DATE values of the first ``limit`` records after the header."""
    try:
        position = layout.columns.index("APP_DATE")
    except ValueError:
        return []
    found: list[str] = []
    try:
        for values in csv.reader(stream, delimiter=layout.delimiter):
            if len(values) > position and values[position].strip():
                found.append(values[position])
                if len(found) >= limit:
                    break
    except csv.Error:
        pass  # the rows themselves report it
    return found


def read_rows(stream: IO[str], layout: Layout, dates: DateFormat) -> Iterator[FileRow]:
    """The records after the header (``stream`` positioned by ``read_layout``)."""
    reader = csv.reader(stream, delimiter=layout.delimiter, strict=False)
    width = layout.width
    offset = layout.header_line
    previous_end = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = offset + previous_end + 1
            previous_end = reader.line_num
            yield FileRow(line, {}, ItemError("INVALID_ROW", None, f"line {line}: {exc}"))
            continue
        line = offset + previous_end + 1
        previous_end = reader.line_num
        if not any(value.strip() for value in values):
            continue  # a blank line
        if len(values) > width and not any(v.strip() for v in values[width:]):
            values = values[:width]
        if len(values) != width:
            yield FileRow(
                line,
                _values(values, layout.columns),
                ItemError(
                    "INVALID_ROW",
                    None,
                    f"line {line} has {len(values)} values; the header has {width} "
                    f"(delimiter {delimiter_label(layout.delimiter)!r})",
                ),
            )
            continue
        row = FileRow(line, _values(values, layout.columns))
        for name in DATE_FIELDS:
            text = row.values.get(name)
            if text is None or not text.strip():
                continue
            try:
                row.values[name] = dates.to_guide(text)
            except FormatError as exc:
                row.error = ItemError("INVALID_DATE", name, f"{name}: {exc}")
                break
        yield row


def _values(values: list[str], columns: tuple[str | None, ...]) -> dict[str, str]:
    return {name: value for name, value in zip(columns, values, strict=False) if name is not None}


# --- files we write ----------------------------------------------------------------


@dataclass
class ResultLine:
    """One line of ``<name>.result.csv``."""

    line: int | None
    app_lid: str | None
    ok: bool
    action: str | None = None
    error: ItemError | None = None
    warnings: list[str] = field(default_factory=list)


class ResultWriter:
    """``<name>.result.csv``: the answer for every row of the file, in file order,
    in the file's own delimiter."""

    def __init__(self, stream: TextIO, delimiter: str = ";") -> None:
        self._writer = csv.writer(stream, delimiter=delimiter)
        self._writer.writerow(RESULT_COLUMNS)

    def write(self, result: ResultLine) -> None:
        error = result.error
        message = error.message if error is not None else "; ".join(result.warnings)
        self._writer.writerow(
            (
                "" if result.line is None else result.line,
                result.app_lid or "",
                "OK" if result.ok else "ERROR",
                result.action or "",
                error.code if error is not None else "",
                (error.field or "") if error is not None else "",
                message,
            )
        )


class CancellationWriter:
    """The cancellations file of guide A.1.2.1 (``CANCELLATION_COLUMNS``)."""

    def __init__(self, stream: TextIO, delimiter: str = ";") -> None:
        self._writer = csv.writer(stream, delimiter=delimiter)
        self._writer.writerow(CANCELLATION_COLUMNS)

    def write(self, row: Mapping[str, str | None]) -> None:
        self._writer.writerow(tuple(row.get(name) or "" for name in CANCELLATION_COLUMNS))
