"""The dependency floors in pyproject.toml and the pins of the minimum-versions CI job agree."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _floors() -> dict[str, Version]:
    floors = {}
    for text in importlib.metadata.requires("payermax-async") or []:
        requirement = Requirement(text)
        if requirement.marker is not None:  # an extra's dependency
            continue
        [lower] = [spec for spec in requirement.specifier if spec.operator == ">="]
        floors[requirement.name] = Version(lower.version)
    return floors


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints-min.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip()] = Version(version.strip())
    return pins


def test_the_minimum_versions_job_pins_every_floor() -> None:
    """Every runtime dependency has a floor, and .ci/constraints-min.txt pins exactly it."""
    floors = _floors()
    assert set(floors) >= {"aiohttp", "cryptography"}
    assert _pins() == floors


def test_the_floors_are_past_the_advisories_that_reach_us() -> None:
    """aiohttp >= 3.14.4 and cryptography >= 48.0.1 (pyproject.toml says why, advisory by advisory)."""
    floors = _floors()
    assert floors["aiohttp"] >= Version("3.14.4")
    assert floors["cryptography"] >= Version("48.0.1")
