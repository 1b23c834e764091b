"""What every command module shares: the context object (``ctx.obj``) that
builds the settings and the store on first use, the top-level error handling,
and small option types and output helpers.

Nothing here reads the environment or opens the database until a command asks
for it, so ``--help`` works anywhere, even with broken settings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from .. import clock
from ..config import Settings, SettingsError
from ..domain.formats import FormatError, parse_date, parse_time
from ..domain.masking import mask_email, mask_name, mask_phone, mask_recipient
from ..errors import NotFoundError, StoreUnavailableError, TuotempoError
from ..services import search
from ..store.bootstrap import open_store
from ..store.engine import Store

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# Exit codes: 1 a refusal or a bad value (click's own usage errors are 2),
# 3 the database is unavailable, 4 a clinic's web services failed.
EXIT_REFUSED = 1
EXIT_DATABASE = 3
EXIT_CLINIC = 4


class CliContext:
    """The one settings object and store of a command, built when first used."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env(self._env)
            except SettingsError as exc:
                raise click.ClickException(f"bad setting: {exc}") from None
            clock.configure(self._settings.clock_file)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


pass_cli = click.make_pass_decorator(CliContext, ensure=True)

# What to do next, by the field a "not found" error names.
_NEXT_STEP = {
    "instance": "see `tuotempo-soap instance list`, or create it with "
    "`tuotempo-soap instance create NAME`",
    "username": "see `tuotempo-soap user list INSTANCE`",
    "center": "see `tuotempo-soap portal centers PORTAL`",
    "LEGACY_ID": "find it with `tuotempo-soap messages search --instance NAME`",
}


def explain(error: TuotempoError) -> str:
    """The error's message, and for a missing thing where to look next."""
    step = _NEXT_STEP.get(error.field or "") if isinstance(error, NotFoundError) else None
    if step and "tuotempo-soap" not in error.message:
        return f"{error.message}; {step}"
    return error.message


class Group(click.Group):
    """Turns our errors into one clear line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreUnavailableError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(EXIT_DATABASE)
        except TuotempoError as exc:
            click.echo(f"error: {explain(exc)}", err=True)
            sys.exit(EXIT_REFUSED)


def read_password(from_stdin: bool, confirm: bool = True) -> str:
    """From standard input (one line) or a hidden prompt; never an argument
    (arguments end up in shell history and process listings)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


class GuideDate(click.ParamType):
    """A day as the guide writes it: dd/mm/yyyy (ISO yyyy-mm-dd too)."""

    name = "dd/mm/yyyy"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_date(str(value))
        except FormatError as exc:
            self.fail(str(exc), param, ctx)


class GuideTime(click.ParamType):
    """A time of day: hh:mm."""

    name = "hh:mm"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> time:
        if isinstance(value, time):
            return value
        try:
            return parse_time(str(value))
        except FormatError as exc:
            self.fail(str(exc), param, ctx)


GUIDE_DATE = GuideDate()
GUIDE_TIME = GuideTime()


# --- output ------------------------------------------------------------------


class Shown:
    """Patient data as a command prints it: masked unless ``--unmasked``."""

    def __init__(self, unmasked: bool) -> None:
        self.unmasked = unmasked

    def phone(self, value: str | None) -> str | None:
        return value if value is None or self.unmasked else mask_phone(value)

    def email(self, value: str | None) -> str | None:
        return value if value is None or self.unmasked else mask_email(value)

    def name(self, value: str | None) -> str | None:
        return value if value is None or self.unmasked else mask_name(value)

    def recipient(self, value: str | None) -> str | None:
        return value if value is None or self.unmasked else mask_recipient(value)


def unmasked_option(function: F) -> F:
    return click.option(
        "--unmasked",
        is_flag=True,
        help="Show patients' phone numbers, e-mail addresses and names in full.",
    )(function)


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")(
        function
    )


def page_options(function: F) -> F:
    """A search's ``--limit`` and ``--before`` (the keyset cursor of the next page)."""
    function = click.option(
        "--before", "before_id", type=click.IntRange(min=1), help="Next page: the id given."
    )(function)
    return click.option(
        "--limit",
        default=search.DEFAULT_LIMIT,
        show_default=True,
        type=click.IntRange(1, search.MAX_LIMIT),
    )(function)


def echo_page(
    instance_name: str,
    page: search.Page[T],
    noun: str,
    *,
    as_json: bool,
    item_json: Callable[[T], dict[str, Any]],
    item_cells: Callable[[T], Iterable[object]],
) -> None:
    """A search's page: one JSON document, or one tab-separated line per item and,
    on standard error, "no NOUN match" or how to ask for the next page."""
    if as_json:
        items = [item_json(item) for item in page.items]
        echo_json({"instance": instance_name, "items": items, "next_before": page.next_before})
        return
    for item in page.items:
        click.echo("\t".join(cell(value) for value in item_cells(item)))
    if not page.items:
        click.echo(f"no {noun} match", err=True)
    elif page.next_before is not None:
        click.echo(f"more: repeat with --before {page.next_before}", err=True)


def local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A stored (naive UTC) moment in the instance's time zone."""
    return moment.replace(tzinfo=UTC).astimezone(zone) if moment is not None else None


def stamp(moment: datetime | None, zone: ZoneInfo) -> str:
    shown = local(moment, zone)
    return f"{shown:%d/%m/%Y %H:%M}" if shown is not None else "-"


def echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def cell(value: object) -> str:
    """A tab-separated column: never empty, never a tab or a line break inside."""
    text = "-" if value is None or value == "" else str(value)
    return " ".join(text.split())
