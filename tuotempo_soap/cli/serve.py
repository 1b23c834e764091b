"""``serve``: the server (gunicorn) for development or a quick trial, and
``serve --demo``, which creates a demo instance and prints how to call it."""

from __future__ import annotations

import secrets
from typing import Any

import click

from ..errors import NotFoundError
from ..services import instances
from ..store.engine import Store
from .base import CliContext, pass_cli

DEMO_INSTANCE = "tt_demo"
DEMO_USER = "demo"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--demo", is_flag=True, help="Create tt_demo with a user and print how to call it.")
@pass_cli
def serve(cli: CliContext, host: str, port: int, workers: int, demo: bool) -> None:
    """Run the server (gunicorn) for development or a quick trial."""
    from gunicorn.app.base import BaseApplication

    from ..web.app import create_app

    app = create_app(cli.settings, demo=demo)
    if demo:
        _print_demo(app.store, host, port)
    app.store.dispose()

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            # Served without a proxy, a slow client holds a pool thread for as long as
            # it dribbles its request (gthread has no header deadline): threads wait
            # cheaply, so have many; idle keep-alive connections wait in the poller
            # and are dropped after 2 s. README, "Production", says what it survives.
            self.cfg.set("threads", 32)
            self.cfg.set("keepalive", 2)
            self.cfg.set("accesslog", "-")
            self.cfg.set(
                "access_log_format", '%(h)s "%(r)s" %(s)s %(B)s %(M)sms id=%({x-request-id}o)s'
            )
            # The route of an answer link, not its token; no query values.
            self.cfg.set("logger_class", "tuotempo_soap.web.accesslog.AccessLogger")

        def load(self) -> Any:
            return app

    _Server().run()


def _print_demo(store: Store, host: str, port: int) -> None:
    try:
        instances.get_instance(store, DEMO_INSTANCE)
    except NotFoundError:
        instances.create_instance(store, DEMO_INSTANCE)
    password = secrets.token_urlsafe(12)
    if DEMO_USER in instances.list_users(store, DEMO_INSTANCE):
        instances.set_password(store, DEMO_INSTANCE, DEMO_USER, password)
    else:
        instances.add_user(store, DEMO_INSTANCE, DEMO_USER, password)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/soap"  # noqa: S104
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:t="http://tuotempo-soap.org/v1"><soapenv:Body><t:updateReservations>'
        f"<t:AUTH><t:INSTANCE>{DEMO_INSTANCE}</t:INSTANCE><t:USERNAME>{DEMO_USER}</t:USERNAME>"
        f"<t:PASSWORD>{password}</t:PASSWORD></t:AUTH><t:RESERVATIONS><t:RESERVATION>"
        "<t:APP_LID>DEMO-1</t:APP_LID><t:APP_DATE>24/02/2027</t:APP_DATE>"
        "<t:APP_START_TIME>09:30</t:APP_START_TIME><t:USER_MOBILE_PHONE>612345678"
        "</t:USER_MOBILE_PHONE><t:RESOURCE_LID>DR-1</t:RESOURCE_LID>"
        "<t:STATUS>APPROVED</t:STATUS></t:RESERVATION></t:RESERVATIONS>"
        "</t:updateReservations></soapenv:Body></soapenv:Envelope>"
    )
    click.echo(
        f"\nDemo instance {DEMO_INSTANCE}: user {DEMO_USER}, password {password}\n"
        f"WSDL: {url}?wsdl\n\nTry it:\n"
        f"curl -s -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: updateReservations' "
        f"--data '{envelope}' {url}\n"
    )
