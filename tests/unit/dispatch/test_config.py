"""The dispatch configuration: a good file, every refusal naming its key,
secrets from the environment, route precedence, and the no-file default."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tuotempo_soap.dispatch.config import (
    ConfigurationError,
    DispatchConfig,
    ProviderConfig,
    load_dispatch_config,
    parse_dispatch_config,
)
from tuotempo_soap.dispatch.ratelimit import RateLimiter
from tuotempo_soap.dispatch.senders import (
    BasicAuth,
    BearerAuth,
    FileSender,
    HeaderAuth,
    HttpSender,
    HttpSettings,
    SmtpSender,
    SmtpSettings,
)
from tuotempo_soap.errors import TuotempoError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "dispatch.example.json"

ENV = {
    "SMTP_PASSWORD": "smtp-pw",
    "MAIL_RECEIPT_SECRET": "mail-secret",
    "SMS_PASSWORD": "sms-pw",
    "SMS_RECEIPT_SECRET": "sms-secret",
    "SMS_TOKEN": "tok",
    "SMS_KEY": "key",
}

GOOD: dict[str, Any] = {
    "providers": {
        "smtp-main": {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": 2525,
            "starttls": False,
            "ssl": False,
            "username": None,
            "password_env": "SMTP_PASSWORD",
            "from": "reminders@clinic.example",
            "timeout_seconds": 10,
            "rate_per_second": 20,
            "receipts": {
                "secret_env": "MAIL_RECEIPT_SECRET",
                "auth": "hmac-sha256",
                "signature_header": "X-Signature",
                "format": "json",
                "id_field": "message_id",
                "reference_field": "reference",
                "status_field": "status",
                "error_field": "error",
            },
        },
        "sms-gw": {
            "type": "http",
            "url": "http://127.0.0.1:9999/sms",
            "method": "POST",
            "format": "json",
            "auth": {"type": "basic", "username": "u", "password_env": "SMS_PASSWORD"},
            "fields": {
                "to": "to",
                "text": "text",
                "sender_id": "from",
                "reference": "client_ref",
                "subject": None,
                "language": None,
            },
            "static_fields": {"channel": "sms"},
            "idempotency_header": "Idempotency-Key",
            "message_id_path": "messages.0.id",
            "timeout_seconds": 10,
            "rate_per_second": 5,
            "receipts": {
                "secret_env": "SMS_RECEIPT_SECRET",
                "auth": "shared-secret",
                "secret_header": "X-Receipt-Secret",
                "format": "form",
                "id_field": "id",
                "reference_field": "client_ref",
                "status_field": "stat",
                "error_field": "err",
            },
        },
        "console": {"type": "file", "path": "outbox-sent.log"},
    },
    "routes": {
        "*": {"EMAIL": "smtp-main", "SMS": "sms-gw", "*": "console"},
        "tt_acme": {"SMS": "sms-gw"},
    },
}


def parse(data: object, tmp_path: Path, env: dict[str, str] | None = None) -> DispatchConfig:
    return parse_dispatch_config(data, tmp_path, ENV if env is None else env)


def test_good_configuration(tmp_path: Path) -> None:
    config = parse(GOOD, tmp_path)
    assert config.provider_names == ("smtp-main", "sms-gw", "console")

    smtp = config.provider("smtp-main")
    assert smtp.settings == SmtpSettings(
        host="127.0.0.1", port=2525, from_address="reminders@clinic.example", timeout_seconds=10
    )
    assert smtp.rate_per_second == 20

    http = config.provider("sms-gw").settings
    assert isinstance(http, HttpSettings)
    assert http.url == "http://127.0.0.1:9999/sms"
    assert http.auth == BasicAuth("u", "sms-pw")
    assert http.fields == {
        "to": "to",
        "text": "text",
        "sender_id": "from",
        "reference": "client_ref",
    }
    assert http.static_fields == {"channel": "sms"}
    assert http.message_id_path == "messages.0.id"

    assert config.provider("console").settings == tmp_path / "outbox-sent.log"

    sms_receipts = config.receipt_settings("sms-gw")
    assert sms_receipts is not None
    assert (sms_receipts.auth, sms_receipts.header, sms_receipts.format) == (
        "shared-secret",
        "X-Receipt-Secret",
        "form",
    )
    assert sms_receipts.secret == "sms-secret"
    assert config.receipt_settings("console") is None
    assert config.receipt_settings("no-such-provider") is None


def test_the_example_file_loads(tmp_path: Path) -> None:
    config = load_dispatch_config(EXAMPLE, tmp_path, env=ENV)
    assert config.provider_name_for("tt_any", "EMAIL") == "smtp-main"
    assert config.provider_name_for("tt_any", "WHATSAPP") == "console"


def test_secrets_come_from_the_environment_and_stay_out_of_reprs(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["providers"]["smtp-main"]["username"] = "mailer"
    data["providers"]["bearer"] = {
        "type": "http",
        "url": "https://gw.example/send",
        "auth": {"type": "bearer", "token_env": "SMS_TOKEN"},
    }
    data["providers"]["keyed"] = {
        "type": "http",
        "url": "https://gw.example/send",
        "auth": {"type": "header", "name": "X-Api-Key", "value_env": "SMS_KEY"},
    }
    config = parse(data, tmp_path)
    smtp = config.provider("smtp-main").settings
    assert isinstance(smtp, SmtpSettings)
    assert (smtp.username, smtp.password) == ("mailer", "smtp-pw")
    bearer = config.provider("bearer").settings
    keyed = config.provider("keyed").settings
    assert isinstance(bearer, HttpSettings) and isinstance(keyed, HttpSettings)
    assert bearer.auth == BearerAuth("tok")
    assert keyed.auth == HeaderAuth("X-Api-Key", "key")
    shown = repr(config.providers)
    for secret in ENV.values():
        assert f"'{secret}'" not in shown


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    data = {
        "providers": {
            "mail": {"type": "smtp", "host": "relay.example", "starttls": True},
            "tls": {"type": "smtp", "host": "relay.example", "ssl": True},
            "gw": {"type": "http", "url": "https://gw.example/send"},
            "log": {"type": "file"},
            "abs": {"type": "file", "path": str(tmp_path / "elsewhere" / "x.log")},
        },
        "routes": {"*": {"*": "log"}},
    }
    config = parse(data, tmp_path, env={})
    mail, tls, gw = (config.provider(n).settings for n in ("mail", "tls", "gw"))
    assert isinstance(mail, SmtpSettings) and isinstance(tls, SmtpSettings)
    assert (mail.port, tls.port) == (587, 465)
    assert gw == HttpSettings(url="https://gw.example/send")
    assert config.provider("log").settings == tmp_path / "outbox-sent.log"
    assert config.provider("abs").settings == tmp_path / "elsewhere" / "x.log"
    assert config.rate_limiter("gw").unlimited


def test_comment_keys_are_ignored(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["_comment"] = "top"
    data["providers"]["sms-gw"]["_why"] = "cheapest gateway"
    data["routes"]["_comment"] = "routes"
    parse(data, tmp_path)


Mutation = Callable[[dict[str, Any]], None]


def setting(path: str, value: object) -> Mutation:
    """Set (or, with ``...``, delete) a dotted key; provider names contain no dots here."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return mutate


