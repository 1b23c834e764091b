"""The back office's WSGI application: routing, sessions, the CSRF check, the
access check, security headers and error pages, around the registered views.

Every request goes through ``AdminApp.handle``:

1. the session is read from its signed cookie (a new anonymous one if absent
   or not ours); an expired signed-in session is ended;
2. the URL is matched against the registry (``routing.pages``);
3. a POST without the session's CSRF token is refused (403), before anything else;
4. the page's ``Access`` is checked: not signed in -> sign-in page; an instance
   the operator may not see (or that does not exist) -> 404;
5. the view runs and returns a response;
6. the session cookie is written back, and the security headers are added to
   whatever goes out (pages, redirects, errors, the style sheet).
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter, RequestRedirect
from werkzeug.wrappers import Request, Response

from ... import clock
from ...config import Settings
from ...domain.masking import mask_email, mask_name, mask_phone, mask_recipient
from ...errors import NotFoundError, StoreUnavailableError
from ...services import audit
from ...services.audit import Actor, AuditEntry
from ...services.auth_guard import AuthGuard
from ...services.instances import Instance, get_instance
from ...services.operators import Operator, operator_by_id
from ...store.engine import Store
from . import pages as page_modules
from .routing import NAV, Access, Registry, pages
from .sessions import COOKIE, Session, SessionCodec, admin_secret, seconds
from .texts import LANGUAGES, Texts, texts_for

log = logging.getLogger(__name__)

PREFIX = "/admin"
CSRF_FIELD = "csrf_token"
# Forms of the back office are a few fields; anything bigger is not one of ours.
MAX_FORM_BYTES = 64 * 1024

# On every response of the back office. No script may run (there is none: the
# pages work without JavaScript), styles come from our own sheet only, forms
# post only to us, and no other site may frame a page (clickjacking).
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("X-Robots-Tag", "noindex, nofollow"),
)


class CsrfError(Exception):
    """A POST without the session's CSRF token."""


@dataclass
class AdminRequest:
    """What a view gets: the HTTP request, who is asking, and the helpers to answer.

    ``instance`` is set on pages of one instance (already checked: the
    operator may see it). ``session`` may be replaced by a view (sign-in,
    sign-out); the application writes it back to the cookie.
    """

    app: AdminApp
    http: Request
    urls: MapAdapter
    session: Session
    now: datetime
    operator: Operator | None = None
    instance: Instance | None = None
    endpoint: str | None = None
    texts: Texts = field(default_factory=lambda: texts_for("en"))

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def who(self) -> Operator:
        """The signed-in operator (on pages whose access is not PUBLIC)."""
        if self.operator is None:
            raise RuntimeError("no operator is signed in")
        return self.operator

    @property
    def actor(self) -> Actor:
        """The operator as the audit log and the operator actions know it."""
        who = self.who
        return Actor.of(who.id, who.username, None if who.all_instances else who.instance_ids)

    @property
    def client_address(self) -> str | None:
        return self.http.remote_addr

    def t(self, key: str, **values: object) -> str:
        return self.texts(key, **values)

    def url(self, endpoint: str, **values: Any) -> str:
        """The path of a page; ``instance`` defaults to the one being viewed."""
        page = self.app.registry.pages.get(endpoint)
        if page is not None and page.needs_instance and "instance" not in values:
            if self.instance is None:
                raise ValueError(f"{endpoint} needs an instance")
            values["instance"] = self.instance.name
        if isinstance(values.get("instance"), Instance):
            values["instance"] = values["instance"].name
        return str(self.urls.build(endpoint, values))

    def has_page(self, endpoint: str) -> bool:
        return endpoint in self.app.registry.pages

    def csrf_field(self) -> Markup:
        """The hidden field every POST form carries (``{{ csrf_field() }}``)."""
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, self.session.csrf
        )

    def local(self, moment: datetime | None, with_seconds: bool = False) -> str:
        """A stored (naive UTC) time as the instance's wall time, dd/mm/yyyy hh:mm."""
        if moment is None:
            return ""
        zone = self.instance.zone if self.instance is not None else UTC
        shown = moment.replace(tzinfo=UTC).astimezone(zone)
        return shown.strftime("%d/%m/%Y %H:%M:%S" if with_seconds else "%d/%m/%Y %H:%M")

    def nav(self) -> list[tuple[str, str, bool]]:
        """(label, path, current) of each navigation entry this request can show."""
        items = []
        for item in NAV:
            page = self.app.registry.pages.get(item.endpoint)
            if page is None or (page.needs_instance and self.instance is None):
                continue
            current = item.endpoint == self.endpoint
            items.append((self.t(item.label), self.url(item.endpoint), current))
        return items

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        """A page from ``templates/``; the layout finds ``req`` (this request),
        ``t``, ``url``, ``csrf_field`` and ``local`` in every template."""
        page = self.app.templates.get_template(template).render(
            req=self,
            t=self.t,
            url=self.url,
            csrf_field=self.csrf_field,
            local=self.local,
            **context,
        )
        return Response(page, status=status, content_type="text/html; charset=utf-8")

    def message_audit(self, message_id: int) -> list[AuditEntry]:
        """What operators did to one message of this instance, newest first
        (the message page's actions include it)."""
        if self.instance is None:
            return []
        return audit.for_message(self.store, self.actor, self.instance.id, message_id)

    def flash(self, word: str) -> None:
        """Show ``notice.<word>`` once, on the next page this browser opens (after
        the redirect of a POST); ``refused.*`` words are shown as errors."""
        self.session = self.session.with_notice(word)

    def take_flash(self) -> str | None:
        """The notice left for this page by the last action, shown once."""
        word, self.session = self.session.notice, self.session.with_notice(None)
        return word

    def redirect(self, endpoint: str, **values: Any) -> Response:
        """303 See Other to a page (after a POST, the browser GETs it)."""
        return Response(status=303, headers={"Location": self.url(endpoint, **values)})

    def not_found(self) -> NotFound:
        return NotFound()


