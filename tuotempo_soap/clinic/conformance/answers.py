"""The answer checks: after the behaviour checks, every answer the run received
is judged per operation against the contract's schema, the guide's NOT NULL
fields, the date and time formats, the result codes, the fault type and the
platform's timeouts. They make no calls of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lxml import etree

from ..errors import redact
from .context import Context
from .contract import (
    CODES,
    DATE_FIELDS,
    MINUTES_FIELDS,
    NOT_NULL,
    OPERATIONS,
    RECORDS,
    TIME_FIELDS,
    TIME_SPANS,
    TNS,
    WRITE_OPERATIONS,
    Limit,
    coded_fields,
    contract_date,
    contract_time,
    formatted_fields,
    response_element,
    schema,
)
from .exchange import Exchange, Row
from .model import Check, Kind, NotApplicableError, RuleBrokenError, counted

# A failure names at most this many problems; the rest are counted.
_SHOWN = 3


def _calls(ctx: Context, operation: str) -> list[Exchange]:
    found = [e for e in ctx.session.exchanges if e.operation == operation]
    ctx.touch(found)
    if not found:
        if operation in ctx.config.skip:
            raise NotApplicableError(f"{operation} is skipped (--skip {operation})")
        if operation in WRITE_OPERATIONS and not ctx.config.allow_writes:
            raise NotApplicableError("writes are off (run with --allow-writes)")
        raise NotApplicableError(f"no call to {operation} was made (see the checks above)")
    return found


def _answered(ctx: Context, operation: str) -> list[Exchange]:
    found = [e for e in _calls(ctx, operation) if e.answered]
    if not found:
        raise NotApplicableError(f"no call to {operation} was answered")
    return found


def _fail(problems: list[tuple[Exchange, str]]) -> None:
    if not problems:
        return
    parts: list[str] = []
    previous: Exchange | None = None
    for exchange, text in problems[:_SHOWN]:
        # Problems of one answer share its purpose: say it once.
        parts.append(text if exchange is previous else f"{exchange.purpose}: {text}")
        previous = exchange
    shown = "; ".join(parts)
    more = len(problems) - _SHOWN
    culprits: list[Exchange] = []
    for exchange, _ in problems:
        if not any(seen is exchange for seen in culprits):
            culprits.append(exchange)
    raise RuleBrokenError(shown + (f" (and {more} more)" if more > 0 else ""), *culprits)


def _rows(exchange: Exchange, operation: str) -> Iterator[tuple[str, int, int, Row]]:
    """(record name, position from 1, count, row) of every record the answer holds."""
    for name in RECORDS[operation]:
        rows = exchange.records(name)
        for index, row in enumerate(rows, start=1):
            yield name, index, len(rows), row


def _answered_rows(ctx: Context, operation: str) -> Iterator[tuple[Exchange, str, int, int, Row]]:
    """(answer, record name, position from 1, count, row) of every record of the
    operation's answers that are not faults."""
    for exchange in _answered(ctx, operation):
        if exchange.ok:
            for name, index, count, row in _rows(exchange, operation):
                yield exchange, name, index, count, row


def _where(name: str, index: int, count: int) -> str:
    return name if count == 1 else f"{name} {index} of {count}"


_VALUE = re.compile(r"[Tt]he value '[^']*'")


def _schema_message(error: etree._LogEntry) -> str:
    # lxml quotes the offending value; a value may be a patient's, so it goes.
    text = _VALUE.sub("the value", str(error.message)).replace(f"{{{TNS}}}", "tns:")
    return redact(text)


def _validate(element: etree._Element) -> list[str]:
    """The schema's complaints about ``element``, each once (with how often)."""
    xsd = schema()
    copy = etree.fromstring(etree.tostring(element))
    if xsd.validate(copy):
        return []
    counted: dict[str, int] = {}
    for error in xsd.error_log:
        text = _schema_message(error)
        counted[text] = counted.get(text, 0) + 1
    return [text if n == 1 else f"{text} ({n} times)" for text, n in counted.items()]


# -- per-operation rules -----------------------------------------------------------


def schema_check(operation: str) -> Callable[[Context], str | None]:
    def run(ctx: Context) -> str | None:
        problems: list[tuple[Exchange, str]] = []
        answers = _answered(ctx, operation)
        for exchange in answers:
            if exchange.unreadable:
                problems.append((exchange, exchange.unreadable))
            elif exchange.fault is not None:
                if exchange.status != 500:
                    problems.append((exchange, f"a fault with HTTP {exchange.status}, not 500"))
                if exchange.fault.clinic_fault is not None:
                    for text in _validate(exchange.fault.clinic_fault):
                        problems.append((exchange, f"ClinicFault: {text}"))
            elif exchange.body is not None:
                if exchange.status != 200:
                    problems.append((exchange, f"an answer with HTTP {exchange.status}, not 200"))
                expected = response_element(operation)
                if exchange.body.tag != expected:
                    problems.append(
                        (
                            exchange,
                            f"the Body holds {_short(exchange.body.tag)}, not {operation}Response",
                        )
                    )
                else:
                    problems.extend((exchange, text) for text in _validate(exchange.body))
        _fail(problems)
        return f"{counted(len(answers), 'answer')} valid"

    return run


