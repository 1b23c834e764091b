"""What a 100-message updateMessages and a 100-message searchMessages page cost
as JSON (``/api/v1``) and as SOAP (``/soap``, the fast engine), side by side.

Both go to the same ``create_app`` in-process (no sockets), on the same
database and instance, with the same messages: a new batch (100 QUEUED, a new
legacy-id prefix per call), the same batch re-sent (100 ALREADY_QUEUED) and a
search page of 100. Every answer is checked (200, the expected counts) outside
the timed span.

    python bench/bench_jsonapi.py                 # fresh SQLite file
    python bench/bench_jsonapi.py --postgres      # temporary PostgreSQL database
    python bench/bench_jsonapi.py --iterations 100

Only timings are printed; nothing is asserted about them.
"""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tuotempo_soap.soap.compat  # noqa: E402, F401  (before anything imports Spyne)
from bench.databases import temporary_postgres  # noqa: E402
from tuotempo_soap.config import Settings  # noqa: E402
from tuotempo_soap.services import instances  # noqa: E402
from tuotempo_soap.store.bootstrap import open_store  # noqa: E402
from tuotempo_soap.web.app import TuotempoApp, create_app  # noqa: E402

TNS = "http://tuotempo-soap.org/v1"
BATCH = 100


def _messages(prefix: str) -> list[dict[str, str]]:
    return [
        {
            "LEGACY_ID": f"{prefix}-{n}",
            "CHANNEL": "SMS",
            "TO": f"6{n:08d}",
            "TEXT": "Le recordamos su cita de mañana a las 10:30 en la clínica.",
        }
        for n in range(BATCH)
    ]


def _envelope(operation: str, auth: dict[str, str], inner: str) -> bytes:
    auth_xml = "".join(f"<t:{k}>{v}</t:{k}>" for k, v in auth.items())
    return (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:t="{TNS}"><soapenv:Body><t:{operation}><t:AUTH>{auth_xml}</t:AUTH>{inner}'
        f"</t:{operation}></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _soap_messages(items: list[dict[str, str]]) -> str:
    return (
        "<t:MESSAGES>"
        + "".join(
            "<t:MESSAGE>" + "".join(f"<t:{k}>{v}</t:{k}>" for k, v in item.items()) + "</t:MESSAGE>"
            for item in items
        )
        + "</t:MESSAGES>"
    )


def _call(app: TuotempoApp, path: str, body: bytes, headers: dict[str, str]) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **{key: value for key, value in headers.items()},
    }
    status: list[str] = []
    data = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return status[0], data


def _time(run: Callable[[], None], iterations: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        run()
    spans = []
    for _ in range(iterations):
        started = time.perf_counter()
        run()
        spans.append((time.perf_counter() - started) * 1000)
    return spans


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[str]:
    if args.postgres:
        server = os.environ.get(
            "TUOTEMPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres"
        )
        with temporary_postgres(server, "bench_jsonapi") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    with _database(args) as url, tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env(
            {
                "TUOTEMPO_DATABASE_URL": url,
                "TUOTEMPO_DATA_DIR": data_dir,
                "TUOTEMPO_LOG_LEVEL": "WARNING",
                "TUOTEMPO_PUBLIC_URL": "https://bench.example",
            }
        )
        open_store(settings, migrate=True).dispose()
        app = create_app(settings)
        name = f"tt_bench_{secrets.token_hex(3)}"
        instances.create_instance(app.store, name)
        password = secrets.token_urlsafe(16)
        instances.add_user(app.store, name, "his", password)
        auth = {"INSTANCE": name, "USERNAME": "his", "PASSWORD": password}
        basic = "Basic " + base64.b64encode(f"his:{password}".encode()).decode()
        json_headers = {"CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": basic}
        soap_headers = {"CONTENT_TYPE": "text/xml; charset=utf-8", "HTTP_SOAPACTION": '""'}
        counter = itertools.count()

        def json_update(prefix: str | None = None, expect: str = "QUEUED") -> Callable[[], None]:
            def run() -> None:
                items = _messages(prefix or f"J{next(counter)}")
                body = json.dumps({"MESSAGES": items}).encode()
                status, data = _call(app, f"/api/v1/{name}/messages", body, json_headers)
                answer = json.loads(data)
                assert status.startswith("200") and answer[expect] == BATCH, data[:300]

            return run

        def soap_update(prefix: str | None = None, expect: str = "QUEUED") -> Callable[[], None]:
            def run() -> None:
                items = _messages(prefix or f"S{next(counter)}")
                body = _envelope("updateMessages", auth, _soap_messages(items))
                status, data = _call(app, "/soap", body, soap_headers)
                assert status.startswith("200") and f"<tns:{expect}>{BATCH}<".encode() in data, (
                    data[:300]
                )

            return run

        def json_search() -> None:
            body = json.dumps({"MAX_RESULTS": BATCH}).encode()
            status, data = _call(app, f"/api/v1/{name}/messages/search", body, json_headers)
            assert status.startswith("200") and json.loads(data)["COUNT"] == BATCH, data[:300]

        def soap_search() -> None:
            body = _envelope("searchMessages", auth, f"<t:MAX_RESULTS>{BATCH}</t:MAX_RESULTS>")
            status, data = _call(app, "/soap", body, soap_headers)
            assert status.startswith("200") and f"<tns:COUNT>{BATCH}<".encode() in data, data[:300]

        json_update("JR")()
        soap_update("SR")()
        cases: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
            ("updateMessages, 100 new", json_update(), soap_update()),
            (
                "updateMessages, 100 re-sent",
                json_update("JR", "ALREADY_QUEUED"),
                soap_update("SR", "ALREADY_QUEUED"),
            ),
            ("searchMessages, page of 100", json_search, soap_search),
        ]
        print(f"database: {url.split(':')[0]}, {args.iterations} timed calls after {args.warmup}")
        print(f"{'case':<30} {'JSON median':>12} {'p95':>8} {'SOAP median':>12} {'p95':>8}")
        for label, as_json, as_soap in cases:
            figures: list[Any] = []
            for run in (as_json, as_soap):
                spans = sorted(_time(run, args.iterations, args.warmup))
                figures += [statistics.median(spans), spans[int(len(spans) * 0.95) - 1]]
            print(
                f"{label:<30} {figures[0]:>10.2f}ms {figures[1]:>6.2f}ms "
                f"{figures[2]:>10.2f}ms {figures[3]:>6.2f}ms"
            )
        app.store.dispose()


if __name__ == "__main__":
    main()
