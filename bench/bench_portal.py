"""Portal search over N centers that each answer in a fixed delay.

Every center is a real zeep client of the clinic WSDL behind a requests adapter
that sleeps ``--delay`` seconds and answers one slot (the scripted clinic of the
unit tests: no sockets, so the figure is the portal's scheduling, not the
network). The store is a fresh SQLite file. For each N in ``--centers`` it times
``portal.search`` with the pool capped at 8 threads (how it was before: centers
beyond 8 waited for a free thread) and with today's cap
(``portal.MAX_PARALLEL_CENTERS``), interleaved, ``--repeat`` times each, and
prints the medians side by side with the target (the slowest center + 100 ms).
Nothing is asserted.

    python bench/bench_portal.py
    python bench/bench_portal.py --centers 3,10,50,100 --delay 0.5 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripted clinic lives with the tests it serves

from tests.unit.clinic.fakes import (  # noqa: E402
    WSDL_URL,
    DictCache,
    ScriptedClinic,
    answer,
    clinic_wsdl,
    fields,
    session_for,
)
from tuotempo_soap.clinic import ClinicClientFactory  # noqa: E402
from tuotempo_soap.config import Settings  # noqa: E402
from tuotempo_soap.services import clinic_sync, instances, portal  # noqa: E402
from tuotempo_soap.store.bootstrap import open_store  # noqa: E402
from tuotempo_soap.store.engine import Store  # noqa: E402

OLD_POOL = 8  # ThreadPoolExecutor(max_workers=min(8, centers)) before


class SlowClinic(ScriptedClinic):
    """Answers every POST with one slot after ``delay`` seconds, from any thread."""

    def __init__(self, delay: float) -> None:
        super().__init__(documents={WSDL_URL: clinic_wsdl()})
        self.delay = delay
        slot = fields(
            RESOURCE_LID="DR1",
            ACTIVITY_LID="VISIT",
            AVA_DATE="24/02/2027",
            AVA_START_TIME="09:00",
            AVAILABILITY_LID="DR1-20270224-0900",
            AVA_END_TIME="09:20",
        )
        self.body = (
            f"<tns:AVAILABILITIES><tns:AVAILABILITY>{slot}</tns:AVAILABILITY></tns:AVAILABILITIES>"
        )

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
        if request.method == "GET":
            return super().send(request, **kwargs)
        time.sleep(self.delay)
        return self._done(request, answer("searchAvailabilities", self.body))


def make_portal(store: Store, centers: int) -> str:
    via = f"tt_via_{centers}"
    instances.create_instance(store, via)
    clinic_sync.configure(store, via, wsdl_url=WSDL_URL)
    name = f"tt_portal_{centers}"
    instances.create_instance(store, name)
    for number in range(centers):
        portal.add_center(store, name, f"C{number:03d}", via=via)
    return name


def one_search(store: Store, name: str, build: object, cap: int, centers: int) -> float:
    portal.MAX_PARALLEL_CENTERS = cap
    started = time.perf_counter()
    found = portal.search(
        store,
        name,
        portal.AvailabilityQuery(max_results=1000),
        build=build,  # type: ignore[arg-type]
        per_center_timeout=60.0,
    )
    elapsed = time.perf_counter() - started
    if found.errors or len(found.availabilities) != centers:
        print(f"  warning: {len(found.errors)} centers failed", file=sys.stderr)
    return elapsed


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centers", default="3,10,50", help="comma-separated center counts")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds each center takes")
    parser.add_argument("--repeat", type=int, default=3, help="searches per setting")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    counts = [int(part) for part in args.centers.split(",") if part]
    new_cap = portal.MAX_PARALLEL_CENTERS
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings.from_env(
            {
                "TUOTEMPO_DATABASE_URL": f"sqlite:///{workdir}/portal.db",
                "TUOTEMPO_DATA_DIR": f"{workdir}/data",
            }
        )
        store = open_store(settings, migrate=True)
        clinic = SlowClinic(args.delay)
        factory = ClinicClientFactory(
            wsdl_cache=DictCache(), session_factory=lambda: session_for(clinic)
        )
        rows = []
        try:
            for centers in counts:
                name = make_portal(store, centers)
                one_search(store, name, factory.build, new_cap, centers)  # warm-up: WSDL, zeep
                before: list[float] = []
                after: list[float] = []
                for _ in range(args.repeat):  # interleaved: load drifts hit both alike
                    before.append(one_search(store, name, factory.build, OLD_POOL, centers))
                    after.append(one_search(store, name, factory.build, new_cap, centers))
                rows.append((centers, statistics.median(before), statistics.median(after)))
        finally:
            portal.MAX_PARALLEL_CENTERS = new_cap
            store.dispose()
    target = args.delay + 0.1
    print(f"portal search, each center answering in {args.delay:g} s, median of {args.repeat}")
    print(
        f"{'centers':>8} {'before (8 threads) s':>21} {f'after ({new_cap} max) s':>19} "
        f"{'speed-up':>9} {'target s':>9} {'met':>4}"
    )
    for centers, old, new in rows:
        met = "yes" if new <= target else "no"
        print(f"{centers:>8} {old:>21.3f} {new:>19.3f} {old / new:>8.1f}x {target:>9.2f} {met:>4}")


if __name__ == "__main__":
    main()
