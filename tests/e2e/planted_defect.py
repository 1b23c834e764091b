"""The real application with one defect planted on purpose, for gunicorn
(``tests.e2e.planted_defect:application``): a middleware rewrites one field of
updateReservations answers, the ACTION of a re-sent reservation, from UNCHANGED
to UPDATED, as a regression in idempotency would. Everything else (schema,
counts, status) stays right, so only the assertion on that very field can
catch it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tuotempo_soap.web.app import create_app

WRONG = (b"<tns:ACTION>UNCHANGED</tns:ACTION>", b"<tns:ACTION>UPDATED</tns:ACTION>")


class AlterOneField:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> None:
            captured["status"], captured["headers"] = status, headers

        answer = self.app(environ, capture)
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        if b"updateReservationsResponse" in body:
            body = body.replace(*WRONG)
        headers = [
            (name, str(len(body)) if name.lower() == "content-length" else value)
            for name, value in captured["headers"]
        ]
        start_response(captured["status"], headers)
        return [body]


application = AlterOneField(create_app())
