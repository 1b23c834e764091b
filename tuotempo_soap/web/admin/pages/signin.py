"""Signing in and out, the list of instances an operator may open, and the style sheet."""

from __future__ import annotations

import logging

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....errors import AuthenticationError, ServerBusyError, TooManyAttemptsError
from ....services import operators
from ..app import AdminRequest
from ..routing import Access, pages
from ..sessions import Session, seconds

log = logging.getLogger(__name__)


@pages.page("/signin", methods=("GET", "POST"), access=Access.PUBLIC)
def signin(req: AdminRequest) -> Response:
    notice, req.session = req.session.notice, req.session.with_notice(None)
    if req.http.method == "GET":
        return req.render("signin.html", notice=notice, error=None, username="")
    username = (req.http.form.get("username") or "").strip()
    password = req.http.form.get("password") or ""
    try:
        operator = operators.authenticate(
            req.store,
            username,
            password,
            guard=req.app.guard,
            client_address=req.client_address,
        )
    except AuthenticationError:
        log.info("back office: sign-in refused from %s", req.client_address)
        error = req.t("signin.failed")
        return req.render("signin.html", status=401, notice=None, error=error, username=username)
    except TooManyAttemptsError as exc:
        error = req.t("signin.throttled", seconds=exc.retry_after)
        response = req.render(
            "signin.html", status=429, notice=None, error=error, username=username
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except ServerBusyError:
        error = req.t("signin.busy")
        response = req.render(
            "signin.html", status=503, notice=None, error=error, username=username
        )
        response.headers["Retry-After"] = "2"
        return response
    req.session = req.session.signed_in(operator.id, operator.session_key, seconds(req.now))
    log.info("back office: operator %d signed in", operator.id)
    return req.redirect("home")


@pages.page("/signout", methods=("POST",), access=Access.PUBLIC)
def signout(req: AdminRequest) -> Response:
    req.session = Session.new(seconds(req.now), notice="signed_out")
    return req.redirect("signin")


@pages.page("/", access=Access.OPERATOR)
def home(req: AdminRequest) -> Response:
    visible = operators.visible_instances(req.store, req.who)
    return req.render("home.html", instances=visible)


@pages.page("/static/<name>", access=Access.PUBLIC)
def static(req: AdminRequest, name: str) -> Response:
    data = req.app.static_file(name)
    if data is None or not name.endswith(".css"):
        raise NotFound()
    return Response(data, content_type="text/css; charset=utf-8")
