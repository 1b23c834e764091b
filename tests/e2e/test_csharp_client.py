"""A C# client: Mono's ``wsdl`` generates the ASMX proxy from the WSDL the server
serves, ``mcs`` compiles it with ``examples/csharp_client/HisClient.cs`` (the
example's own ``build.sh``), and the program runs every operation against a
real gunicorn; ``toolkits.check_his_client`` says what it must see, and what
the database must hold after it. The proxy raises a plain SoapException for
every fault: the program reads CODE and FIELD from its Detail.

Needs Mono's SDK: ``apt-get install mono-devel``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import toolkits
from tests.e2e.conftest import ROOT, Server

pytestmark = [pytest.mark.e2e, pytest.mark.csharp]
EXAMPLE = ROOT / "examples" / "csharp_client"
INSTALL_HINT = "install it with: apt-get install -y mono-devel"


@pytest.fixture(scope="session")
def mono() -> str:
    """The mono runtime; skips (before any server starts) when the toolkit is missing."""
    # CI sets TUOTEMPO_REQUIRE_CSHARP so a missing toolkit fails instead of skipping.
    give_up = toolkits.give_up("TUOTEMPO_REQUIRE_CSHARP")
    missing = [tool for tool in ("wsdl", "mcs", "mono") if shutil.which(tool) is None]
    if missing:
        give_up(f"Mono's SDK is missing ({', '.join(missing)}): {INSTALL_HINT}")
    return str(shutil.which("mono"))


@pytest.fixture(scope="session")
def builds() -> dict[str, Path]:
    return {}


@pytest.fixture
def client_exe(
    mono: str, server: Server, builds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Built once, from the first server's served WSDL: the program sets the
    proxy's Url from its argument, so it serves every backend's server."""
    if "exe" not in builds:
        build = tmp_path_factory.mktemp("csharp")
        toolkits.build_example(EXAMPLE, server.wsdl_url, build)
        builds["exe"] = build / "HisClient.exe"
    return builds["exe"]


def test_csharp_client_round_trip(client_exe: Path, mono: str, server: Server) -> None:
    who = server.new_instance()
    command = [mono, str(client_exe), server.soap_url, who.instance, who.username, who.password]
    stdout = toolkits.run_client(command, EXAMPLE, "HisClient.exe (C#)")
    toolkits.check_his_client(stdout, server, who, "CS")