def _short(tag: object) -> str:
    return str(tag).replace(f"{{{TNS}}}", "tns:")


def not_null_check(operation: str) -> Callable[[Context], str | None]:
    def run(ctx: Context) -> str | None:
        problems: list[tuple[Exchange, str]] = []
        seen = 0
        for exchange, name, index, count, row in _answered_rows(ctx, operation):
            seen += 1
            for field in NOT_NULL.get(name, ()):
                if field not in row:
                    problems.append((exchange, f"{_where(name, index, count)}: {field} is missing"))
                elif not row[field]:
                    problems.append((exchange, f"{_where(name, index, count)}: {field} is empty"))
        if not seen:
            records = " or ".join(RECORDS[operation])
            raise NotApplicableError(f"no {records} in any answer to look at")
        _fail(problems)
        return f"{counted(seen, 'record')} complete"

    return run


def formats_check(operation: str) -> Callable[[Context], str | None]:
    fields = formatted_fields(operation)

    def run(ctx: Context) -> str | None:
        problems: list[tuple[Exchange, str]] = []
        seen = 0
        for exchange, name, index, count, row in _answered_rows(ctx, operation):
            where = _where(name, index, count)
            for field in sorted(fields & row.keys()):
                value = row[field]
                if not value:
                    continue  # NOT NULL's business
                seen += 1
                shown = value[:20]
                if field in DATE_FIELDS and contract_date(value) is None:
                    problems.append((exchange, f"{where}: {field} '{shown}' is not dd/mm/yyyy"))
                elif field in TIME_FIELDS and contract_time(value) is None:
                    problems.append((exchange, f"{where}: {field} '{shown}' is not hh:mm"))
                elif field in MINUTES_FIELDS and not value.isdigit():
                    problems.append(
                        (
                            exchange,
                            f"{where}: {field} '{shown}' is not a whole number of minutes",
                        )
                    )
            for start, end in TIME_SPANS:
                first, last = row.get(start, ""), row.get(end, "")
                if contract_time(first) and contract_time(last) and last <= first:
                    problems.append(
                        (exchange, f"{where}: {end} {last} is not after {start} {first}")
                    )
        if not seen:
            raise NotApplicableError("no date or time in any answer to look at")
        _fail(problems)
        return f"{counted(seen, 'value')} well formed"

    return run


def codes_check(operation: str) -> Callable[[Context], str | None]:
    keys = coded_fields(operation)

    def run(ctx: Context) -> str | None:
        problems: list[tuple[Exchange, str]] = []
        seen = 0
        for exchange, name, index, count, row in _answered_rows(ctx, operation):
            for record, field in keys:
                if record != name or not row.get(field):
                    continue
                seen += 1
                allowed = CODES[(record, field)]
                if row[field].upper() not in {value.upper() for value in allowed}:
                    problems.append(
                        (
                            exchange,
                            f"{_where(name, index, count)}: {field}='{row[field][:20]}', "
                            f"not {' or '.join(allowed)}",
                        )
                    )
        if not seen:
            raise NotApplicableError("no result code or status in any answer to look at")
        _fail(problems)
        return f"{counted(seen, 'code')} known"

    return run


def faults_check(operation: str) -> Callable[[Context], str | None]:
    def run(ctx: Context) -> str | None:
        faults = [e for e in _answered(ctx, operation) if e.fault is not None]
        if not faults:
            raise NotApplicableError(f"no call to {operation} was answered with a fault")
        problems: list[tuple[Exchange, str]] = []
        for exchange in faults:
            fault = exchange.fault
            if fault is None:
                continue
            head = fault.code.split(".", 1)[0]
            if head not in ("Client", "Server"):
                problems.append(
                    (
                        exchange,
                        f"faultcode {fault.code or '(empty)'} is neither Client.* nor Server.*",
                    )
                )
            typed = fault.clinic_fault
            if typed is None:
                inside = _short(fault.detail.tag) if fault.detail is not None else "no detail"
                problems.append((exchange, f"a fault with {inside}, not a ClinicFault detail"))
                continue
            values = {
                child.tag.rsplit("}", 1)[-1]: (child.text or "").strip()
                for child in typed
                if isinstance(child.tag, str)
            }
            for field in ("CODE", "MESSAGE"):
                if not values.get(field):
                    problems.append((exchange, f"ClinicFault without {field}"))
        _fail(problems)
        return f"{counted(len(faults), 'fault')} typed"

    return run


