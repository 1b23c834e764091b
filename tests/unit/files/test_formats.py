"""Reading a clinic's export: encodings, delimiters, header names, date formats
and rows that cannot be read, on bytes written the way HIS exports write them."""

from __future__ import annotations

import codecs
import io

import pytest

from tuotempo_soap.domain.formats import FormatError
from tuotempo_soap.files.errors import FileFormatError
from tuotempo_soap.files.formats import (
    CANCELLATION_COLUMNS,
    GUIDE_DATES,
    CancellationWriter,
    ContentScan,
    ResultLine,
    ResultWriter,
    detect_date_format,
    parse_date_format,
    parse_delimiter,
    parse_encoding,
    read_layout,
    read_rows,
)

NAME = "Dra. Núñez \u2013 Peña"  # an en dash: Windows-1252 has it, ISO-8859-1 does not


def scan(data: bytes, encoding: str | None = None, chunk: int = 7) -> ContentScan:
    scanner = ContentScan(encoding)
    for start in range(0, len(data), chunk):  # small chunks: characters split across them
        scanner.feed(data[start : start + chunk])
    return scanner


@pytest.mark.parametrize(
    ("data", "codec", "label"),
    [
        (f"APP_LID;RESOURCE_NAME\n1;{NAME}\n".encode(), "utf-8", "UTF-8"),
        (codecs.BOM_UTF8 + f"APP_LID\n1;{NAME}\n".encode(), "utf-8-sig", "UTF-8 with BOM"),
        (f"APP_LID\n1;{NAME}\n".encode("cp1252"), "cp1252", "Windows-1252"),
        ("APP_LID\n1;Dra. Núñez\n".encode("iso8859-1"), "iso8859-1", "ISO-8859-1"),
        # 0x81 is undefined in Windows-1252: only ISO-8859-1 reads it.
        (b"APP_LID\n1;caf\xe9 \x81\n", "iso8859-1", "ISO-8859-1"),
        ("APP_LID\n1;€\n".encode("utf-16"), "utf-16", "UTF-16"),
    ],
)
def test_the_encoding_is_detected(data: bytes, codec: str, label: str) -> None:
    facts = scan(data).finish()
    assert (facts.encoding, facts.encoding_label, facts.problem) == (codec, label, None)
    assert facts.size == len(data)
    assert data.decode(codec)  # and it reads


def test_the_checksum_is_of_the_bytes() -> None:
    import hashlib

    data = b"APP_LID;APP_DATE\n" * 1000
    assert scan(data, chunk=4096).finish().sha256 == hashlib.sha256(data).hexdigest()


def test_a_configured_encoding_is_checked_and_the_bad_byte_named_with_its_line() -> None:
    data = "APP_LID\n1\n2;Peña\n".encode("cp1252")
    facts = scan(data, "utf-8").finish()
    assert facts.problem is not None
    assert "not valid UTF-8: byte 0xF1" in facts.problem and "(line 3)" in facts.problem
    assert scan(data, parse_encoding("Windows-1252")).finish().problem is None


def test_a_configured_utf8_skips_a_bom() -> None:
    facts = scan(codecs.BOM_UTF8 + b"APP_LID\n", "utf-8").finish()
    assert facts.encoding == "utf-8-sig"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", None),
        (None, None),
        ("tab", "\t"),
        ("\t", "\t"),
        (";", ";"),
        ("comma", ","),
        ("|", "|"),
    ],
)
def test_delimiter_settings(text: str | None, expected: str | None) -> None:
    assert parse_delimiter(text) == expected


def test_unknown_settings_are_refused_with_what_is_allowed() -> None:
    with pytest.raises(FormatError, match="not a delimiter"):
        parse_delimiter(";;")
    with pytest.raises(FormatError, match="not an encoding"):
        parse_encoding("klingon-8")
    with pytest.raises(FormatError, match="not a date format"):
        parse_date_format("dd/mm")


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_the_delimiter_is_the_one_that_splits_the_header_into_guide_fields(delimiter: str) -> None:
    header = delimiter.join(["[APP_LID]", '"app_date"', " APP_START_TIME ", "RESOURCE_LID", "X"])
    layout = read_layout(io.StringIO(f"\n{header}\n1{delimiter}2\n"))
    assert layout.delimiter == delimiter
    assert layout.columns == ("APP_LID", "APP_DATE", "APP_START_TIME", "RESOURCE_LID", None)
    assert layout.ignored == ("X",)
    assert layout.header_line == 2


def test_a_header_without_a_required_column_names_it() -> None:
    with pytest.raises(FileFormatError, match="no RESOURCE_LID column") as raised:
        read_layout(io.StringIO("APP_LID;APP_DATE;APP_START_TIME\n"))
    assert raised.value.field == "RESOURCE_LID"


