"""Patient lists for campaigns (guide A.6): a CSV or Excel file as a header and
rows of text cells, for ``domain.campaigns.select_recipients`` to filter.

- The kind is read from the content, not the name: an ``.xlsx`` workbook is a
  zip archive (its first sheet is read, in read-only mode, a row at a time);
  the old binary ``.xls`` is refused with what to do instead; anything else is
  CSV text.
- CSV: the encoding is UTF-8 (with or without a BOM) or UTF-16 with a BOM,
  else Windows-1252 (ISO-8859-1 when the bytes only that one leaves undefined
  are used); the delimiter is the one of ``; , TAB |`` that splits the header
  into the most columns.
- The first non-blank row is the header, unless the list is a single column
  of addresses (its first cell is one): then the column is ``ADDRESS``.
- Cells become text: Excel dates ``yyyy-mm-dd`` (with ``hh:mm`` when there is
  a time of day), whole numbers without ``.0``. Blank rows are skipped; every
  row keeps its line (CSV) or row (Excel) number for the problems reported.

Errors are ``RequestValidationError`` on the field ``file`` and never quote a
cell.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

from ..errors import RequestValidationError
from .formats import DELIMITERS, ContentScan

MAX_LIST_BYTES = 20 * 1024 * 1024
MAX_LIST_ROWS = 500_000
MAX_COLUMNS = 200
_LOOKS_LIKE_ADDRESS = re.compile(r"^\+?[\d\s().\-/]{6,}$|^[^@\s]+@[^@\s]+$")

Row = tuple[int, list[str]]


@dataclass(frozen=True)
class PatientList:
    name: str
    kind: str  # CSV or Excel
    header: list[str]
    rows: list[Row]


def _refuse(message: str) -> RequestValidationError:
    return RequestValidationError(message, field="file")


def read_patient_list(name: str, data: bytes) -> PatientList:
    """The list in ``data`` (the file ``name``, for messages only)."""
    if not data.strip():
        raise _refuse(f"{name} is empty")
    if len(data) > MAX_LIST_BYTES:
        raise _refuse(f"{name} is over {MAX_LIST_BYTES // (1024 * 1024)} MB; split the list")
    if data.startswith(b"PK\x03\x04"):
        header, rows = _excel_rows(name, data)
        kind = "Excel"
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse(
            f"{name} is an old Excel (.xls) workbook; save it as .xlsx or CSV and send that"
        )
    else:
        header, rows = _csv_rows(name, data)
        kind = "CSV"
    return PatientList(name, kind, header, rows)


# --- CSV -----------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of a CSV file, in the encoding the export files' scan detects
    (a BOM, else UTF-8, else Windows-1252 or ISO-8859-1)."""
    scan = ContentScan()
    scan.feed(data)
    return data.decode(scan.finish().encoding, errors="replace")


def _delimiter(first_line: str) -> str:
    best, most = ",", 1
    for candidate in DELIMITERS:
        count = len(next(csv.reader([first_line], delimiter=candidate), []))
        if count > most:
            best, most = candidate, count
    return best


def _csv_rows(name: str, data: bytes) -> tuple[list[str], list[Row]]:
    text = decode(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header: list[str] | None = None
    rows: list[Row] = []
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells[:MAX_COLUMNS]]
            if not any(cells):
                continue
            if header is None:
                header = _header(cells, rows, reader.line_num)
                continue
            rows.append((reader.line_num, cells))
            if len(rows) > MAX_LIST_ROWS:
                raise _refuse(f"{name} has more than {MAX_LIST_ROWS} rows; split the list")
    except csv.Error as exc:
        raise _refuse(f"{name}, line {reader.line_num}: not readable as CSV ({exc})") from None
    if header is None:
        raise _refuse(f"{name} has no rows")
    return header, rows


def _header(cells: list[str], rows: list[Row], line: int) -> list[str]:
    """The header; a single column of addresses has none (its first row is data)."""
    if len(cells) == 1 and _LOOKS_LIKE_ADDRESS.match(cells[0]):
        rows.append((line, cells))
        return ["ADDRESS"]
    return [cell.strip().strip("[]\"'") for cell in cells]


# --- Excel ---------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _excel_rows(name: str, data: bytes) -> tuple[list[str], list[Row]]:
    # Imported here: only a campaign created from a workbook pays for openpyxl.
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _refuse(f"{name} is not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        if not book.worksheets:
            raise _refuse(f"{name} has no sheet")
        sheet = book.worksheets[0]
        header: list[str] | None = None
        rows: list[Row] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell(value) for value in values[:MAX_COLUMNS]]
            if not any(cells):
                continue
            if header is None:
                header = _header(cells, rows, number)
                continue
            rows.append((number, cells))
            if len(rows) > MAX_LIST_ROWS:
                raise _refuse(f"{name} has more than {MAX_LIST_ROWS} rows; split the list")
    finally:
        book.close()
    if header is None:
        raise _refuse(f"{name}: its first sheet has no rows")
    return header, rows
