"""Slow clients (slowloris), a real nginx built from deploy/nginx.conf, and a latency probe.

Shared by tests/e2e/test_nginx.py and bench/bench_slowloris.py. Everything stays on
loopback and every loop is bounded in time.
"""

from __future__ import annotations

import datetime
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "deploy" / "nginx.conf"

# The slow clients connect from other loopback addresses than the probes
# (127.0.0.1), 32 of them, as a botnet would: the recipe's per-address limits
# (limit_conn, limit_req) then count the attackers alone, and do not hide what
# the buffering and the timeouts do.
ATTACKER_ADDRESSES = tuple(f"127.0.1.{host}" for host in range(2, 34))


def raise_fd_limit(wanted: int = 4096) -> None:
    """Let this process hold a few hundred sockets (CI's soft limit may be 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# --- slow clients -----------------------------------------------------------------------


def _partial_request(kind: str, host: str) -> bytes:
    if kind == "header":
        # A request line and a header that never ends: the server waits for "\r\n\r\n".
        return f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Padding: ".encode()
    if kind == "body":
        # A complete header announcing a body that then arrives a byte at a time.
        return (
            f"POST /soap HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            "SOAPAction: getReservations\r\nContent-Length: 100000\r\n\r\n<"
        ).encode()
    raise ValueError(f"unknown slow request kind {kind!r}")


@dataclass
class SlowClients:
    """``count`` connections that each send a partial request, then one byte per ``interval``.

    A connection the server closes is opened again (an attacker would), so ``count``
    stay open for as long as the server lets them; ``reopened`` says how often that was
    needed. ``stop()`` closes everything; the trickle thread also ends by itself after
    ``max_seconds``.
    """

    host: str
    port: int
    count: int
    kind: str = "header"
    tls: ssl.SSLContext | None = None
    sources: tuple[str, ...] = ATTACKER_ADDRESSES
    interval: float = 1.0
    max_seconds: float = 30.0
    opened: int = 0
    reopened: int = 0
    failed: int = 0
    _socks: list[socket.socket | None] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _open(self, index: int) -> socket.socket | None:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            raw.settimeout(3)
            raw.bind((self.sources[index % len(self.sources)], 0))
            raw.connect((self.host, self.port))
            sock: socket.socket = raw
            if self.tls is not None:
                sock = self.tls.wrap_socket(raw, server_hostname=self.host)
            sock.sendall(_partial_request(self.kind, self.host))
        except OSError:
            raw.close()
            self.failed += 1
            return None
        self.opened += 1
        return sock

    def start(self) -> None:
        self._socks = [self._open(index) for index in range(self.count)]
        self._thread = threading.Thread(target=self._trickle, name="slowloris", daemon=True)
        self._thread.start()

    @property
    def held(self) -> int:
        return sum(1 for sock in self._socks if sock is not None)

    def _trickle(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.wait(self.interval) and time.monotonic() < deadline:
            for index, sock in enumerate(self._socks):
                if self._stop.is_set():
                    return
                if sock is not None:
                    try:
                        sock.send(b"a")
                        continue
                    except OSError:  # closed by the server (timeout, limit): open another
                        sock.close()
                        self.reopened += 1
                self._socks[index] = self._open(index)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for sock in self._socks:
            if sock is not None:
                sock.close()
        self._socks = []

    def __enter__(self) -> SlowClients:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- probes -----------------------------------------------------------------------------


@dataclass
class Probe:
    name: str
    seconds: float | None  # None: no complete answer within the limit
    status: int | None = None
    error: str = ""

    def __str__(self) -> str:
        if self.seconds is None:
            return f"{self.name}: no answer ({self.error})"
        return f"{self.name}: {self.status} in {self.seconds:.2f} s"


def probe(
    name: str,
    send: Callable[[float], requests.Response],
    limit: float = 2.0,
    expect: int = 200,
) -> Probe:
    """Time one request on a new connection; an answer counts only if complete within ``limit``."""
    started = time.monotonic()
    try:
        response = send(limit)
    except requests.RequestException as exc:
        return Probe(name, None, error=type(exc).__name__)
    elapsed = time.monotonic() - started
    if elapsed > limit:
        return Probe(name, None, response.status_code, f"answered after {elapsed:.2f} s")
    if response.status_code != expect:
        return Probe(name, None, response.status_code, f"status {response.status_code}")
    return Probe(name, elapsed, response.status_code)


# --- TLS --------------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (made with ``cryptography``): (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def client_tls(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


# --- nginx ------------------------------------------------------------------------------


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)),
        None,
    )


def render_recipe(
    recipe: str, *, listen_port: int, upstream: str, cert: Path, key: Path, logs: Path
) -> str:
    """deploy/nginx.conf with only its addresses, certificate and log paths replaced.

    Each replaced line must be there exactly once, so a change to the recipe that
    this rendering no longer understands fails loudly instead of testing less.
    """
    replacements = [
        (r"^(\s*)listen 443 ssl;", rf"\g<1>listen 127.0.0.1:{listen_port} ssl;"),
        (r"^\s*listen \[::\]:443 ssl;\n", ""),
        (r"^(\s*)server 127\.0\.0\.1:8000\b", rf"\g<1>server {upstream}"),
        (r"^(\s*)ssl_certificate\s+\S+;", rf"\g<1>ssl_certificate {cert};"),
        (r"^(\s*)ssl_certificate_key\s+\S+;", rf"\g<1>ssl_certificate_key {key};"),
        (r"^(\s*)access_log /var/log/nginx/(\S+) ", rf"\g<1>access_log {logs}/\g<2> "),
    ]
    for pattern, replacement in replacements:
        recipe, found = re.subn(pattern, replacement, recipe, flags=re.MULTILINE)
        if found != 1:
            raise AssertionError(f"deploy/nginx.conf: expected one line matching {pattern!r}")
    return recipe


def main_conf(prefix: Path, site: Path) -> str:
    """The surrounding nginx.conf a distribution ships, with every path under ``prefix``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the tmp dir
    temp = "\n".join(
        f"    {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
worker_rlimit_nofile 8192;
events {{
    worker_connections 4096;
}}
http {{
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    url: str  # https://127.0.0.1:PORT
    port: int
    prefix: Path
    cafile: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_nginx(binary: str, prefix: Path, upstream: str) -> Nginx:
    """Run deploy/nginx.conf in front of ``upstream`` (host:port), TLS on a free loopback port."""
    prefix.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed_certificate(prefix)
    port = free_port()
    site = prefix / "tuotempo-soap.conf"
    site.write_text(
        render_recipe(
            RECIPE.read_text(),
            listen_port=port,
            upstream=upstream,
            cert=cert,
            key=key,
            logs=prefix,
        )
    )
    conf = prefix / "nginx.conf"
    conf.write_text(main_conf(prefix, site))
    command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused the recipe:\n{check.stderr}")
    log = (prefix / "nginx.out").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(prefix / 'error.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Nginx(process, f"https://127.0.0.1:{port}", port, prefix, cert)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("nginx did not listen in 15 s")
