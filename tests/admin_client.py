"""A browser-like client of the back office for HTTP-level tests: the real WSGI
application in-process (werkzeug's test client keeps the cookies), plus the
steps every test repeats: create an operator, sign in, post a form with the
page's CSRF token."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from werkzeug.test import Client, TestResponse

from tuotempo_soap.services import operators
from tuotempo_soap.store.engine import Store
from tuotempo_soap.web.app import TuotempoApp

PASSWORD = "operator-password-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def new_operator(
    store: Store, instances: Sequence[str] = (), *, all_instances: bool = False
) -> str:
    """A new operator (a unique name: tests share the PostgreSQL database)."""
    name = f"op_{secrets.token_hex(4)}"
    operators.add_operator(store, name, PASSWORD, instances=instances, all_instances=all_instances)
    return name


@dataclass
class AdminClient:
    app: TuotempoApp
    base_url: str = "http://localhost"

    def __post_init__(self) -> None:
        self.http = Client(self.app)
        self.csrf: str | None = None

    def _remember(self, response: TestResponse) -> TestResponse:
        found = _CSRF.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kwargs: object) -> TestResponse:
        return self._remember(self.http.get(path, base_url=self.base_url, **kwargs))  # type: ignore[arg-type]

    def post(
        self, path: str, data: Mapping[str, str] | None = None, *, csrf: bool = True
    ) -> TestResponse:
        """POST a form; with the CSRF token of the last page seen unless ``csrf=False``."""
        form = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/admin/signin")
            form.setdefault("csrf_token", self.csrf or "")
        return self._remember(self.http.post(path, data=form, base_url=self.base_url))

    def signin(self, username: str, password: str = PASSWORD) -> TestResponse:
        """Sign in; the answer is the sign-in POST's (303 when it worked). Signing in
        gives the session a new CSRF token: the next page is read to learn it."""
        self.get("/admin/signin")
        answer = self.post("/admin/signin", {"username": username, "password": password})
        if answer.status_code == 303:
            self.get(answer.headers["Location"])
        return answer

    def cookie(self) -> str | None:
        found = self.http.get_cookie("tuotempo_admin", domain="localhost", path="/admin")
        return found.value if found is not None else None
