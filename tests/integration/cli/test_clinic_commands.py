"""``clinic remove``, ``portal remove-center``, and the errors that say what to
set up first (the integration, the clinic password's variable)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from tests.integration.cli.conftest import Run
from tuotempo_soap.services import instances

Fresh = Callable[..., instances.Instance]
WSDL = "http://clinic.invalid/ws?wsdl"


def test_clinic_remove_forgets_the_integration(run: Run, fresh: Fresh) -> None:
    target = fresh()
    assert run("clinic", "set", target.name, "--wsdl", WSDL).exit_code == 0
    assert "wsdl_url: " + WSDL in run("clinic", "show", target.name).stdout

    removed = run("clinic", "remove", target.name)
    assert removed.exit_code == 0 and "no longer uses clinic web services" in removed.stdout
    shown = run("clinic", "show", target.name)
    assert shown.exit_code == 1 and "tuotempo-soap clinic set" in shown.stderr
    again = run("clinic", "remove", target.name)
    assert again.exit_code == 1 and "has no clinic web services configured" in again.stderr


def test_clinic_remove_is_refused_while_a_portal_reaches_centers_through_it(
    run: Run, fresh: Fresh
) -> None:
    clinic, hub = fresh(), fresh()
    run("clinic", "set", clinic.name, "--wsdl", WSDL)
    assert run("portal", "add-center", hub.name, "C7", "--via", clinic.name).exit_code == 0
    refused = run("clinic", "remove", clinic.name)
    assert refused.exit_code == 1
    assert f"tuotempo-soap portal remove-center {hub.name} C7" in refused.stderr

    taken_off = run("portal", "remove-center", hub.name, "C7")
    assert taken_off.exit_code == 0 and "center C7 removed" in taken_off.stdout
    assert "C7" not in run("portal", "centers", hub.name).stdout
    assert run("clinic", "remove", clinic.name).exit_code == 0


def test_portal_remove_center_of_an_unknown_center(run: Run, fresh: Fresh) -> None:
    hub = fresh()
    missing = run("portal", "remove-center", hub.name, "C404")
    assert missing.exit_code == 1 and f"{hub.name} has no center C404" in missing.stderr
    assert "tuotempo-soap portal centers" in missing.stderr


def test_an_unset_clinic_password_variable_is_named_before_any_call(run: Run, fresh: Fresh) -> None:
    target = fresh()
    variable = f"TT_CLI_TEST_PASSWORD_{secrets.token_hex(4).upper()}"  # set nowhere
    configured = run(
        "clinic",
        "set",
        target.name,
        "--wsdl",
        WSDL,
        "--username",
        "platform",
        "--password-env",
        variable,
    )
    assert configured.exit_code == 0, configured.output

    synced = run("portal", "sync-centers", target.name)
    assert synced.exit_code == 1
    assert f"{variable} is not set" in synced.stderr and "export" in synced.stderr

    polled = run("poll", "--instance", target.name)
    assert polled.exit_code == 4 and f"{variable} is not set" in polled.stderr
    assert f"last_error: {variable} is not set" in run("clinic", "show", target.name).stdout


def test_polling_an_instance_without_an_integration_says_how_to_set_one(
    run: Run, fresh: Fresh
) -> None:
    target = fresh()
    polled = run("poll", "--instance", target.name)
    assert polled.exit_code == 1 and "tuotempo-soap clinic set" in polled.stderr
    unknown = run("poll", "--instance", "tt_cli_nobody")
    assert unknown.exit_code == 1 and "tuotempo-soap instance create" in unknown.stderr
