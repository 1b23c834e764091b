"""The campaign rules without a database: segments and cost, the filter
language, addresses and duplicates, languages, quiet hours and the schedule,
opt-out words."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from tuotempo_soap.domain.campaigns import (
    CampaignRuleError,
    CampaignText,
    FilterOp,
    QuietHours,
    bind_filters,
    check_texts,
    due_times,
    is_opt_out,
    parse_filters,
    pasted_rows,
    select_recipients,
    sms_cost,
)
from tuotempo_soap.domain.message import Channel, sms_size

MADRID = ZoneInfo("Europe/Madrid")

# --- segments --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("a" * 459, "GSM-7", 3),
        ("a" * 460, "GSM-7", 4),
        ("€" * 80, "GSM-7", 1),  # an extension character costs two septets
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€" + "a" * 6, "GSM-7", 1),  # 160 septets
        ("a" * 152 + "€" + "a" * 7, "GSM-7", 2),
        # 306 septets fit two parts of 153, but the escape pair after 152 cannot
        # be split: it opens part two, and the last septet needs a third.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
        ("Cita mañana 10:00 ñÑüÜ¿¡", "GSM-7", 1),
        ("ç", "UCS-2", 1),  # GSM-7 has only the capital Ç
        ("ć" * 70, "UCS-2", 1),
        ("ć" * 71, "UCS-2", 2),
        ("ć" * 134, "UCS-2", 2),
        ("ć" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # a surrogate pair is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
        # 66 units then a pair: the pair opens part two (67 units would split it).
        ("ć" * 66 + "😀" + "ć" * 66, "UCS-2", 3),
    ],
)
def test_segments(text: str, encoding: str, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)


def test_units_count_septets_and_utf16_units() -> None:
    assert sms_size("a€").units == 3
    assert sms_size("ć😀").units == 3


def test_cost_per_language_is_segments_times_recipients() -> None:
    texts = {
        "es": CampaignText("a" * 200),  # GSM-7, 2 segments
        "it": CampaignText("ć" * 10),  # UCS-2, 1 segment
    }
    costs = {c.language: c for c in sms_cost(Channel.SMS, texts, {"es": 30, "it": 7})}
    assert (costs["es"].encoding, costs["es"].segments_each, costs["es"].segments) == (
        "GSM-7",
        2,
        60,
    )
    assert (costs["it"].encoding, costs["it"].segments_each, costs["it"].segments) == (
        "UCS-2",
        1,
        7,
    )
    email = sms_cost(Channel.EMAIL, {"es": CampaignText("x", "s")}, {"es": 5})
    assert [(c.recipients, c.segments, c.encoding) for c in email] == [(5, 0, None)]


# --- filters ---------------------------------------------------------------------

HEADER = ["Name", "USER_MOBILE_PHONE", "Age", "Language", "RESOURCE_LID", "Last visit"]


def holds(filters: str, row: list[str], header: list[str] = HEADER) -> bool:
    return all(b.holds(row) for b in bind_filters(parse_filters(filters), header))


ROW = ["Ana", "612345678", "67", "es-ES", "DR1", "15/03/2024"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("language = es-es", True),  # case-blind text
        ("Language = it-IT", False),
        ("AGE >= 65", True),
        ("age > 67", False),
        ("age <= 67; age < 68", True),
        ("age = 67.0", True),  # numbers by value
        ("age between 18 and 65", False),
        ("age BETWEEN 60 AND 70", True),
        ("resource_lid in DR1, DR2", True),
        ("resource_lid in (DR3, 'DR4')", False),
        ("resource_lid not in DR3", True),
        ("resource_lid != DR1", False),
        ("resource_lid <> DR2", True),
        ('"Last visit" >= 01/01/2024', True),
        ('"last visit" between 2024-01-01 and 2024-03-14', False),
        ('"Last visit" = 2024-03-15', True),  # dates by value, in either spelling
        ("age >= 65\nlanguage = es-ES\n# a comment\n", True),
        ("", True),
    ],
)
def test_filter_conditions(filters: str, expected: bool) -> None:
    assert holds(filters, ROW) is expected


def test_a_cell_that_is_no_number_or_date_does_not_match_a_range() -> None:
    assert not holds("age >= 18", ["Ana", "6", "", "es", "DR1", ""])
    assert not holds("age >= 18", ["Ana", "6", "unknown", "es", "DR1", ""])
    assert not holds('"last visit" < 01/01/2030', ["Ana", "6", "1", "es", "DR1", "never"])
    # ... nor an equality (an empty cell differs from any value)
    assert holds("resource_lid != DR1", ["Ana", "6", "1", "es", "", ""])


def test_spreadsheet_date_times_and_comma_decimals_are_read() -> None:
    header = ["BIRTH", "SCORE"]
    assert holds("birth < 01/01/1960", ["1955-06-01 00:00:00", "3,5"], header)
    assert holds("score > 3.4", ["1955-06-01", "3,5"], header)


def test_the_parsed_form() -> None:
    (condition,) = parse_filters("RESOURCE_LID not in DR1, DR2")
    assert condition.column == "RESOURCE_LID"
    assert condition.op is FilterOp.NOT_IN
    assert [o.text for o in condition.operands] == ["DR1", "DR2"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ("age 65", "no operator"),
        ("= 65", "no column"),
        ("age >=", "no value"),
        ("age >= old", "'old' is neither a number nor a date"),
        ("age between 1", "between LOW and HIGH"),
        ("age between 1 and 01/01/2020", "not one of each"),
        ('"age"', "no operator after the column"),
    ],
)
def test_unreadable_conditions_say_which_and_why(filters: str, message: str) -> None:
    with pytest.raises(CampaignRuleError) as raised:
        parse_filters(filters)
    assert raised.value.field == "filters"
    assert message in raised.value.message


def test_an_unknown_column_lists_the_columns_the_file_has() -> None:
    with pytest.raises(CampaignRuleError) as raised:
        bind_filters(parse_filters("city = Madrid"), HEADER)
    assert "no column 'city'" in raised.value.message
    assert "USER_MOBILE_PHONE" in raised.value.message
    assert raised.value.field == "filters"


# --- selecting recipients --------------------------------------------------------


def select(rows: list[list[str]], header: list[str] = HEADER, **options: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {
        "channel": Channel.SMS,
        "region": "ES",
        "languages": {"es", "it"},
        "default_language": "es",
        **options,
    }
    numbered = [(line, row) for line, row in enumerate(rows, start=2)]
    return select_recipients(header, numbered, **settings)  # type: ignore[arg-type]


def test_every_spelling_of_one_number_is_one_recipient() -> None:
    rows = [
        ["A", "612 345 678", "30", "es", "DR1", ""],
        ["B", "+34 612345678", "30", "it", "DR1", ""],
        ["C", "0034612345678", "30", "es", "DR1", ""],
        ["D", "699000111", "30", "IT", "DR1", ""],
    ]
    selected = select(rows)
    assert selected.recipients == [("+34612345678", "es"), ("+34699000111", "it")]
    assert (selected.rows_read, selected.duplicates, selected.invalid) == (4, 2, 0)


def test_unusable_rows_are_counted_by_line_without_their_value() -> None:
    rows = [
        ["A", "912345678", "30", "es", "DR1", ""],  # a landline: no SMS
        ["B", "12", "30", "es", "DR1", ""],
        ["C", "", "30", "es", "DR1", ""],
        ["D", "612345678", "10", "es", "DR1", ""],
    ]
    selected = select(rows, filters=parse_filters("age >= 18"))
    assert selected.recipients == []
    assert (selected.invalid, selected.filtered_out) == (3, 1)
    assert selected.problems == [
        (2, "not a mobile number: SMS would not reach it"),
        (3, "not a phone number of ES or in +country form"),
        (4, "no address"),
    ]
    assert all("912" not in why for _, why in selected.problems)


def test_languages_without_a_text_get_the_default() -> None:
    rows = [["A", "612345678", "1", "fr", "X", ""], ["B", "612345679", "1", "", "X", ""]]
    assert [lang for _, lang in select(rows).recipients] == ["es", "es"]


def test_emails_are_lower_cased_and_compared_so() -> None:
    header = ["EMAIL"]
    rows = [["Ana@Example.ORG"], ["ana@example.org"], ["not-an-address"]]
    selected = select(rows, header, channel=Channel.EMAIL)
    assert selected.recipients == [("ana@example.org", "es")]
    assert (selected.duplicates, selected.invalid) == (1, 1)


def test_the_address_column_is_found_or_must_be_named() -> None:
    header = ["Nombre", "Número de contacto"]
    rows = [["Ana", "612345678"]]
    with pytest.raises(CampaignRuleError) as raised:
        select(rows, header)
    assert raised.value.field == "address_column"
    assert "Número de contacto" in raised.value.message
    named = select(rows, header, address_column="numero de CONTACTO")
    assert named.recipients == [("+34612345678", "es")]
    with pytest.raises(CampaignRuleError) as missing:
        select(rows, header, address_column="Mobile")
    assert "no column 'Mobile'" in missing.value.message


def test_pasted_addresses_split_on_lines_commas_and_semicolons_never_spaces() -> None:
    header, rows = pasted_rows("612 345 678\n+34 699 000 111, 611111111;\n\n 622222222\t")
    assert header == ["ADDRESS"]
    assert [cells[0] for _, cells in rows] == [
        "612 345 678",
        "+34 699 000 111",
        "611111111",
        "622222222",
    ]
    selected = select([cells for _, cells in rows], header)
    assert len(selected.recipients) == 4


# --- texts -----------------------------------------------------------------------


def test_texts_are_checked_per_language() -> None:
    texts, default = check_texts(
        Channel.SMS, {"ES": CampaignText(" Hola "), "it": CampaignText("")}, None
    )
    assert texts == {"es": CampaignText("Hola")} and default == "es"
    with pytest.raises(CampaignRuleError) as too_long:
        check_texts(Channel.SMS, {"es": CampaignText("ć" * 700)}, None)
    assert too_long.value.field == "texts.es" and "11 SMS segments" in too_long.value.message
    with pytest.raises(CampaignRuleError) as no_subject:
        check_texts(Channel.EMAIL, {"it": CampaignText("Ciao")}, None)
    assert no_subject.value.field == "subjects.it"
    with pytest.raises(CampaignRuleError) as no_default:
        check_texts(Channel.SMS, {"es": CampaignText("Hola")}, "it")
    assert no_default.value.field == "default_language"
    with pytest.raises(CampaignRuleError) as nothing:
        check_texts(Channel.SMS, {"es": CampaignText("  ")}, None)
    assert nothing.value.field == "texts"


# --- quiet hours and the schedule ------------------------------------------------


def utc(wall: str, zone: ZoneInfo = MADRID) -> datetime:
    """A wall-clock time of ``zone`` as naive UTC."""
    moment = datetime.fromisoformat(wall).replace(tzinfo=zone)
    return moment.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def wall(moment: datetime, zone: ZoneInfo = MADRID) -> str:
    shown = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    return shown.strftime("%Y-%m-%d %H:%M:%S")


def test_quiet_hours_are_read_and_refused_precisely() -> None:
    assert str(QuietHours.parse("21:00-9:00")) == "21:00-09:00"
    assert QuietHours.parse("none") is None and QuietHours.parse("") is None
    for bad, why in (("21:00", "hh:mm-hh:mm"), ("25:00-09:00", "not a"), ("9:00-9:00", "same")):
        with pytest.raises(CampaignRuleError) as raised:
            QuietHours.parse(bad)
        assert raised.value.field == "quiet_hours" and why in raised.value.message


def test_messages_are_spread_at_the_rate() -> None:
    start = utc("2027-03-10T10:00:00")
    times = list(islice(due_times(start, 60, None, MADRID), 5))
    assert [t - start for t in times] == [timedelta(seconds=s) for s in range(5)]
    # 7 a minute: 8.571428... s apart, without drift.
    seven = list(islice(due_times(start, 7, None, MADRID), 701))
    assert seven[700] - start == timedelta(minutes=100)
    assert all(
        timedelta(seconds=8.57) < b - a < timedelta(seconds=8.58) for a, b in pairwise(seven)
    )


def test_quiet_hours_hold_back_and_the_rate_resumes_after_them() -> None:
    quiet = QuietHours.parse("21:00-09:00")
    times = list(islice(due_times(utc("2027-03-10T20:58:30"), 60, quiet, MADRID), 100))
    walls = [wall(t) for t in times]
    assert walls[0] == "2027-03-10 20:58:30"
    assert walls[89] == "2027-03-10 20:59:59"
    assert walls[90] == "2027-03-11 09:00:00"
    assert walls[99] == "2027-03-11 09:00:09"
    assert not any(w[11:] >= "21:00:00" or w[11:] < "09:00:00" for w in walls)


def test_a_start_inside_quiet_hours_waits_for_their_end() -> None:
    quiet = QuietHours.parse("21:00-09:00")
    first = next(due_times(utc("2027-03-11T02:00:00"), 60, quiet, MADRID))
    assert wall(first) == "2027-03-11 09:00:00"
    siesta = QuietHours.parse("14:00-16:00")
    first = next(due_times(utc("2027-03-11T14:30:00"), 60, siesta, MADRID))
    assert wall(first) == "2027-03-11 16:00:00"


def test_quiet_hours_follow_the_wall_clock_across_a_dst_change() -> None:
    # Europe/Madrid moves to summer time on 28/03/2027 at 02:00.
    quiet = QuietHours.parse("21:00-09:00")
    first = next(due_times(utc("2027-03-27T22:00:00"), 60, quiet, MADRID))
    assert wall(first) == "2027-03-28 09:00:00"
    assert first == datetime(2027, 3, 28, 7, 0)  # UTC+2 by then


def test_the_rate_is_bounded() -> None:
    with pytest.raises(CampaignRuleError) as raised:
        next(due_times(datetime(2027, 1, 1), 0, None, MADRID))
    assert raised.value.field == "rate_per_minute"


# --- opting out ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", " Stop. ", "BAJA", "baja!", "Cancellami", "UNSUBSCRIBE", "Baixa", "sair"],
)
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text", ["", "no", "stop sending me this", "please stop", "ANULAR", "2", "STOP STOP", "bajar"]
)
def test_not_opt_out_words(text: str) -> None:
    assert not is_opt_out(text)
