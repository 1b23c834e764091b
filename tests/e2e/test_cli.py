"""The tuotempo-soap command, run as a user would run it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, _free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
        "TUOTEMPO_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'cli.db'}",
    }


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuotempo_soap.cli", *args],
        input=stdin,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_instances_and_users(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    created = cli(
        env, "instance", "create", "tt_clinic", "--country", "IT", "--timezone", "Europe/Rome"
    )
    assert created.returncode == 0 and "tt_clinic" in created.stdout
    again = cli(env, "instance", "create", "tt_clinic")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    bad = cli(env, "instance", "create", "acme")
    assert bad.returncode == 1 and "must start with tt_" in bad.stderr
    bad_zone = cli(env, "instance", "create", "tt_x", "--timezone", "Mars/Olympus")
    assert bad_zone.returncode == 1 and "time zone" in bad_zone.stderr
    assert "tt_clinic\tEurope/Rome\tIT" in cli(env, "instance", "list").stdout

    added = cli(
        env, "user", "add", "tt_clinic", "his", "--password-stdin", stdin="a-long-password\n"
    )
    assert added.returncode == 0, added.stderr
    short = cli(env, "user", "add", "tt_clinic", "his2", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    assert cli(env, "user", "list", "tt_clinic").stdout.split() == ["his"]
    changed = cli(
        env, "user", "passwd", "tt_clinic", "his", "--password-stdin", stdin="another-long-one\n"
    )
    assert changed.returncode == 0
    missing = cli(
        env, "user", "passwd", "tt_clinic", "nobody", "--password-stdin", stdin="another-long-one\n"
    )
    assert missing.returncode == 1 and "no user nobody" in missing.stderr
    assert cli(env, "user", "remove", "tt_clinic", "his").returncode == 0
    assert cli(env, "user", "list", "tt_clinic").stdout.strip() == ""
    unknown = cli(env, "user", "list", "tt_ghost")
    assert unknown.returncode == 1 and "no instance named tt_ghost" in unknown.stderr


def test_disable_enable_and_remove_from_the_shell(env: dict[str, str]) -> None:
    assert cli(env, "instance", "create", "tt_gone").returncode == 0
    off = cli(env, "instance", "disable", "tt_gone")
    assert off.returncode == 0 and "disabled tt_gone" in off.stdout
    assert "disabled since" in cli(env, "instance", "list").stdout
    assert cli(env, "instance", "enable", "tt_gone").returncode == 0
    kept = cli(env, "instance", "remove", "tt_gone", stdin="n\n")
    assert kept.returncode == 1 and "cannot be undone" in kept.stderr
    assert "tt_gone" in cli(env, "instance", "list").stdout
    removed = cli(env, "instance", "remove", "tt_gone", stdin="y\n")
    assert removed.returncode == 0 and "removed tt_gone" in removed.stdout
    assert "tt_gone" not in cli(env, "instance", "list").stdout


def test_the_console_script_runs_the_same_command(env: dict[str, str]) -> None:
    script = Path(sys.executable).with_name("tuotempo-soap")
    if not script.exists():
        pytest.skip("tuotempo-soap is not installed beside this Python")
    result = subprocess.run(
        [str(script), "reservations", "search", "--help"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "--unmasked" in result.stdout


def test_passwords_are_never_arguments(env: dict[str, str]) -> None:
    result = cli(env, "user", "add", "--help")
    assert "--password-stdin" in result.stdout
    assert "--password " not in result.stdout
    refused = cli(env, "user", "add", "tt_x", "his", "--password", "secret")
    assert refused.returncode == 2


def test_every_command_has_help(env: dict[str, str]) -> None:
    for command in (
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["instance", "create"],
        ["instance", "list"],
        ["user", "add"],
        ["user", "passwd"],
        ["user", "remove"],
        ["wsdl", "export"],
    ):
        result = cli(env, *command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout, command


def test_wsdl_export_writes_the_published_contract(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "out.wsdl"
    assert cli(env, "wsdl", "export", "--output", str(target)).returncode == 0
    assert target.read_bytes() == (ROOT / "wsdl" / "tuotempo.wsdl").read_bytes()


def test_bad_settings_are_reported(env: dict[str, str]) -> None:
    result = cli({**env, "TUOTEMPO_MAX_BATCH_ITEMS": "lots"}, "instance", "list")
    assert result.returncode == 1 and "TUOTEMPO_MAX_BATCH_ITEMS" in result.stderr


def test_serve_demo_prints_working_credentials(env: dict[str, str]) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tuotempo_soap.cli", "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("curl "):
                break
        output = "".join(lines)
        password = re.search(r"user demo, password (\S+)", output)
        assert password, output
        curl = lines[-1]
        envelope = re.search(r"--data '([^']+)'", curl)
        assert envelope, curl
        for _ in range(50):
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}/soap",
                    data=envelope.group(1).encode(),
                    headers={"Content-Type": "text/xml; charset=utf-8"},
                    timeout=10,
                )
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert "<tns:RESULT>OK</tns:RESULT>" in answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
