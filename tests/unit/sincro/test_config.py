"""The agent's TOML file: every mistake is named by its key, secrets come from
the environment, and the command says so in one line with exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tuotempo_soap.cli import main
from tuotempo_soap.sincro import SincroConfigError, load_config

GOOD = """
[server]
url = "https://tuotempo.example/soap"
instance = "tt_clinic"
username = "sincro"

[clinic]
database_url = "mysql+pymysql://tuotempo_sincro@db.clinic.lan/agenda"
change_column = "LAST_CHANGE"
timezone = "Europe/Madrid"

[formats]
APP_DATE = "yyyymmdd"
app_start_time = "hhmm"

[status]
booked = "approved"

[state]
path = "state/sincro.db"
"""
ENV = {"TUOTEMPO_SINCRO_PASSWORD": "s3cret", "TUOTEMPO_SINCRO_DATABASE_PASSWORD": "db-pass"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sincro.toml"
    path.write_text(text)
    return path


def test_a_good_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), ENV)
    assert config.password == "s3cret"
    assert config.database_url.password == "db-pass"
    assert config.wsdl_url == "https://tuotempo.example/soap?wsdl"
    assert config.date_formats["APP_DATE"].name == "yyyymmdd"
    assert config.time_formats["APP_START_TIME"].name == "hhmm"
    assert config.status_map == {"BOOKED": "APPROVED"}
    assert config.state_path == tmp_path.resolve() / "state" / "sincro.db"
    assert config.server.batch_size == 500 and config.clinic.deletions == "cancel"


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (('instance = "tt_clinic"\n', ""), "server.instance: Field required"),
        (("[state]", "[state]\npaht = 1"), "state.paht: Extra inputs are not permitted"),
        (('change_column = "LAST_CHANGE"', 'change_column = "X; DROP"'), "clinic.change_column"),
        (('timezone = "Europe/Madrid"', 'timezone = "Mars/Base"'), "clinic.timezone"),
        (('url = "https://', 'url = "ftp://'), "server.url: must be an http"),
        (('"yyyymmdd"', '"julian"'), "formats.APP_DATE: unknown date format 'julian'"),
        (('app_start_time = "hhmm"', 'NOTES = "hhmm"'), "formats.NOTES: is not a date or time"),
        (('"approved"', '"maybe"'), "status.booked"),
        (('database_url = "mysql', 'database_url = "::nonsense'), "clinic.database_url"),
        (("[status]", "[status"), "is not valid TOML"),
    ],
)
def test_mistakes_are_named_by_their_key(tmp_path: Path, edit: tuple[str, str], named: str) -> None:
    assert edit[0] in GOOD
    with pytest.raises(SincroConfigError) as raised:
        load_config(write(tmp_path, GOOD.replace(*edit)), ENV)
    assert named in raised.value.message


def test_the_server_password_must_be_in_the_environment(tmp_path: Path) -> None:
    with pytest.raises(SincroConfigError, match="TUOTEMPO_SINCRO_PASSWORD, which is not set"):
        load_config(write(tmp_path, GOOD), {})


def test_the_command_reports_one_line_and_exit_code_1(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"yyyymmdd"', '"julian"'))
    result = CliRunner().invoke(main, ["sincro", "run", "--once", "--config", str(path)], env=ENV)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "formats.APP_DATE" in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["sincro", "status", "--config", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
