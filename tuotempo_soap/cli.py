"""The ``tuotempo-soap`` command: serve, db, instance, user and wsdl.

Passwords are read from a prompt or standard input, never from arguments
(arguments end up in shell history and process listings).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

import click

from . import clock
from .config import Settings
from .domain.message import Channel
from .errors import NotFoundError, StoreUnavailableError, TuotempoError
from .services import instances
from .store.bootstrap import open_store
from .store.engine import Store

DEMO_INSTANCE = "tt_demo"
DEMO_USER = "demo"


def _settings() -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None
    clock.configure(settings.clock_file)
    return settings


def _store() -> Store:
    return open_store(_settings())


class _Group(click.Group):
    """Turns our errors into one clear line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreUnavailableError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(3)
        except TuotempoError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)


def _read_password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


@click.group(cls=_Group)
@click.version_option(package_name="tuotempo-soap")
def main() -> None:
    """tuotempo-soap: SOAP integration server for clinic software.

    Settings come from TUOTEMPO_* environment variables (see the README);
    by default an SQLite database under ./tuotempo-data.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--demo", is_flag=True, help="Create tt_demo with a user and print how to call it.")
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    """Run the server (gunicorn) for development or a quick trial."""
    from gunicorn.app.base import BaseApplication

    from .web.app import create_app

    settings = _settings()
    app = create_app(settings, demo=demo)
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
            self.cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s %(B)s %(M)sms')
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


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    settings = _settings()
    open_store(settings, migrate=True)
    click.echo(f"database is up to date ({_redact(settings.database_url)})")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def instance() -> None:
    """Instances (tt_... accounts)."""


@instance.command("create")
@click.argument("name")
@click.option("--timezone", default="Europe/Madrid", show_default=True)
@click.option("--country", default="ES", show_default=True, help="Default phone country.")
@click.option("--language", default="es", show_default=True)
@click.option(
    "--store-patient-identity",
    is_flag=True,
    help="Keep patient names and ID numbers (the guide advises against it).",
)
@click.option("--email-from", help="From address of the e-mails sent for this instance.")
@click.option("--reply-to", help="Reply-To address of those e-mails.")
def instance_create(
    name: str,
    timezone: str,
    country: str,
    language: str,
    store_patient_identity: bool,
    email_from: str | None,
    reply_to: str | None,
) -> None:
    """Create instance NAME (tt_...)."""
    created = instances.create_instance(
        _store(),
        name,
        timezone=timezone,
        country=country,
        language=language,
        store_patient_identity=store_patient_identity,
        email_from=email_from,
        email_reply_to=reply_to,
    )
    click.echo(
        f"created {created.name} ({created.timezone}, {created.country}, {created.language})"
    )


@instance.command("update")
@click.argument("name")
@click.option("--timezone")
@click.option("--country")
@click.option("--language")
@click.option("--email-from")
@click.option("--reply-to")
@click.option("--store-patient-identity/--no-store-patient-identity", default=None)
def instance_update(
    name: str,
    timezone: str | None,
    country: str | None,
    language: str | None,
    email_from: str | None,
    reply_to: str | None,
    store_patient_identity: bool | None,
) -> None:
    """Change the settings of instance NAME (only those given)."""
    updated = instances.update_instance(
        _store(),
        name,
        timezone=timezone,
        country=country,
        language=language,
        email_from=email_from,
        email_reply_to=reply_to,
        store_patient_identity=store_patient_identity,
    )
    click.echo(f"updated {updated.name}")


@instance.command("list")
def instance_list() -> None:
    """List instances."""
    for item in instances.list_instances(_store()):
        identity = "keeps identity" if item.store_patient_identity else "no identity"
        click.echo(f"{item.name}\t{item.timezone}\t{item.country}\t{item.language}\t{identity}")


@main.group()
def user() -> None:
    """API users of an instance."""


@user.command("add")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(instance_name: str, username: str, password_stdin: bool) -> None:
    """Add USERNAME to INSTANCE."""
    password = _read_password(password_stdin)
    instances.add_user(_store(), instance_name, username, password)
    click.echo(f"added {username} to {instance_name}")


@user.command("passwd")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(instance_name: str, username: str, password_stdin: bool) -> None:
    """Change USERNAME's password."""
    password = _read_password(password_stdin)
    instances.set_password(_store(), instance_name, username, password)
    click.echo(f"password changed for {username} in {instance_name}")


