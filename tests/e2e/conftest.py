"""A real gunicorn serving the real application on 127.0.0.1, per backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import Credentials, make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    store: Store  # the same database, opened by the test process
    log: Path
    database_url: str

    @property
    def soap_url(self) -> str:
        return f"{self.url}/soap"

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}/soap?wsdl"

    def new_instance(self, **options: object) -> Credentials:
        return make_instance(self.store, **options)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    database_url: str,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    ready_path: str = "/healthz",
    port: int | None = None,
    app: str = "tuotempo_soap.wsgi:application",
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = port or _free_port()
    log = workdir / f"gunicorn-{port}.log"
    env = {
        **os.environ,
        "TUOTEMPO_DATABASE_URL": database_url,
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                return process, url, log
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not answer in 30 s: {log.read_text()[-2000:]}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server the test started: SIGTERM, then SIGKILL if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    else:
        database_url = str(request.getfixturevalue("postgres_url"))
    process, url, log = start_gunicorn(database_url, workdir)
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        yield Server(url=url, store=store, log=log, database_url=database_url)
    finally:
        stop_process(process)
        store.dispose()
