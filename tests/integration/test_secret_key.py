"""The signing key made on first use is one key for every process starting
together, never read half-written, readable by its owner only."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from tuotempo_soap.config import Settings
from tuotempo_soap.services.links import secret_key


def _read_key(data_dir: str, start: multiprocessing.synchronize.Barrier, out: object) -> None:
    settings = Settings.from_env({"TUOTEMPO_DATA_DIR": data_dir})
    start.wait(timeout=30)
    out.put(secret_key(settings))  # type: ignore[attr-defined]


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    context = multiprocessing.get_context("fork")
    count = 8
    start, out = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=_read_key, args=(str(data_dir), start, out)) for _ in range(count)
    ]
    for process in processes:
        process.start()
    keys = [out.get(timeout=20) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert len(set(keys)) == 1 and len(keys[0]) >= 48
    key_file = data_dir / "secret.key"
    assert key_file.read_text().strip() == keys[0]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [path.name for path in data_dir.iterdir()] == ["secret.key"]  # no temporary left


def test_a_configured_key_writes_nothing(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TUOTEMPO_DATA_DIR": str(tmp_path / "data"), "TUOTEMPO_SECRET_KEY": "configured-key"}
    )
    assert secret_key(settings) == "configured-key"
    assert not (tmp_path / "data").exists()
