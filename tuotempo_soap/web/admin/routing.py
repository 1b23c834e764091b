"""The back office's registry of pages: each page module registers its views
with ``@pages.page(...)``; ``AdminApp`` builds one werkzeug ``Map`` from it.

A page says who may open it (``Access``): anyone (the sign-in form), any
signed-in operator, or an operator of the instance named in its URL (the rule
holds ``<instance:instance>``; the view then receives the ``Instance``). The
check is made by the dispatcher before the view runs, so a page cannot forget
it: an operator who may not see an instance gets 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from werkzeug.routing import BaseConverter, Map, Rule

from ...services.instances import INSTANCE_NAME


class Access(StrEnum):
    PUBLIC = "public"  # no sign-in needed (sign-in page, style sheet)
    OPERATOR = "operator"  # any signed-in operator
    INSTANCE = "instance"  # a signed-in operator who may see the URL's instance


View = Callable[..., Any]  # (AdminRequest, **url values) -> werkzeug Response


@dataclass(frozen=True)
class Page:
    endpoint: str
    rule: str  # below the prefix: "/signin", "/<instance:instance>/messages"
    methods: tuple[str, ...]
    view: View
    access: Access
    # A larger body than the back office's forms take (a file upload), in bytes.
    max_bytes: int | None = None

    @property
    def needs_instance(self) -> bool:
        return "<instance:instance>" in self.rule


@dataclass(frozen=True)
class NavItem:
    """An entry of the layout's navigation, shown once its endpoint is registered
    (and, for a page of one instance, while an instance is being viewed)."""

    endpoint: str
    label: str  # a key of texts.TEXTS


# The navigation, in order. Pages of one instance first; the others are pages
# any operator opens (each lists only the instances the operator may see).
NAV: tuple[NavItem, ...] = (
    NavItem("home", "nav.home"),
    NavItem("reservations", "nav.reservations"),
    NavItem("messages", "nav.messages"),
    NavItem("campaigns", "nav.campaigns"),
    NavItem("clinics", "nav.clinics"),
    NavItem("outbox", "nav.outbox"),
    NavItem("audit", "nav.audit"),
)


class InstanceConverter(BaseConverter):
    """An instance name (``tt_...``) as a URL segment; nothing else matches it,
    so ``/admin/<instance>/...`` never shadows ``/admin/clinics``."""

    regex = INSTANCE_NAME.pattern.strip("^$")


class Registry:
    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}

    def page(
        self,
        rule: str,
        *,
        endpoint: str | None = None,
        methods: Iterable[str] = ("GET",),
        access: Access | None = None,
        max_bytes: int | None = None,
    ) -> Callable[[View], View]:
        """Register a view at ``rule`` (below ``/admin``).

        ``endpoint`` defaults to the function's name; ``access`` to INSTANCE
        when the rule names an instance, else OPERATOR. Every POST is checked
        for its CSRF token before the view runs. ``max_bytes``: a page that takes
        uploads accepts bodies up to this size (others: ``app.MAX_FORM_BYTES``).
        """

        def register(view: View) -> View:
            name = endpoint or view.__name__
            if name in self.pages:
                raise ValueError(f"two back-office pages are named {name!r}")
            needs_instance = "<instance:instance>" in rule
            chosen = access or (Access.INSTANCE if needs_instance else Access.OPERATOR)
            if needs_instance != (chosen is Access.INSTANCE):
                raise ValueError(f"{name}: Access.INSTANCE goes with <instance:instance> rules")
            self.pages[name] = Page(
                name, rule, tuple(m.upper() for m in methods), view, chosen, max_bytes
            )
            return view

        return register

    def url_map(self, prefix: str) -> Map:
        return Map(
            [
                Rule(prefix + page.rule, endpoint=page.endpoint, methods=page.methods)
                for page in self.pages.values()
            ],
            converters={"instance": InstanceConverter},
            strict_slashes=True,
        )


# The registry every page module adds itself to (``pages/``); the application
# reads it once, when it is built.
pages = Registry()
