"""``operator``: back-office accounts and the instances each may see."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from tests.integration.cli.conftest import Run
from tuotempo_soap.services import instances, operators
from tuotempo_soap.store.engine import Store

Fresh = Callable[..., instances.Instance]


def _name() -> str:
    return f"op_{secrets.token_hex(4)}"


def test_add_grant_revoke_and_remove(run: Run, fresh: Fresh, store: Store) -> None:
    first, second = fresh(), fresh()
    who = _name()
    added = run(
        "operator",
        "add",
        who,
        "--instance",
        first.name,
        "--password-stdin",
        input="a-long-password\n",
    )
    assert added.exit_code == 0, added.output
    assert f"added operator {who} ({first.name})" in added.stdout
    assert f"{who}\t{first.name}" in run("operator", "list").stdout

    granted = run("operator", "grant", who, second.name)
    assert granted.exit_code == 0 and second.name in granted.stdout
    assert operators.get_operator(store, who).instances == tuple(sorted((first.name, second.name)))
    revoked = run("operator", "revoke", who, first.name)
    assert revoked.exit_code == 0 and first.name not in revoked.stdout
    assert "all instances" in run("operator", "all-instances", who, "on").stdout

    changed = run("operator", "passwd", who, "--password-stdin", input="another-long-one\n")
    assert changed.exit_code == 0 and "password changed" in changed.stdout
    assert run("operator", "remove", who).exit_code == 0
    assert who not in run("operator", "list").stdout


def test_operator_errors_name_the_fix(run: Run, fresh: Fresh) -> None:
    who = _name()
    short = run("operator", "add", who, "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    unknown = run(
        "operator",
        "add",
        who,
        "--instance",
        "tt_cli_nobody",
        "--password-stdin",
        input="a-long-password\n",
    )
    assert unknown.exit_code == 1 and "tuotempo-soap instance create" in unknown.stderr
    nobody = run("operator", "grant", _name(), fresh().name)
    assert nobody.exit_code == 1 and "no operator named" in nobody.stderr
    refused = run("operator", "add", who, "--password", "secret")
    assert refused.exit_code == 2