def latency_check(operation: str) -> Callable[[Context], str | None]:
    def run(ctx: Context) -> str | None:
        limit = ctx.config.limits[operation]
        timed = [e for e in _calls(ctx, operation) if e.seconds is not None]
        problems: list[tuple[Exchange, str]] = []
        for exchange in timed:
            if (
                not exchange.answered
                and exchange.transport_error
                and "no answer within" in exchange.transport_error
            ):
                problems.append((exchange, exchange.transport_error))
            elif exchange.answered and (exchange.seconds or 0.0) > limit.seconds:
                problems.append((exchange, f"answered in {exchange.seconds:.2f} s"))
        answered = [e.seconds for e in timed if e.answered and e.seconds is not None]
        if not problems and not answered:
            raise NotApplicableError(f"no call to {operation} was answered")
        if problems:
            problems[0] = (
                problems[0][0],
                f"{problems[0][1]}; the limit is {limit.seconds:g} s ({limit.who})",
            )
        _fail(problems)
        return (
            f"slowest of {counted(len(answered), 'answer')}: {max(answered):.2f} s "
            f"(limit {limit.seconds:g} s)"
        )

    return run


def cleanup_check(ctx: Context) -> str | None:
    if not ctx.config.allow_writes:
        raise NotApplicableError("writes are off (run with --allow-writes)")
    made = [booking for booking in ctx.bookings if booking.ok]
    for booking in ctx.bookings:
        ctx.touch([booking.exchange, *booking.undo_exchanges])
    if not made:
        raise NotApplicableError("nothing was booked")
    left = [booking for booking in made if not booking.undone]
    if left:
        raise RuleBrokenError(
            "still booked: " + ", ".join(str(booking.app_lid) for booking in left),
            *(booking.undo_exchanges[-1] for booking in left if booking.undo_exchanges),
        )
    return f"{counted(len(made), 'booking')} undone"


ANSWER_RULES: tuple[tuple[str, str, Callable[[str], Callable[[Context], str | None]]], ...] = (
    (
        "schema",
        "Every answer is a SOAP 1.1 envelope (HTTP 200, or 500 for a fault) whose body is "
        "{operation}Response or a Fault, valid against the schema of wsdl/clinic.wsdl.",
        schema_check,
    ),
    (
        "not-null",
        "Every NOT NULL field of the guide is present and not empty in every record "
        "({records}): {fields}.",
        not_null_check,
    ),
    (
        "formats",
        "Dates are dd/mm/yyyy and times hh:mm, as the contract says, an end time comes after "
        "its start, and durations are whole minutes ({fields}).",
        formats_check,
    ),
    (
        "codes",
        "Result codes and statuses take only the contract's values ({fields}).",
        codes_check,
    ),
    (
        "faults",
        "Every fault has a faultcode Client.* or Server.* (the platform retries Server faults "
        "only) and the contract's ClinicFault detail with a CODE and a MESSAGE.",
        faults_check,
    ),
    (
        "latency",
        "Every call is answered within {limit:g} s, {who}.",
        latency_check,
    ),
)


def answer_checks(limits: dict[str, Limit]) -> list[Check]:
    """The answer checks of every operation, in the contract's order; the latency
    rules name ``limits``."""
    checks: list[Check] = []
    for operation in OPERATIONS:
        records = RECORDS[operation]
        not_null = sorted({field for record in records for field in NOT_NULL.get(record, ())})
        formatted = sorted(formatted_fields(operation))
        coded = [
            f"{field} {'/'.join(CODES[(record, field)])}"
            for record, field in coded_fields(operation)
        ]
        for kind, rule, make in ANSWER_RULES:
            if kind == "formats" and not formatted:
                continue
            if kind == "codes" and not coded:
                continue
            limit = limits[operation]
            text = rule.format(
                operation=operation,
                records=", ".join(records),
                fields=", ".join(
                    not_null if kind == "not-null" else formatted if kind == "formats" else coded
                ),
                limit=limit.seconds,
                who=limit.who,
            )
            checks.append(
                Check(
                    name=f"{operation}.{kind}",
                    operation=operation,
                    rule=text,
                    run=make(operation),
                    kind=Kind.ANSWERS,
                )
            )
    checks.append(
        Check(
            name="cleanup",
            operation="deleteAppointment",
            rule="Every appointment the checker booked is deleted (or cancelled) again by the "
            "end of the run.",
            run=cleanup_check,
            writes=True,
            kind=Kind.ANSWERS,
        )
    )
    return checks