def test_a_file_without_a_header_is_refused() -> None:
    with pytest.raises(FileFormatError, match="not a header line") as raised:
        read_layout(io.StringIO("1;15/01/2027;10:00;+34611222333;DR1\n"))
    assert raised.value.field == "header"
    assert "611222333" not in raised.value.message  # a data row is not repeated anywhere
    with pytest.raises(FileFormatError, match="empty"):
        read_layout(io.StringIO("\n\n"))


def test_a_column_named_twice_is_refused() -> None:
    with pytest.raises(FileFormatError, match="APP_DATE twice"):
        read_layout(io.StringIO("APP_LID;APP_DATE;APP_DATE;RESOURCE_LID\n"))


@pytest.mark.parametrize(
    ("values", "label", "converted"),
    [
        (["15/01/2027", "02/03/2027"], "dd/mm/yyyy", "02/03/2027"),
        (["01/15/2027", "02/03/2027"], "mm/dd/yyyy", "03/02/2027"),
        (["01-15-2027", "02-03-2027"], "mm-dd-yyyy", "03/02/2027"),
        (["20270115", "20270302"], "yyyymmdd", "02/03/2027"),
        (["2027-01-15", "2027-03-02"], "dd/mm/yyyy", "2027-03-02"),  # the domain reads ISO
        (["02/03/2027 00:00:00"], "dd/mm/yyyy", "02/03/2027"),
        (["02/03/2027", "03/04/2027"], "dd/mm/yyyy", "03/04/2027"),  # ambiguous: the guide's
    ],
)
def test_the_date_format_is_detected(values: list[str], label: str, converted: str) -> None:
    found = detect_date_format(values)
    assert found.label == label
    assert found.to_guide(values[-1]) == converted


def test_a_configured_date_format_reads_and_refuses() -> None:
    us = parse_date_format("mm/dd/yyyy")
    assert us is not None and us.to_guide("12/31/2027") == "31/12/2027"
    with pytest.raises(FormatError, match="not a date in this file's format mm/dd/yyyy"):
        us.to_guide("31/12/2027")
    assert parse_date_format("dd.mm.yyyy") == GUIDE_DATES.__class__("dd.mm.yyyy")
    compact = parse_date_format("%Y%m%d")
    assert compact is not None and compact.to_guide("20271231") == "31/12/2027"


def rows(text: str, dates: str | None = None) -> list[tuple[int, dict[str, str], str | None]]:
    stream = io.StringIO(text, newline="")
    layout = read_layout(stream)
    fmt = parse_date_format(dates) or GUIDE_DATES
    return [
        (row.line, row.values, row.error.code if row.error else None)
        for row in read_rows(stream, layout, fmt)
    ]


def test_rows_carry_their_line_and_what_cannot_be_read() -> None:
    text = (
        "APP_LID;APP_DATE;NOTES;RESOURCE_LID;\r\n"  # a delimiter at the end of every line
        "A1;15/01/2027;plain;DR1;\r\n"
        "\r\n"
        'A2;16/01/2027;"two\r\nlines";DR1;\r\n'
        "A3;17/01/2027;DR1\r\n"
        "A4;99/01/2027;x;DR1;\r\n"
        "A5;18/01/2027;x;DR1;extra\r\n"
    )
    found = rows(text)
    assert [(line, values.get("APP_LID"), code) for line, values, code in found] == [
        (2, "A1", None),
        (4, "A2", None),
        (6, "A3", "INVALID_ROW"),
        (7, "A4", None),  # the field rules of the domain refuse it, as for SOAP
        (8, "A5", "INVALID_ROW"),
    ]
    assert found[1][1]["NOTES"] == "two\r\nlines"


def test_dates_are_turned_into_the_guides_format_or_refused() -> None:
    text = "APP_LID,APP_DATE,RESOURCE_LID\nA1,12/31/2027,DR1\nA2,31/12/2027,DR1\n"
    found = rows(text, "mm/dd/yyyy")
    assert found[0][1]["APP_DATE"] == "31/12/2027" and found[0][2] is None
    assert found[1][2] == "INVALID_DATE"


def test_the_result_and_cancellation_files_have_their_headers() -> None:
    out = io.StringIO()
    writer = ResultWriter(out, ";")
    writer.write(ResultLine(3, "A1", True, "CREATED", warnings=["USER_EMAIL is not valid"]))
    assert out.getvalue().splitlines() == [
        "LINE;APP_LID;RESULT;ACTION;ERROR_CODE;ERROR_FIELD;MESSAGE",
        "3;A1;OK;CREATED;;;USER_EMAIL is not valid",
    ]
    out = io.StringIO()
    CancellationWriter(out, "\t").write({"APP_LID": "A1", "STATUS": "CANCELLED by USER"})
    assert out.getvalue().splitlines()[0].split("\t") == list(CANCELLATION_COLUMNS)
    assert out.getvalue().splitlines()[1].split("\t")[:6] == [
        "A1",
        "",
        "",
        "",
        "",
        "CANCELLED by USER",
    ]
