"""One version, from ``payermax_async/_version.py``, everywhere it is shown."""

from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

import aiohttp
import pytest

import payermax_async
from payermax_async import cli
from payermax_async.pipeline.transport import USER_AGENT

ROOT = Path(__file__).resolve().parents[2]


def test_cli_version_is_the_package_version(capsys: pytest.CaptureFixture[str]):
    """``payermax --version`` prints ``payermax-async <__version__>``."""
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"payermax-async {payermax_async.__version__}"


def test_user_agent_names_sdk_python_and_aiohttp_versions():
    """The User-Agent is ``payermax-async/<version> python/<ver> aiohttp/<ver>``, same version."""
    expected = (
        f"payermax-async/{payermax_async.__version__} "
        f"python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
    )
    assert expected == USER_AGENT


def test_installed_metadata_carries_the_same_version():
    """The distribution's metadata (built by hatch from _version.py) agrees with ``__version__``."""
    assert importlib.metadata.version("payermax-async") == payermax_async.__version__


def test_pyproject_reads_the_version_from_version_py_only():
    """The version is dynamic and hatch reads it from payermax_async/_version.py: one place."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.MULTILINE)
    assert re.search(
        r'^\[tool\.hatch\.version\]\npath = "payermax_async/_version\.py"$', pyproject, re.M
    )
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE)
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[abrc.]+\d+)?(?:\.dev\d+)?", payermax_async.__version__)


def test_wheel_ships_the_typing_marker():
    """``py.typed`` exists in the package directory that hatch packs into the wheel."""
    assert (ROOT / "payermax_async" / "py.typed").is_file()
    assert 'packages = ["payermax_async"]' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
