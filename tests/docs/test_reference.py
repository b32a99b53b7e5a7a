"""The API reference covers the public surface, and the changelog is part of the site.

The reference pages are generated from docstrings by mkdocstrings (``::: dotted.path`` lines);
``.ci/docs`` builds them with ``--strict`` (which also refuses a page missing from the navigation).
These tests make sure no public name is left out.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

import payermax_async

DOCS = Path(__file__).resolve().parents[2] / "docs"
_DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)\s*$", re.MULTILINE)

#: The modules the reference documents page by page (besides the top-level names).
DOCUMENTED_MODULES = (
    "payermax_async.sandbox",
    "payermax_async.webhooks",
    "payermax_async.stores",
    "payermax_async.middleware.hooks",
    "payermax_async.telemetry",
    "payermax_async.testing",
    "payermax_async.bulk",
    "payermax_async.errors",
    "payermax_async.models",
    "payermax_async.signing",
    "payermax_async.process_signer",
)


def directives() -> list[str]:
    """Every ``::: path`` of docs/reference/*.md."""
    return [
        match.group("path")
        for page in sorted((DOCS / "reference").glob("*.md"))
        for match in _DIRECTIVE.finditer(page.read_text(encoding="utf-8"))
    ]


def documented(name: str, paths: list[str]) -> bool:
    """Whether the top-level ``name`` is rendered: by itself, or as a member of a rendered module."""
    if f"payermax_async.{name}" in paths:
        return True
    target = getattr(payermax_async, name)
    for path in paths:
        try:
            module: ModuleType = importlib.import_module(path)
        except ImportError:
            continue
        if name in getattr(module, "__all__", ()) and getattr(module, name, None) is target:
            return True
    return False


def test_every_public_name_is_in_the_reference():
    """Each name of ``payermax_async.__all__`` is rendered on some reference page."""
    paths = directives()
    assert [name for name in payermax_async.__all__ if not documented(name, paths)] == []


def test_the_coverage_check_can_fail():
    """A name rendered nowhere is reported (so the test above is not vacuous)."""
    assert not documented("PayerMaxClient", ["payermax_async.errors"])
    assert documented("PayerMaxError", ["payermax_async.errors"])


@pytest.mark.parametrize("module", DOCUMENTED_MODULES)
def test_every_documented_module_has_its_reference(module: str):
    """Each documented module is rendered whole by a ``::: module`` line."""
    assert module in directives()


@pytest.mark.parametrize("path", sorted(set(directives())))
def test_every_reference_path_exists(path: str):
    """Each ``::: path`` names a module or an attribute that imports (mkdocstrings would fail)."""
    module_name, _, attribute = path.rpartition(".")
    try:
        importlib.import_module(path)
    except ImportError:
        assert hasattr(importlib.import_module(module_name), attribute)


def test_the_changelog_page_includes_the_changelog():
    """docs/changelog.md pulls in CHANGELOG.md itself, so the site's copy never drifts."""
    page = (DOCS / "changelog.md").read_text(encoding="utf-8")
    assert '--8<-- "CHANGELOG.md"' in page
