"""Running the checks against one clinic: behaviour checks in order, the
clean-up of whatever they booked (always, even when interrupted), then the
answer checks over everything received."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import requests

from ..transport import new_session
from .answers import answer_checks
from .checks import CHECKS
from .context import Context
from .contract import OPERATIONS
from .exchange import Clock
from .model import (
    Check,
    CheckConfig,
    Kind,
    NotApplicableError,
    Report,
    Result,
    RuleBrokenError,
    Status,
)
from .session import ClinicSession

log = logging.getLogger(__name__)


def all_checks(config: CheckConfig) -> list[Check]:
    return [*CHECKS, *answer_checks(config.limits)]


def run_checks(
    config: CheckConfig,
    *,
    checks: Sequence[Check] | None = None,
    clock: Clock | None = None,
    session_factory: Callable[[], requests.Session] = new_session,
) -> Report:
    """Run ``checks`` (every check by default) and return the report; the clinic's
    failures are in the report, never raised."""
    chosen = list(checks) if checks is not None else all_checks(config)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    session = ClinicSession(
        config.address,
        http_timeout=config.http_timeout,
        username=config.username,
        password=config.password,
        center_lid=config.center_lid,
        skip=config.skip,
        clock=clock,
        session_factory=session_factory,
    )
    ctx = Context(config, session)
    results: list[Result] = []
    try:
        try:
            for check in chosen:
                if check.kind is Kind.BEHAVIOUR:
                    results.append(run_one(ctx, check))
        finally:
            leftovers = clean_up(ctx)
        for check in chosen:
            if check.kind is Kind.ANSWERS:
                results.append(run_one(ctx, check))
    finally:
        session.close()
    order = {name: index for index, name in enumerate(("WSDL", *OPERATIONS))}
    results.sort(key=lambda result: order.get(result.check.operation, len(order)))
    return Report(
        address=config.address,
        results=results,
        allow_writes=config.allow_writes,
        started_at=started_at,
        seconds=time.monotonic() - started,
        leftovers=leftovers,
    )


def run_one(ctx: Context, check: Check) -> Result:
    if check.operation in ctx.config.skip:
        return Result(check, Status.NOT_APPLICABLE, f"skipped (--skip {check.operation})")
    if check.writes and not ctx.config.allow_writes:
        return Result(check, Status.NOT_APPLICABLE, "writes are off (run with --allow-writes)")
    ctx.touched = []
    try:
        note = check.run(ctx)
    except RuleBrokenError as exc:
        return Result(
            check,
            Status.FAILED,
            exc.message,
            exchanges=list(ctx.touched),
            culprits=exc.exchanges,
        )
    except NotApplicableError as exc:
        return Result(check, Status.NOT_APPLICABLE, exc.reason, exchanges=list(ctx.touched))
    return Result(check, Status.PASSED, note or "", exchanges=list(ctx.touched))


def clean_up(ctx: Context) -> list[str]:
    """Undo every booking still standing; the APP_LIDs that could not be undone."""
    left: list[str] = []
    for booking in ctx.bookings:
        if not booking.ok or booking.undone:
            continue
        with contextlib.suppress(NotApplicableError):
            ctx.undo(booking, "clean up a booking")
        if not booking.undone:
            log.warning("conformance check could not undo booking %s", booking.app_lid)
            left.append(str(booking.app_lid))
    return left
