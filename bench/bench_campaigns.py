"""How long a campaign takes to create (read, filter and store its list), to
preview, to start (queue its messages in the outbox) and to report on.

    python bench/bench_campaigns.py [--recipients 20000] [--postgres | --database-url URL]

A CSV of ``--recipients`` patients (with 1% repeated in another spelling and
2% of them opted out beforehand) goes through ``services.campaigns`` as the
back office and the CLI call it. Prints seconds and recipients per second for
each step; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from databases import temporary_postgres

from tuotempo_soap.config import Settings
from tuotempo_soap.domain.campaigns import CampaignText
from tuotempo_soap.services import campaigns, instances
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.campaigns import CampaignSpec, PatientSource
from tuotempo_soap.store.bootstrap import open_store


def patient_list(count: int) -> bytes:
    lines = ["NAME;USER_MOBILE_PHONE;AGE;USER_LANGUAGE;RESOURCE_LID"]
    for i in range(count):
        lines.append(f"P{i};6{i:08d};{20 + i % 70};{'es' if i % 3 else 'it'};DR{i % 5}")
    for i in range(0, count, 100):  # 1% again, spelled another way
        lines.append(f"again {i};+34 6{i:08d};{20 + i % 70};es;DR{i % 5}")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--postgres", action="store_true", help="a temporary PostgreSQL database")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.postgres:
            server = os.environ.get(
                "TUOTEMPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            )
            url = stack.enter_context(temporary_postgres(server, "bench_campaigns"))
        else:
            url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'campaigns.db'}"
        run(url, args.recipients)


def run(url: str, count: int) -> None:
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
    name = f"tt_bench_{int(time.time())}"
    instances.create_instance(store, name)
    instance = instances.get_instance(store, name)
    operator = Actor.of(None, "bench", None)
    data = patient_list(count)
    campaigns.opt_out(store, instance, [f"6{i:08d}" for i in range(0, count, 50)])
    spec = CampaignSpec(
        name="bench",
        channel="SMS",
        texts={"es": CampaignText("Hola, le toca la revisión anual."), "it": CampaignText("Ciao")},
        filters="AGE >= 20\nRESOURCE_LID in DR0, DR1, DR2, DR3, DR4",
        rate_per_minute=600,
        quiet_hours="21:00-09:00",
    )
    now = datetime(2027, 3, 10, 8, 0)
    figures: list[tuple[str, float]] = []

    started_at = time.perf_counter()
    source = PatientSource.from_file("bench.csv", data)
    created = campaigns.create_campaign(store, operator, instance, spec, source, now=now)
    figures.append(("create (read, filter, store)", time.perf_counter() - started_at))
    campaign_id = created.campaign.id

    started_at = time.perf_counter()
    seen = campaigns.preview(store, instance, campaign_id, now=now)
    figures.append(("preview", time.perf_counter() - started_at))

    started_at = time.perf_counter()
    done = campaigns.start_campaign(store, operator, instance, campaign_id, now=now)
    figures.append(("start (queue in the outbox)", time.perf_counter() - started_at))

    started_at = time.perf_counter()
    report = campaigns.campaign_report(store, instance, campaign_id)
    figures.append(("report", time.perf_counter() - started_at))
    store.dispose()

    print(f"database: {url.split(':', 1)[0]}")
    print(
        f"recipients {created.campaign.recipients} (rows {created.campaign.rows_read}, "
        f"repeated {created.campaign.duplicates}), opted out {seen.opted_out}, "
        f"queued {done.queued}, segments {seen.segments}, report total {report.total}"
    )
    for step, seconds in figures:
        rate = created.campaign.recipients / seconds if seconds else float("inf")
        print(f"{step:<30} {seconds:8.2f} s  {rate:10.0f} recipients/s")


if __name__ == "__main__":
    main()
