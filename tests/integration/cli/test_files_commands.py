"""``files``: folder settings, importing by hand, the scheduled round, the
cancellations file and the history, through the command line; bad settings are
one line naming the option, never a traceback."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from tests.integration.cli.conftest import Run
from tests.integration.files.conftest import HEADER, local_time, row, write_export
from tuotempo_soap.services import instances

Fresh = Callable[..., instances.Instance]


def test_source_settings_are_shown_listed_and_removed(
    run: Run, fresh: Fresh, tmp_path: Path
) -> None:
    target = fresh()
    missing = run("files", "source", "show", target.name)
    assert missing.exit_code == 1 and "files source set" in missing.stderr
    first = run("files", "source", "set", target.name, "--delimiter", "tab")
    assert first.exit_code == 1 and "--url" in first.stderr

    done = run(
        "files",
        "source",
        "set",
        target.name,
        "--url",
        str(tmp_path),
        "--delimiter",
        "tab",
        "--encoding",
        "Windows-1252",
        "--window-ahead",
        "48",
        "--export",
    )
    assert done.exit_code == 0, done.output
    shown = run("files", "source", "show", target.name).stdout
    for line in (
        f"url: {tmp_path}",
        "delimiter: tab",
        "encoding: Windows-1252",
        "window_ahead_hours: 48",
        "window_past_hours: 24",
        "on_missing: CANCELLED by ADMIN",
        "export_enabled: True",
        "completion: stable",
    ):
        assert line in shown, shown
    assert f"{target.name}\t{tmp_path}\tok" in run("files", "source", "list").stdout

    # Changing one setting keeps the others.
    assert run("files", "source", "set", target.name, "--on-missing", "keep").exit_code == 0
    shown = run("files", "source", "show", target.name).stdout
    assert "on_missing: keep" in shown and "delimiter: tab" in shown

    assert run("files", "source", "remove", target.name).exit_code == 0
    assert run("files", "source", "show", target.name).exit_code == 1


def test_bad_settings_name_the_option(run: Run, fresh: Fresh, tmp_path: Path) -> None:
    target = fresh()
    for options, words in (
        (["--url", "ftp://clinic:secret@files.example.org/in"], "--password-env"),
        (["--url", "gopher://files.example.org/"], "not a way to reach a folder"),
        (["--url", str(tmp_path), "--delimiter", ";;"], "not a delimiter"),
        (["--url", str(tmp_path), "--encoding", "klingon"], "not an encoding"),
        (["--url", str(tmp_path), "--date-format", "dd/mm"], "not a date format"),
        (["--url", str(tmp_path), "--on-missing", "PENDING"], "on-missing is"),
        (["--url", str(tmp_path), "--window-ahead", "0"], "window-ahead-hours must be"),
        (["--url", str(tmp_path), "--password-env", "NOT A NAME"], "environment variable"),
        (["--url", "sftp://files.example.org/in"], "SFTP needs a user name"),
    ):
        refused = run("files", "source", "set", target.name, *options)
        assert refused.exit_code == 1, (options, refused.output)
        assert refused.stderr.startswith("error: ") and words in refused.stderr, refused.stderr


def test_import_by_hand_reports_every_row(run: Run, fresh: Fresh, tmp_path: Path) -> None:
    target = fresh()
    path = write_export(
        tmp_path,
        "agenda.txt",
        [
            row("H1", local_time(1, 9), RESOURCE_NAME="Dra. Peña \u2013 Sur"),
            row("H2", local_time(1, 10), APP_DATE="31/02/2027"),
        ],
        delimiter="\t",
        encoding="cp1252",
    )
    imported = run("files", "import", "--instance", target.name, str(path))
    assert imported.exit_code == 0, imported.output
    assert "agenda.txt: 2 rows, 1 stored (1 new, 0 changed, 0 unchanged), 1 refused" in (
        imported.stdout
    )
    assert "read as Windows-1252, delimiter 'tab', dates dd/mm/yyyy" in imported.stdout
    assert "report: agenda.txt.result.csv" in imported.stdout
    report = (tmp_path / "agenda.txt.result.csv").read_text("cp1252").splitlines()
    assert report[2].split("\t")[:6] == ["3", "H2", "ERROR", "", "INVALID_DATE", "APP_DATE"]
    assert "H1@" not in imported.output.upper()  # no patient data on the terminal

    again = run("files", "import", "--instance", target.name, str(path))
    assert "already imported (same name, size and checksum)" in again.stdout
    forced = run("files", "import", "--instance", target.name, str(path), "--force")
    assert "1 stored (0 new, 0 changed, 1 unchanged)" in forced.stdout

    history = run("files", "history", target.name).stdout.splitlines()
    assert len(history) == 2 and all("agenda.txt\tDONE\t2 rows, 1 refused" in h for h in history)


def test_an_unusable_file_exits_1_with_its_reason(run: Run, fresh: Fresh, tmp_path: Path) -> None:
    target = fresh()
    (tmp_path / "x.csv").write_text("APP_LID;APP_DATE\r\nA;01/01/2027\r\n")
    refused = run("files", "import", "--instance", target.name, str(tmp_path / "x.csv"))
    assert refused.exit_code == 1
    assert "x.csv: not imported: the header has no RESOURCE_LID column" in refused.stdout
    nothing = run("files", "import", "--instance", target.name)
    assert nothing.exit_code == 1 and "files source set" in nothing.stderr
    unknown = run("files", "import", "--instance", "tt_cli_nobody", str(tmp_path))
    assert unknown.exit_code == 1 and "tuotempo-soap instance create" in unknown.stderr


def test_poll_once_reads_the_configured_folder(run: Run, fresh: Fresh, tmp_path: Path) -> None:
    target = fresh()
    run("files", "source", "set", target.name, "--url", str(tmp_path), "--export")
    write_export(tmp_path, "export.csv", [row("P1", local_time(1, 9))])
    first = run("files", "poll", "--instance", target.name)
    assert (
        first.exit_code == 0 and f"{target.name}: export.csv: still being written" in first.stdout
    )
    second = run("files", "poll", "--instance", target.name)
    assert f"{target.name}: export.csv: 1 rows, 1 stored" in second.stdout
    assert run("files", "poll", "--instance", target.name).stdout == ""
    exported = run("files", "export", "--instance", target.name)
    assert exported.exit_code == 0 and "no new cancellations" in exported.stdout

    # Directory import by hand: complete files only, the header-only one too.
    (tmp_path / "later.csv").write_text(";".join(HEADER) + "\r\n")
    by_hand = run("files", "import", "--instance", target.name, "--settle", "0")
    assert "later.csv: 0 rows" in by_hand.stdout


def test_an_unset_password_variable_fails_the_round_with_exit_4(run: Run, fresh: Fresh) -> None:
    target = fresh()
    variable = f"TT_CLI_FILES_{secrets.token_hex(4).upper()}"  # set nowhere
    url = "ftp://127.0.0.1:9/in"
    configured = run(
        "files",
        "source",
        "set",
        target.name,
        "--url",
        url,
        "--username",
        "u",
        "--password-env",
        variable,
    )
    assert configured.exit_code == 0, configured.output
    polled = run("files", "poll", "--instance", target.name)
    assert polled.exit_code == 4 and f"{variable} is not set" in polled.stderr
    assert (
        f"last_error: {variable} is not set" in run("files", "source", "show", target.name).stdout
    )
    refused = run("files", "export", "--instance", target.name)
    assert refused.exit_code == 1 and "--export" in refused.stderr
