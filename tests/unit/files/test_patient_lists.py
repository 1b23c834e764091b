"""Reading campaign patient lists: CSV in the encodings and delimiters clinics'
exports use, Excel workbooks written with openpyxl, and the refusals."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from tuotempo_soap.errors import RequestValidationError
from tuotempo_soap.files.patient_lists import read_patient_list

NAME = "Núñez \u2013 Peña"


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_the_delimiter_is_the_one_that_splits_the_header(delimiter: str) -> None:
    text = delimiter.join(["Nombre", "USER_MOBILE_PHONE", "Edad"]) + "\n"
    text += delimiter.join(["Ana", "612345678", "67"]) + "\n"
    found = read_patient_list("list.csv", text.encode())
    assert found.kind == "CSV"
    assert found.header == ["Nombre", "USER_MOBILE_PHONE", "Edad"]
    assert found.rows == [(2, ["Ana", "612345678", "67"])]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_encodings(encoding: str) -> None:
    # An en dash: Windows-1252 has it, ISO-8859-1 does not.
    text = f"Nombre;Móvil\r\n{NAME};612345678\r\n"
    found = read_patient_list("list.csv", text.encode(encoding))
    assert found.header == ["Nombre", "Móvil"]
    assert found.rows[0][1] == [NAME, "612345678"]


def test_blank_rows_are_skipped_and_lines_kept_and_quotes_read() -> None:
    text = '"[APP_LID]";"USER_EMAIL"\n\n"A1";"ana@example.org"\n;\n"A2";"x; y"\n'
    found = read_patient_list("export.csv", text.encode())
    assert found.header == ["APP_LID", "USER_EMAIL"]
    assert found.rows == [(3, ["A1", "ana@example.org"]), (5, ["A2", "x; y"])]


def test_a_single_column_of_addresses_has_no_header() -> None:
    found = read_patient_list("numbers.csv", b"612345678\n+34 699 000 111\n")
    assert found.header == ["ADDRESS"]
    assert [cells for _, cells in found.rows] == [["612345678"], ["+34 699 000 111"]]
    named = read_patient_list("numbers.csv", b"Phone\n612345678\n")
    assert named.header == ["Phone"] and len(named.rows) == 1


def test_excel_cells_become_text() -> None:
    data = workbook(
        [
            ["Name", "Mobile", "Age", "Last visit", "Score", "Seen at"],
            ["Ana", 612345678, 67, date(2024, 3, 15), 3.5, datetime(2024, 3, 15, 9, 30)],
            [None, None, None, None, None, None],
            ["Bea", "+34 699 000 111", 41.0, datetime(2023, 1, 2), None, None],
        ]
    )
    found = read_patient_list("list.xlsx", data)
    assert found.kind == "Excel"
    assert found.header == ["Name", "Mobile", "Age", "Last visit", "Score", "Seen at"]
    assert found.rows == [
        (2, ["Ana", "612345678", "67", "2024-03-15", "3.5", "2024-03-15 09:30"]),
        (4, ["Bea", "+34 699 000 111", "41", "2023-01-02", "", ""]),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"\n\n  \n", "is empty"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old Excel (.xls)"),
        (b"PK\x03\x04 not really a zip", "not a readable .xlsx workbook"),
    ],
)
def test_refusals_name_the_file(data: bytes, message: str) -> None:
    with pytest.raises(RequestValidationError) as raised:
        read_patient_list("patients.xls", data)
    assert raised.value.field == "file"
    assert message in raised.value.message and "patients.xls" in raised.value.message


def test_an_empty_workbook_is_refused() -> None:
    with pytest.raises(RequestValidationError) as raised:
        read_patient_list("empty.xlsx", workbook([]))
    assert "has no rows" in raised.value.message