class AdminApp:
    """The back office under ``/admin``: a WSGI application of its own."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        guard: AuthGuard,
        *,
        registry: Registry | None = None,
        route: Callable[[str, str], str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.guard = guard
        # Which provider a message of (instance name, channel) goes through
        # (DispatchConfig.provider_name_for), for the outbox page.
        self.route = route
        if registry is None:
            page_modules.load()
            registry = pages
        self.registry = registry
        self.url_map = registry.url_map(PREFIX)
        self.sessions = SessionCodec(
            admin_secret(settings),
            idle_seconds=settings.admin_session_idle_seconds,
            max_seconds=settings.admin_session_max_seconds,
        )
        self.templates = Environment(
            loader=PackageLoader("tuotempo_soap.web.admin", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(
            mask_phone=_masked(mask_phone),
            mask_email=_masked(mask_email),
            mask_name=_masked(mask_name),
            mask_recipient=_masked(mask_recipient),
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_FORM_BYTES
        request.max_form_memory_size = MAX_FORM_BYTES
        response = self.handle(request)
        return response(environ, start_response)

    # --- the request's way through ------------------------------------------

    def handle(self, request: Request) -> Response:
        now = clock.utcnow()
        session = self.sessions.loads(request.cookies.get(COOKIE)) or Session.new(seconds(now))
        req = AdminRequest(
            app=self,
            http=request,
            urls=self.url_map.bind_to_environ(request.environ),
            session=session,
            now=now,
            texts=texts_for(_browser_language(request)),
        )
        try:
            response = self._dispatch(req)
        except CsrfError:
            response = self._error(req, 403)
        except RequestRedirect as redirect:  # a missing or extra trailing slash
            response = Response(status=308, headers={"Location": _local(redirect.new_url)})
        except NotFound:
            response = self._error(req, 404)
        except MethodNotAllowed as exc:
            response = self._error(req, 405)
            response.headers["Allow"] = ", ".join(exc.valid_methods or ())
        except HTTPException as exc:
            response = self._error(req, exc.code or 400)
        except NotFoundError:
            response = self._error(req, 404)
        except StoreUnavailableError:
            log.warning("back office: database unavailable")
            response = self._error(req, 503)
        except Exception as exc:
            reference = uuid.uuid4().hex[:12]
            log.error(
                "unexpected %s in the back office (reference %s)\n%s",
                type(exc).__name__,
                reference,
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            response = self._error(req, 500, reference=reference)
        if req.endpoint != "static":
            # Every page answer renews the cookie: its idle clock restarts.
            self._save_session(req, response)
        for name, value in SECURITY_HEADERS:
            response.headers[name] = value
        return response

    def _dispatch(self, req: AdminRequest) -> Response:
        endpoint, matched = req.urls.match()
        values = dict(matched)
        page = self.registry.pages[endpoint]
        req.endpoint = endpoint
        if page.max_bytes is not None:  # an upload page: before the form is read
            req.http.max_content_length = page.max_bytes
            req.http.max_form_memory_size = page.max_bytes
        if req.http.method == "POST" and not req.session.csrf_ok(req.http.form.get(CSRF_FIELD)):
            log.info("back office: POST to %s refused without its CSRF token", endpoint)
            raise CsrfError
        if page.access is not Access.PUBLIC:
            signed_in = self._signed_in(req)
            if signed_in is not None:
                return signed_in
        if page.access is Access.INSTANCE:
            values["instance"] = self._instance(req, str(values["instance"]))
        response: Response = page.view(req, **values)
        return response

    def _signed_in(self, req: AdminRequest) -> Response | None:
        """Set ``req.operator``; a redirect to the sign-in page when there is none."""
        session, now = req.session, seconds(req.now)
        if session.operator_id is None:
            return self._to_signin(req, "signin_needed")
        if self.sessions.expired(session, now):
            return self._to_signin(req, "expired")
        operator = operator_by_id(self.store, session.operator_id)
        if operator is None or operator.session_key != session.operator_key:
            # Removed, or the password changed since this session was opened.
            return self._to_signin(req, "expired")
        req.operator = operator
        req.session = session.touched(now)
        return None

    def _to_signin(self, req: AdminRequest, notice: str) -> Response:
        req.session = Session.new(seconds(req.now), notice=notice)
        response = Response(status=303, headers={"Location": req.url("signin")})
        return response

    def _instance(self, req: AdminRequest, name: str) -> Instance:
        """The URL's instance, if the operator may see it; else 404 (never 403:
        an operator must not learn which other instances exist)."""
        try:
            instance = get_instance(self.store, name)
        except NotFoundError:
            raise NotFound() from None
        if req.operator is None or not req.operator.may_see(instance.id):
            raise NotFound()
        req.instance = instance
        if instance.language in LANGUAGES:
            req.texts = texts_for(instance.language)
        return instance

    # --- what goes out ------------------------------------------------------

    def _error(self, req: AdminRequest, status: int, *, reference: str | None = None) -> Response:
        try:
            return req.render("error.html", status=status, code=status, reference=reference)
        except Exception:  # the layout itself failed (database down while building it...)
            log.exception("back office: the error page could not be rendered")
            return Response(f"{status}\n", status=status, content_type="text/plain; charset=utf-8")

    def _save_session(self, req: AdminRequest, response: Response) -> None:
        now = seconds(req.now)
        response.set_cookie(
            COOKIE,
            self.sessions.dumps(req.session),
            max_age=self.sessions.max_age(req.session, now),
            path=PREFIX,
            secure=self._secure(req.http),
            httponly=True,
            samesite="Strict",
        )

    def _secure(self, request: Request) -> bool:
        mode = self.settings.admin_cookie_secure
        if mode == "auto":
            return request.scheme == "https"
        return mode == "true"

    def static_file(self, name: str) -> bytes | None:
        """A file of ``static/`` (the style sheet), or None."""
        if "/" in name or name.startswith("."):
            return None
        item = resources.files("tuotempo_soap.web.admin").joinpath("static", name)
        return item.read_bytes() if item.is_file() else None


def _masked(mask: Callable[[str], str]) -> Callable[[str | None], str]:
    """A template filter: the masked value, or nothing for an empty one."""

    def apply(value: str | None) -> str:
        return mask(value) if value else ""

    return apply


def _browser_language(request: Request) -> str:
    """Before an instance is known (sign-in, the list of instances): the
    browser's preferred language among ours, else English."""
    return request.accept_languages.best_match(LANGUAGES, default="en") or "en"


def _local(url: str) -> str:
    """Keep only path and query of a URL werkzeug built from the request's Host."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def build_admin(
    settings: Settings,
    store: Store,
    guard: AuthGuard,
    route: Callable[[str, str], str] | None = None,
) -> AdminApp:
    """The back office, with every page module of ``pages/`` registered."""
    return AdminApp(settings, store, guard, route=route)
