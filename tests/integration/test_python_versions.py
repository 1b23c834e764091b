"""Spyne 2.14 imports and builds both published WSDLs, byte for byte, on every
supported Python (3.11, 3.12, 3.13), each in a fresh interpreter.

Spyne's vendored ``six`` does not import on 3.12+ and ``cgi`` is gone from 3.13;
``tuotempo_soap/soap/compat.py`` and the ``legacy-cgi`` dependency make up for
both. An interpreter that is not installed (looked up in pyenv, then on PATH) is
skipped with the reason, unless ``TUOTEMPO_REQUIRE_PY313=1`` (CI) makes it a
failure. For a version other than the running one, the test needs an
environment with our dependencies: it builds one with that interpreter's
``venv`` and ``pip`` (install_requires from setup.cfg, environment markers
included) and keeps it under ``~/.cache/tuotempo-soap`` keyed by the exact
interpreter version and the requirements, so later runs start at once. The
package itself is imported from this checkout, never installed there.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ("3.11", "3.12", "3.13")
REQUIRE_ENV = "TUOTEMPO_REQUIRE_PY313"

# Runs in the interpreter under test. compat is imported on its own first, the
# way every place that uses Spyne does. Modules must be loaded through
# exec_module: the load_module() fallback of 3.12 and 3.13 is deprecated and
# warns. (3.11 still consults the vendored importer's find_module for names no
# other finder knows, e.g. Spyne's ``import thread`` probe; that warning is
# 3.11's own and harmless.)
PROBE = textwrap.dedent(
    """
    import sys
    import warnings
    from pathlib import Path

    import tuotempo_soap.soap.compat  # noqa: F401
    import collections.abc
    import urllib.parse

    own_spec = collections.abc.__spec__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import spyne
        from spyne.server.wsgi import WsgiApplication  # noqa: F401  (imports cgi)
        from spyne.util.six.moves.collections_abc import MutableSet
        from spyne.util.six.moves.urllib.parse import urlencode
    fallbacks = [str(w.message) for w in caught if "load_module" in str(w.message)]
    assert not fallbacks, fallbacks

    assert sys.modules["spyne.util.six.moves.collections_abc"] is collections.abc
    assert MutableSet is collections.abc.MutableSet
    assert urlencode is urllib.parse.urlencode
    # A moved module is the real one and keeps its own spec, as under 3.11.
    assert collections.abc.__spec__ is own_spec, collections.abc.__spec__

    from tuotempo_soap.soap.application import build_wsdl
    from examples.clinic_server.app import build_wsdl as build_clinic_wsdl

    out = Path(sys.argv[1])
    (out / "tuotempo.wsdl").write_bytes(build_wsdl())
    (out / "clinic.wsdl").write_bytes(build_clinic_wsdl())
    print("%d.%d" % sys.version_info[:2])
    """
)


def _required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def _find_interpreter(version: str) -> Path | None:
    """The newest pyenv build of ``version``, else ``python<version>`` on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    builds = [
        path
        for path in (pyenv_root / "versions").glob(f"{version}.*")
        if re.fullmatch(rf"{re.escape(version)}\.\d+", path.name)
        and (path / "bin" / "python").exists()
    ]
    if builds:
        newest = max(builds, key=lambda path: int(path.name.rsplit(".", 1)[1]))
        candidate: Path | None = newest / "bin" / "python"
    else:
        found = shutil.which(f"python{version}")
        candidate = Path(found) if found else None
    if candidate is None:
        return None
    # A pyenv shim is on PATH even when that version is not selected: it must run.
    probe = subprocess.run(
        [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    )
    return candidate if probe.returncode == 0 and probe.stdout.strip() == version else None


def _install_requires() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    block = parser["options"]["install_requires"]
    lines = (line.split("#", 1)[0].strip() for line in block.splitlines())
    return [line for line in lines if line]


def _environment(interpreter: Path) -> Path:
    """A venv of ``interpreter`` with install_requires, built once and reused."""
    full_version = subprocess.run(
        [str(interpreter), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    requirements = _install_requires()
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tuotempo-soap"
    target = cache / f"py{full_version}-{key}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    building = cache / f"{target.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([str(interpreter), "-m", "venv", str(building)], check=True)
    requirements_file = building / "requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n")
    pip = [str(building / "bin" / "python"), "-m", "pip", "install", "-q"]
    result = subprocess.run(
        [*pip, "-r", str(requirements_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.fail(f"pip could not install our dependencies on {full_version}:\n{result.stderr}")
    # venv scripts hold absolute paths; the interpreter itself does not care
    # where its directory lives, so a rename is safe for `python -m ...` use.
    try:
        building.rename(target)
    except OSError:  # another run finished the same environment first
        shutil.rmtree(building, ignore_errors=True)
    return python


@pytest.mark.parametrize("version", VERSIONS)
def test_spyne_imports_and_builds_the_same_wsdls(version: str, tmp_path: Path) -> None:
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        python = Path(sys.executable)
    else:
        interpreter = _find_interpreter(version)
        if interpreter is None:
            reason = f"Python {version} is not installed (no pyenv version, no python{version})"
            if _required():
                pytest.fail(f"{reason}, and {REQUIRE_ENV}=1")
            pytest.skip(reason)
        python = _environment(interpreter)

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PYTHONHOME", None)
    result = subprocess.run(
        [str(python), "-c", PROBE, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"Python {version}:\n{result.stderr}"
    assert result.stdout.strip() == version
    for name in ("tuotempo.wsdl", "clinic.wsdl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "wsdl" / name).read_bytes(), (
            f"{name} built on Python {version} differs from the committed one"
        )
