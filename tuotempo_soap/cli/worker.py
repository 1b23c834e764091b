"""``worker``: sends due messages from the outbox, plans and queues reminders,
forwards patients' cancellations to clinics, and finishes queueing campaigns
whose start stopped half-way, until stopped."""

from __future__ import annotations

import click

from .base import CliContext, pass_cli


@click.command()
@click.option("--once", is_flag=True, help="Send what is due, then exit (for cron).")
@click.option("--worker-id", help="Name in the outbox claims (default host:pid).")
@pass_cli
def worker(cli: CliContext, once: bool, worker_id: str | None) -> None:
    """Send due messages from the outbox until stopped (SIGTERM/Ctrl-C)."""
    import signal
    import threading

    from ..clinic import build_clinic_client
    from ..dispatch.config import load_dispatch_config
    from ..dispatch.worker import OutboxWorker
    from ..observability.logs import configure_logging
    from ..services import answers, campaigns, clinic_sync, reminders
    from ..services.links import LinkSigner, secret_key

    settings = cli.settings
    configure_logging(settings.log_level, settings.log_format)
    dispatch = load_dispatch_config(settings.senders_file, settings.data_dir)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    store = cli.store
    signer = LinkSigner(secret_key(settings))

    def housekeeping() -> None:
        reminders.plan_changes(store)
        reminders.queue_due(store, signer=signer, public_url=settings.public_url)
        clinic_sync.process_callbacks(store, build=build_clinic_client)
        # Campaigns whose start stopped half-way (services.campaigns).
        campaigns.queue_started(store)
        answers.forget_old_questions(store)

    outbox = OutboxWorker(store, dispatch, settings, worker_id=worker_id, housekeeping=housekeeping)
    try:
        total = outbox.run(stop, once=once)
    finally:
        dispatch.close()
    click.echo(f"worker {outbox.worker_id}: {total} message(s) attempted")
