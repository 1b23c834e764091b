"""The settings model: every TUOTEMPO_* variable read from one place, the same
defaults as ever, and a refusal that names the variable and what it expects."""

from __future__ import annotations

import dataclasses
from ipaddress import ip_network
from pathlib import Path

import pytest

from tuotempo_soap.config import Settings, SettingsError, env_name


def test_the_defaults_give_an_embedded_server_in_the_working_directory() -> None:
    settings = Settings.from_env({})
    data_dir = Path("tuotempo-data").resolve()
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{data_dir / 'tuotempo.db'}"
    assert settings.is_sqlite and settings.auto_migrate
    assert (settings.max_batch_items, settings.max_page_size, settings.default_page_size) == (
        1000,
        500,
        100,
    )
    assert settings.max_body_bytes == 8 * 1024 * 1024
    assert (settings.worker_batch_size, settings.worker_concurrency) == (20, 16)
    assert (settings.secret_key, settings.public_url, settings.senders_file) == (None, None, None)
    assert settings.log_level == "INFO" and settings.soap_engine == "fast"


def test_every_field_has_its_variable_and_says_what_it_expects() -> None:
    for field in dataclasses.fields(Settings):
        assert env_name(field.name) == "TUOTEMPO_" + field.name.upper()
        info = Settings.__pydantic_fields__[field.name]  # type: ignore[attr-defined]
        assert info.description, f"{field.name} has no description for its error message"


def test_values_are_read_and_tidied() -> None:
    settings = Settings.from_env(
        {
            "TUOTEMPO_DATA_DIR": "/srv/tuotempo",
            "TUOTEMPO_AUTO_MIGRATE": "off",
            "TUOTEMPO_MAX_PAGE_SIZE": "50",
            "TUOTEMPO_DEFAULT_PAGE_SIZE": "80",  # above the maximum: the maximum
            "TUOTEMPO_TRUSTED_PROXIES": "10.1.2.3/8, ::1",
            "TUOTEMPO_PUBLIC_URL": "https://memo.example.com/tt/",
            "TUOTEMPO_LOG_LEVEL": "debug",
            "TUOTEMPO_SOAP_ENGINE": " Spyne ",
            "TUOTEMPO_SENDERS_FILE": "/etc/tuotempo/senders.json",
        }
    )
    assert settings.database_url == "sqlite:////srv/tuotempo/tuotempo.db"
    assert settings.auto_migrate is False
    assert (settings.max_page_size, settings.default_page_size) == (50, 50)
    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("::1"))
    assert settings.public_url == "https://memo.example.com/tt"
    assert settings.log_level == "DEBUG" and settings.soap_engine == "spyne"
    assert settings.senders_file == Path("/etc/tuotempo/senders.json")


def test_an_empty_variable_means_the_default() -> None:
    blank = {f"TUOTEMPO_{name}": "" for name in ("MAX_PAGE_SIZE", "SECRET_KEY", "DATA_DIR")}
    settings = Settings.from_env({**blank, "TUOTEMPO_TRUSTED_PROXIES": "  "})
    assert settings.max_page_size == 500 and settings.secret_key is None
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "::1/128"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TUOTEMPO_MAX_BATCH_ITEMS", "lots", "a whole number, at least 1"),
        ("TUOTEMPO_MAX_PAGE_SIZE", "0", "a whole number, at least 1"),
        ("TUOTEMPO_MAX_BODY_BYTES", "100", "a whole number, at least 1024"),
        ("TUOTEMPO_TRUSTED_PROXY_HOPS", "-1", "a whole number, at least 0"),
        ("TUOTEMPO_AUTH_LOCK_SECONDS", "0", "a number more than 0"),
        ("TUOTEMPO_DB_LOCK_TIMEOUT", "inf", "a number of seconds, 0 (no bound) or more"),
        ("TUOTEMPO_DB_CONNECT_TIMEOUT", "0", "a number of seconds more than 0"),
        ("TUOTEMPO_AUTO_MIGRATE", "perhaps", "true or false"),
        ("TUOTEMPO_SOAP_ENGINE", "zeep", "fast or spyne"),
        ("TUOTEMPO_TRUSTED_PROXIES", "10.0.0.0/8, nginx", "IP addresses or networks"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_what_it_expects(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name} must be ") and expected in message
    assert message.endswith(f"not {value!r}")
    assert "\n" not in message and "pydantic" not in message


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TUOTEMPO_MAX_PAGE_SIZE": "x", "TUOTEMPO_WORKER_CONCURRENCY": "y"})
    assert "TUOTEMPO_MAX_PAGE_SIZE" in str(refused.value)
    assert "TUOTEMPO_WORKER_CONCURRENCY" in str(refused.value)


def test_a_given_mapping_is_read_alone_and_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TUOTEMPO_MAX_PAGE_SIZE", "7")
    monkeypatch.setenv("TUOTEMPO_TEST_SOMETHING_ELSE", "ignored")
    assert Settings.from_env().max_page_size == 7
    assert Settings.from_env({}).max_page_size == 500


def test_secrets_stay_out_of_the_repr() -> None:
    settings = Settings.from_env({"TUOTEMPO_SECRET_KEY": "do-not-print-me"})
    assert settings.secret_key == "do-not-print-me"
    assert "do-not-print-me" not in repr(settings)


def test_a_copy_with_changes_is_checked_like_the_original() -> None:
    settings = Settings.from_env({})
    copy = dataclasses.replace(settings, max_batch_items=5, log_level="warning")
    assert (copy.max_batch_items, copy.log_level) == (5, "WARNING")
    assert copy.database_url == settings.database_url
    with pytest.raises(ValueError, match="max_batch_items"):
        dataclasses.replace(settings, max_batch_items=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_batch_items = 3  # type: ignore[misc]