@user.command("remove")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("username")
def user_remove(instance_name: str, username: str) -> None:
    """Remove USERNAME from INSTANCE."""
    instances.remove_user(_store(), instance_name, username)
    click.echo(f"removed {username} from {instance_name}")


@user.command("list")
@click.argument("instance_name", metavar="INSTANCE")
def user_list(instance_name: str) -> None:
    """List the users of INSTANCE."""
    for name in instances.list_users(_store(), instance_name):
        click.echo(name)


@main.command()
@click.option("--once", is_flag=True, help="Send what is due, then exit (for cron).")
@click.option("--worker-id", help="Name in the outbox claims (default host:pid).")
def worker(once: bool, worker_id: str | None) -> None:
    """Send due messages from the outbox until stopped (SIGTERM/Ctrl-C)."""
    import signal
    import threading

    from .clinic import build_clinic_client
    from .dispatch.config import load_dispatch_config
    from .dispatch.worker import OutboxWorker
    from .services import answers, reminders
    from .services.links import LinkSigner, secret_key
    from .web.app import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    dispatch = load_dispatch_config(settings.senders_file, settings.data_dir)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    store = open_store(settings)
    signer = LinkSigner(secret_key(settings))

    def housekeeping() -> None:
        reminders.plan_changes(store)
        reminders.queue_due(store, signer=signer, public_url=settings.public_url)
        answers.process_callbacks(store, build=build_clinic_client)

    outbox = OutboxWorker(store, dispatch, settings, worker_id=worker_id, housekeeping=housekeeping)
    try:
        total = outbox.run(stop, once=once)
    finally:
        dispatch.close()
    click.echo(f"worker {outbox.worker_id}: {total} message(s) attempted")


@main.group()
def messages() -> None:
    """Messages of the gateway."""


@messages.command("send")
@click.argument("instance_name", metavar="INSTANCE")
@click.option(
    "--channel", required=True, type=click.Choice([c.value for c in Channel], case_sensitive=False)
)
@click.option("--to", "recipient", required=True, help="Phone number, e-mail or push token.")
@click.option("--text", required=True)
@click.option("--subject", help="Required for EMAIL.")
@click.option("--legacy-id", help="Default: a new cli-... id.")
def messages_send(
    instance_name: str,
    channel: str,
    recipient: str,
    text: str,
    subject: str | None,
    legacy_id: str | None,
) -> None:
    """Queue a test message for INSTANCE (the worker sends it)."""
    from .services import messages as message_service

    store = _store()
    target = instances.get_instance(store, instance_name)
    item = {
        "LEGACY_ID": legacy_id or f"cli-{secrets.token_hex(6)}",
        "CHANNEL": channel,
        "TO": recipient,
        "TEXT": text,
        "SUBJECT": subject,
    }
    outcome = message_service.update_messages(store, target, [item], max_items=1).items[0]
    if outcome.error is not None:
        raise click.ClickException(outcome.error.message)
    click.echo(f"{outcome.action} message {outcome.message_id} (legacy id {item['LEGACY_ID']})")


@messages.command("show")
@click.argument("legacy_id")
@click.option("--instance", "instance_name", required=True, help="The instance (tt_...).")
def messages_show(legacy_id: str, instance_name: str) -> None:
    """Show what became of message LEGACY_ID."""
    from .services import messages as message_service

    store = _store()
    found = message_service.show_message(
        store, instances.get_instance(store, instance_name), legacy_id
    )
    for key, value in found.items():
        if value is not None:
            click.echo(f"{key}: {value}")


@main.group()
def wsdl() -> None:
    """The published WSDL."""


@wsdl.command("export")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("wsdl/tuotempo.wsdl"),
    show_default=True,
)
def wsdl_export(output: Path) -> None:
    """Write the WSDL the server publishes (the committed copy is tested against it)."""
    from .soap.application import build_wsdl

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(build_wsdl())
    click.echo(f"wrote {output}")


# Registers the clinic, poll, portal, availability and appointment commands.
from . import cli_clinic  # noqa: E402, F401

if __name__ == "__main__":
    # Run the imported module's group: under ``python -m`` this file is also
    # ``__main__``, and the clinic commands registered themselves on the other.
    from tuotempo_soap.cli import main as registered_main

    registered_main()
