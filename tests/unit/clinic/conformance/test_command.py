"""``clinic check``'s own input errors: one line naming the option, exit 2, no call made."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tuotempo_soap.cli import main
from tuotempo_soap.clinic.conformance.command import clinic_address


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["ftp://clinic.test/clinic"], {}, "URL"),
        (["clinic.test/clinic"], {}, "URL"),
        (["http://clinic.test/clinic", "--timeout", "0"], {}, "--timeout"),
        (["http://clinic.test/clinic", "--skip", "getEverything"], {}, "--skip"),
        (
            ["http://clinic.test/clinic", "--username", "u", "--password-env", "NOT_SET_HERE"],
            {},
            "--password-env",
        ),
        (
            ["http://clinic.test/clinic", "--password-env", "CLINIC_PW"],
            {"CLINIC_PW": "x"},
            "--username",
        ),
    ],
)
def test_bad_input_is_named(args: list[str], env: dict[str, str], named: str) -> None:
    result = CliRunner().invoke(main, ["clinic", "check", *args], env=env)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_the_address_is_the_endpoint_without_its_query() -> None:
    assert clinic_address("http://clinic.test:8100/clinic?wsdl") == "http://clinic.test:8100/clinic"
    assert clinic_address(" https://clinic.test ") == "https://clinic.test/"
