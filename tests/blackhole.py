"""A database that accepts connections and never answers: a TCP port on
127.0.0.1 whose connections are accepted, held open, never read from or
written to. Closing it closes every held connection, which releases whatever
still waits on one. ``answered_within`` bounds a call that might hang on it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")


class Blackhole:
    MAX_HELD = 256  # beyond this, connections wait in the listen backlog: still no answer

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)
        self._thread.start()

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/nowhere"

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while not self._stop.is_set():
            if self.accepted >= self.MAX_HELD:
                self._stop.wait(0.1)
                continue
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._held.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
        with self._lock:
            held, self._held = self._held, []
        for connection in held:
            connection.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def answered_within(seconds: float, call: Callable[[], T]) -> tuple[T, float]:
    """(result, elapsed) of ``call``, failing if it takes longer than ``seconds``.

    The call runs in a thread so that a hang fails the test instead of the
    run; closing the database stand-in afterwards releases it.
    """
    outcome: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"no answer within {seconds} s"
    if errors:
        raise errors[0]
    return outcome[0], elapsed
