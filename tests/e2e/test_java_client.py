"""A Java client: JAX-WS ``wsimport`` generates classes from the WSDL the server
serves, ``javac`` compiles them with ``examples/java_client/HisClient.java``
(the example's own ``build.sh``), and the program runs every operation against
a real gunicorn; ``toolkits.check_his_client`` says what it must see, and what
the database must hold after it.

Needs a JDK and the JAX-WS RI: ``apt-get install default-jdk-headless jaxws``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import toolkits
from tests.e2e.conftest import ROOT, Server

pytestmark = [pytest.mark.e2e, pytest.mark.java]
EXAMPLE = ROOT / "examples" / "java_client"
JAXWS = Path("/usr/share/java/jaxws-rt.jar")
INSTALL_HINT = "install it with: apt-get install -y default-jdk-headless jaxws"


@pytest.fixture(scope="session")
def jaxws() -> Path:
    """The JAX-WS runtime; skips (before any server starts) when the toolkit is missing."""
    # CI sets TUOTEMPO_REQUIRE_JAVA so a missing toolkit fails instead of skipping.
    give_up = toolkits.give_up("TUOTEMPO_REQUIRE_JAVA")
    missing = [tool for tool in ("wsimport", "javac", "java") if shutil.which(tool) is None]
    if missing or not JAXWS.is_file():
        give_up(f"JAX-WS is missing ({', '.join(missing) or JAXWS}): {INSTALL_HINT}")
    return JAXWS


@pytest.fixture(scope="session")
def builds() -> dict[str, Path]:
    return {}


@pytest.fixture
def java_classes(
    jaxws: Path, server: Server, builds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Built once, from the first server's served WSDL: the program takes the WSDL
    URL at run time, so the classes serve every backend's server."""
    if "classes" not in builds:
        build = tmp_path_factory.mktemp("java")
        toolkits.build_example(EXAMPLE, server.wsdl_url, build)
        builds["classes"] = build / "classes"
    return builds["classes"]


def test_java_client_round_trip(java_classes: Path, jaxws: Path, server: Server) -> None:
    who = server.new_instance()
    command = [
        "java",
        "-cp",
        f"{java_classes}:{jaxws}",
        "HisClient",
        server.wsdl_url,
        who.instance,
        who.username,
        who.password,
    ]
    stdout = toolkits.run_client(command, EXAMPLE, "HisClient (Java)")
    toolkits.check_his_client(stdout, server, who, "JAVA")
