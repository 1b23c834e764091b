"""Reading the back office's search forms: trimmed terms, dates in either
spelling, the keyset cursor of the next page; and a search page around them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from werkzeug.wrappers import Response

from ...domain.formats import FormatError, parse_date
from ...errors import RequestValidationError
from ...services.search import Page
from .app import AdminRequest

PAGE_SIZE = 50


def terms(req: AdminRequest, names: Iterable[str]) -> dict[str, str]:
    """The search terms of the form posted (trimmed; empty ones dropped); none on a GET."""
    if req.http.method != "POST":
        return {}
    form = req.http.form
    return {name: value for name in names if (value := (form.get(name) or "").strip())}


def day(req: AdminRequest, given: dict[str, str], name: str, label: str) -> date | None:
    """A date term: ``<input type="date">`` sends yyyy-mm-dd; a typed dd/mm/yyyy is fine too."""
    text = given.get(name, "")
    if not text:
        return None
    try:
        return parse_date(text)
    except FormatError as exc:
        raise RequestValidationError(str(exc), field=req.t(label)) from None


def before(req: AdminRequest) -> tuple[int | None, bool]:
    """The id the page starts below (the previous page's last), and whether one was given."""
    text = (req.http.form.get("before") or "").strip() if req.http.method == "POST" else ""
    if not text:
        return None, False
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise RequestValidationError("not a page of these results", field="before")
    return int(text), True


def search_page(
    req: AdminRequest,
    template: str,
    names: Iterable[str],
    find: Callable[[dict[str, str], int | None], Page[Any]],
    **context: Any,
) -> Response:
    """A search page: ``find`` is given the form's terms and the page's cursor and
    answers the rows; a bad term answers 400 with the form and the field named."""
    given = terms(req, names)
    error = None
    found: Page[Any] = Page([], None)
    paged = False
    try:
        before_id, paged = before(req)
        found = find(given, before_id)
    except RequestValidationError as exc:
        error = req.t("field.error", field=exc.field or "", message=exc.message)
    return req.render(
        template,
        status=400 if error else 200,
        terms=given,
        rows=found.items,
        next_before=found.next_before,
        paged=paged,
        error=error,
        **context,
    )
