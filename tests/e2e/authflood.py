"""A flood of wrong passwords against a real server, a valid client's latency, and
the memory of gunicorn's worker processes.

Shared by tests/e2e/test_auth_flood.py and bench/bench_auth_flood.py. Everything
stays on loopback: the flood comes from other loopback addresses (127.0.1.x) than
the valid client (127.0.0.1), as attackers would from other hosts, so per-address
rules count them apart. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import http.client
import secrets
import statistics
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tuotempo-soap.org/v1"
VALID_ADDRESS = "127.0.0.1"


def attacker_addresses(count: int) -> list[str]:
    return [f"127.0.1.{index + 1}" for index in range(count)]


def get_reservations(instance: str, username: str, password: str) -> bytes:
    """The cheapest authenticated call: getReservations of one (absent) APP_LID."""
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:t="{TNS}"><soapenv:Body>'
        f"<t:getReservations><t:AUTH><t:INSTANCE>{escape(instance)}</t:INSTANCE>"
        f"<t:USERNAME>{escape(username)}</t:USERNAME><t:PASSWORD>{escape(password)}</t:PASSWORD>"
        "</t:AUTH><t:APP_LID>none</t:APP_LID></t:getReservations>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def fault_code(body: bytes) -> str | None:
    """The detail CODE of a SOAP fault (e.g. ``Client.TooManyAttempts``), None for a result."""
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return "not-xml"
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    if fault is None:
        return None
    detail = fault.findtext(f"detail/{{{TNS}}}ServiceFault/{{{TNS}}}CODE")
    return detail or str(fault.findtext("faultcode"))


class SoapConnection:
    """One keep-alive HTTP connection from a chosen loopback source address."""

    def __init__(self, port: int, source: str, timeout: float = 30.0) -> None:
        self._port = port
        self._source = source
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes, action: str = "getReservations") -> tuple[int, bytes]:
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    "127.0.0.1", self._port, timeout=self._timeout, source_address=(self._source, 0)
                )
            try:
                self._connection.request(
                    "POST",
                    "/soap",
                    body=body,
                    headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
                )
                response = self._connection.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (http.client.HTTPException, OSError):
                # The server closed an idle keep-alive connection: open a new one, once.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# --- memory of the worker processes ------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """gunicorn's workers: the children of the master process."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # The command name may hold spaces: the parent pid is the 2nd field after ")".
        if int(text.rsplit(")", 1)[1].split()[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """Samples the workers' RSS every ``interval`` s until stopped; keeps each one's peak."""

    def __init__(self, pids: list[int], interval: float = 0.02, max_seconds: float = 120.0) -> None:
        self.pids = pids
        self.before = {pid: rss_kib(pid) for pid in pids}
        self.peak = dict(self.before)
        self._interval = interval
        self._max_seconds = max_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self._max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            for pid in self.pids:
                # A worker that was replaced: its growth is what we saw of it.
                with suppress(OSError):
                    self.peak[pid] = max(self.peak[pid], rss_kib(pid))
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def growth_mib(self) -> dict[int, float]:
        return {pid: (self.peak[pid] - self.before[pid]) / 1024 for pid in self.pids}


# --- the flood and the valid client --------------------------------------------------------


@dataclass
class Flood:
    """``threads`` attackers, each on its own keep-alive connection from one of
    ``addresses``, sending wrong passwords, each at most ``rate`` a second (0: as
    fast as answers come back), until ``max_requests`` in all or ``max_seconds``.
    Even threads guess the victim's password; odd threads spray made-up users of
    the victim's instance."""

    port: int
    instance: str
    username: str
    addresses: list[str]
    threads: int = 16
    rate: float = 0.0
    max_requests: int = 20000
    max_seconds: float = 8.0
    sent: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _attack(self, index: int, deadline: float) -> None:
        connection = SoapConnection(self.port, self.addresses[index % len(self.addresses)])
        try:
            next_at = time.monotonic()
            while time.monotonic() < deadline:
                if self.rate:
                    # At most ``rate`` a second, and no catching up in bursts after a slow answer.
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at = max(next_at, time.monotonic()) + 1.0 / self.rate
                with self._lock:
                    if self.sent >= self.max_requests:
                        return
                    self.sent += 1
                user = self.username if index % 2 == 0 else f"user{secrets.token_hex(4)}"
                body = get_reservations(self.instance, user, secrets.token_urlsafe(12))
                try:
                    _, data = connection.post(body)
                except (http.client.HTTPException, OSError):
                    with self._lock:
                        self.errors += 1
                    continue
                code = fault_code(data) or "accepted"
                with self._lock:
                    self.answers[code] += 1
        finally:
            connection.close()

    def start(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        for index in range(self.threads):
            worker = threading.Thread(target=self._attack, args=(index, deadline), daemon=True)
            worker.start()
            self._workers.append(worker)

    def running(self) -> bool:
        return any(worker.is_alive() for worker in self._workers)

    def join(self) -> None:
        for worker in self._workers:
            worker.join(timeout=self.max_seconds + 60)


def valid_calls(
    port: int,
    body: bytes,
    *,
    count: int,
    pause: float = 0.02,
    until: Flood | None = None,
    max_seconds: float = 60.0,
) -> list[float]:
    """Seconds per call of a valid client from 127.0.0.1, one call after the other.

    Stops after ``count`` calls, after ``max_seconds``, or when ``until`` (a flood)
    has ended. Every answer must be a result, not a fault.
    """
    connection = SoapConnection(port, VALID_ADDRESS)
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    try:
        while len(latencies) < count and time.monotonic() < deadline:
            if until is not None and not until.running():
                break
            started = time.perf_counter()
            status, data = connection.post(body)
            latencies.append(time.perf_counter() - started)
            code = fault_code(data)
            if status != 200 or code is not None:
                raise AssertionError(f"the valid client got HTTP {status} {code}")
            time.sleep(pause)
    finally:
        connection.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class FloodResult:
    idle: list[float]
    flooded: list[float]
    growth_mib: dict[int, float]
    before_mib: dict[int, float]
    flood: Flood

    @property
    def idle_median(self) -> float:
        return statistics.median(self.idle)

    @property
    def flood_median(self) -> float:
        return statistics.median(self.flooded)


def run_flood(
    master_pid: int,
    port: int,
    instance: str,
    username: str,
    password: str,
    *,
    threads: int = 16,
    rate: float = 0.0,
    addresses: int = 8,
    max_requests: int = 20000,
    max_seconds: float = 8.0,
    idle_calls: int = 60,
) -> FloodResult:
    """Idle latency of the valid client, then its latency and the workers' RSS under a flood."""
    body = get_reservations(instance, username, password)
    # Warm up: every worker has served the valid client (its password is cached there)
    # and has run Argon2 once (its allocator has seen a 64 MiB block).
    warm = SoapConnection(port, "127.0.0.200")
    for _ in range(8):
        warm.post(get_reservations(instance, username, password))
        warm.close()
        warm.post(get_reservations(instance, f"warm{secrets.token_hex(3)}", "x" * 12))
        warm.close()
    idle = valid_calls(port, body, count=idle_calls)
    flood = Flood(
        port,
        instance,
        username,
        attacker_addresses(addresses),
        threads=threads,
        rate=rate,
        max_requests=max_requests,
        max_seconds=max_seconds,
    )
    with RssSampler(worker_pids(master_pid)) as sampler:
        flood.start()
        time.sleep(0.2)  # the flood is under way before the valid client measures
        flooded = valid_calls(port, body, count=100000, until=flood, max_seconds=max_seconds + 5)
        flood.join()
    return FloodResult(
        idle=idle,
        flooded=flooded,
        growth_mib=sampler.growth_mib(),
        before_mib={pid: kib / 1024 for pid, kib in sampler.before.items()},
        flood=flood,
    )
