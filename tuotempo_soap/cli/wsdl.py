"""``wsdl``: the published WSDL."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def wsdl() -> None:
    """The published WSDL."""


@wsdl.command("export")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("wsdl/tuotempo.wsdl"),
    show_default=True,
)
def wsdl_export(output: Path) -> None:
    """Write the WSDL the server publishes (the committed copy is tested against it)."""
    from ..soap.application import build_wsdl

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(build_wsdl())
    click.echo(f"wrote {output}")