def both(first: Mutation, second: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        first(data)
        second(data)

    return mutate


P = "providers.sms-gw"
M = "providers.smtp-main"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (setting("providers", ...), "providers is missing"),
        (setting("providers", {}), "providers must name at least one provider"),
        (setting("providers", []), "providers must be a JSON object"),
        (setting("routes", ...), "routes is missing"),
        (setting("route", {}), "route is not a known setting"),
        (setting(f"{P}.type", "fax"), f"{P}.type must be one of: smtp, http, file (not 'fax')"),
        (setting(f"{P}.type", ...), f"{P}.type is missing"),
        (setting(f"{P}.url", ...), f"{P}.url is missing"),
        (setting(f"{P}.url", ""), f"{P}.url must not be empty"),
        (setting(f"{P}.url", 5), f"{P}.url must be a string"),
        (setting(f"{P}.url", "ftp://gw.example/x"), f"{P}.url must be an http:// or https://"),
        (setting(f"{P}.url", "http://u:p@gw.example/x"), f"{P}.url must not carry credentials"),
        (setting(f"{P}.method", "GET"), f"{P}.method must be one of: POST, PUT, PATCH"),
        (setting(f"{P}.format", "xml"), f"{P}.format must be one of: json, form (not 'xml')"),
        (setting(f"{P}.timeout", 3), f"{P}.timeout is not a known setting"),
        (setting(f"{P}.timeout_seconds", 0), f"{P}.timeout_seconds must be more than 0"),
        (setting(f"{P}.timeout_seconds", True), f"{P}.timeout_seconds must be a number"),
        (setting(f"{P}.rate_per_second", -2), f"{P}.rate_per_second must be more than 0"),
        (setting(f"{P}.rate_per_second", float("inf")), f"{P}.rate_per_second must be more than"),
        (setting(f"{P}.burst", 0), f"{P}.burst must be between 1 and 100000"),
        (setting(f"{P}.auth.type", "digest"), f"{P}.auth.type must be one of"),
        (setting(f"{P}.auth.password_env", ...), f"{P}.auth.password_env is missing"),
        (setting(f"{P}.auth.password_env", "NOPE"), f"{P}.auth.password_env names NOPE, which"),
        (setting(f"{P}.auth.username", ...), f"{P}.auth.username is missing"),
        (setting(f"{P}.auth.token_env", "X"), f"{P}.auth.token_env is not a known setting"),
        (setting(f"{P}.fields.to", ...), f"{P}.fields.to is missing"),
        (setting(f"{P}.fields.text", None), f"{P}.fields.text is missing"),
        (setting(f"{P}.fields.phone", "x"), f"{P}.fields.phone is not a known setting"),
        (setting(f"{P}.fields.sender_id", "to"), f"{P}.fields.sender_id uses 'to', already"),
        (setting(f"{P}.static_fields.meta", {"a": 1}), f"{P}.static_fields.meta must be a str"),
        (setting(f"{P}.static_fields.to", "x"), f"{P}.static_fields.to is also a mapped field"),
        (setting(f"{P}.idempotency_header", "Bad Header"), f"{P}.idempotency_header is not a"),
        (setting(f"{P}.receipts.secret_env", ...), f"{P}.receipts.secret_env is missing"),
        (setting(f"{P}.receipts.auth", "md5"), f"{P}.receipts.auth must be one of"),
        (setting(f"{P}.receipts.format", "xml"), f"{P}.receipts.format must be one of"),
        (setting(f"{P}.receipts.signature_header", "X"), f"{P}.receipts.signature_header does"),
        (setting(f"{P}.receipts.status", "x"), f"{P}.receipts.status is not a known setting"),
        (setting(f"{M}.host", ...), f"{M}.host is missing"),
        (setting(f"{M}.port", "2525"), f"{M}.port must be a whole number"),
        (setting(f"{M}.port", 70000), f"{M}.port must be between 1 and 65535"),
        (setting(f"{M}.ssl", "yes"), f"{M}.ssl must be true or false"),
        (both(setting(f"{M}.ssl", True), setting(f"{M}.starttls", True)), f"{M}.starttls cannot"),
        (setting(f"{M}.from", "nobody"), f"{M}.from is not an e-mail address"),
        (setting(f"{M}.url", "http://x"), f"{M}.url is not a known setting"),
        (setting(f"{M}.username", "mailer"), None),  # password_env is set: fine
        (setting("providers.console.rate_per_second", 1), "providers.console.rate_per_second"),
        (setting("providers.console.path", ""), "providers.console.path must not be empty"),
        (setting("routes.tt_acme.SMS", "sms-gateway"), "routes.tt_acme.SMS names unknown provider"),
        (setting("routes.*.EMIAL", "console"), "routes.*.EMIAL is not a channel"),
        (setting("routes.tt_acme", "sms-gw"), "routes.tt_acme must be a JSON object"),
        (setting("routes.tt_acme.SMS", None), "routes.tt_acme.SMS is missing"),
    ],
)
def test_every_refusal_names_its_key(mutate: Mutation, message: str | None, tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    mutate(data)
    if message is None:
        parse(data, tmp_path)
        return
    with pytest.raises(ConfigurationError) as caught:
        parse(data, tmp_path)
    assert str(caught.value).startswith(message)
    key = message.split(" ")[0]
    assert caught.value.field == key
    assert isinstance(caught.value, TuotempoError)


def test_username_needs_a_password_variable(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["providers"]["smtp-main"].update(username="mailer", password_env=None)
    with pytest.raises(ConfigurationError, match=r"^providers\.smtp-main\.password_env is missing"):
        parse(data, tmp_path)


def test_missing_secret_variable_is_refused_at_load(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "SMS_RECEIPT_SECRET"}
    with pytest.raises(ConfigurationError) as caught:
        parse(GOOD, tmp_path, env=env)
    assert str(caught.value) == (
        "providers.sms-gw.receipts.secret_env names SMS_RECEIPT_SECRET, "
        "which is not set in the environment"
    )


def test_receipts_need_an_id_or_a_reference(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["providers"]["sms-gw"]["receipts"].update(id_field=None, reference_field=None)
    with pytest.raises(ConfigurationError, match=r"receipts\.id_field and reference_field"):
        parse(data, tmp_path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigurationError, match="cannot read dispatch configuration"):
        load_dispatch_config(missing, tmp_path, env=ENV)
    broken = tmp_path / "broken.json"
    broken.write_text('{"providers": ', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"broken\.json is not valid JSON"):
        load_dispatch_config(broken, tmp_path, env=ENV)
    listed = tmp_path / "list.json"
    listed.write_text("[]", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="the configuration must be a JSON object"):
        load_dispatch_config(listed, tmp_path, env=ENV)


def test_load_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dispatch.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    config = load_dispatch_config(path, tmp_path / "data", env=ENV)
    assert config.provider("console").settings == tmp_path / "data" / "outbox-sent.log"


def test_route_precedence(tmp_path: Path) -> None:
    providers = {name: {"type": "file", "path": f"{name}.log"} for name in "abcd"}
    data = {
        "providers": providers,
        "routes": {
            "tt_acme": {"SMS": "a", "*": "b"},
            "*": {"SMS": "c", "*": "d"},
        },
    }
    config = parse(data, tmp_path)
    assert config.provider_name_for("tt_acme", "SMS") == "a"  # instance + channel
    assert config.provider_name_for("tt_acme", "sms") == "a"  # channels in any case
    assert config.provider_name_for("tt_acme", "EMAIL") == "b"  # instance + *
    assert config.provider_name_for("tt_other", "SMS") == "c"  # * + channel
    assert config.provider_name_for("tt_other", "EMAIL") == "d"  # * + *


def test_no_matching_route_is_a_configuration_error(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["routes"] = {"tt_acme": {"SMS": "sms-gw"}}
    config = parse(data, tmp_path)
    with pytest.raises(ConfigurationError, match=r"no route for instance 'tt_x', channel EMAIL"):
        config.sender_for("tt_x", "EMAIL")


def test_senders_and_limiters_are_built_once(tmp_path: Path) -> None:
    config = parse(GOOD, tmp_path)
    sms = config.sender_for("tt_acme", "SMS")
    assert isinstance(sms, HttpSender)
    assert config.sender_for("tt_other", "SMS") is sms
    assert isinstance(config.sender_for("tt_other", "EMAIL"), SmtpSender)
    assert isinstance(config.sender_for("tt_other", "PUSH"), FileSender)
    limiter = config.rate_limiter("sms-gw")
    assert isinstance(limiter, RateLimiter)
    assert limiter.rate_per_second == 5
    assert config.rate_limiter("sms-gw") is limiter
    assert config.rate_limiter("console").unlimited
    with pytest.raises(ConfigurationError, match="no provider named 'nope'"):
        config.rate_limiter("nope")
    config.close()


def test_close_closes_every_built_sender_even_if_one_fails(tmp_path: Path) -> None:
    closed: list[str] = []

    class Probe:
        def __init__(self, name: str, fail: bool) -> None:
            self.name, self.fail = name, fail

        def send(self, message: object) -> object:
            raise NotImplementedError

        def close(self) -> None:
            closed.append(self.name)
            if self.fail:
                raise RuntimeError("stuck")

    config = parse(GOOD, tmp_path)
    config._senders = {"a": Probe("a", True), "b": Probe("b", False)}  # type: ignore[dict-item]
    config.close()
    assert closed == ["a", "b"]


def test_no_file_gives_the_console_default(tmp_path: Path) -> None:
    config = load_dispatch_config(None, tmp_path, env={})
    assert config.provider_names == ("console",)
    for instance, channel in [("tt_a", "SMS"), ("tt_b", "EMAIL"), ("x", "WHATSAPP")]:
        assert config.provider_name_for(instance, channel) == "console"
    sender = config.sender_for("tt_a", "SMS")
    assert isinstance(sender, FileSender)
    assert sender.path == tmp_path / "outbox-sent.log"
    assert config.rate_limiter("console").unlimited
    assert config.receipt_settings("console") is None


def test_routes_built_in_code_are_checked_too(tmp_path: Path) -> None:
    console = ProviderConfig("console", "file", tmp_path / "x.log")
    with pytest.raises(ConfigurationError, match=r"routes\.tt\.SMS names unknown provider 'gw'"):
        DispatchConfig({"console": console}, {("tt", "SMS"): "gw"})
