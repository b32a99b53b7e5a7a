"""The documentation's code is real: every Python block compiles, the marked ones run.

A ```python block preceded by ``<!-- run -->`` is a whole program (it starts its own sandbox) and is
executed; every other block is compiled, with top-level ``await`` allowed (snippets from inside an
async function).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from payermax_async.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"(?P<marker><!-- run -->\n)?```python\n(?P<code>.*?)\n```", re.DOTALL)


def blocks() -> list[tuple[str, str, bool]]:
    """Every ``(where, code, runnable)`` Python block in docs/**/*.md."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            where = f"{page.relative_to(DOCS)}:{line}"
            found.append((where, match.group("code"), match.group("marker") is not None))
    return found


ALL = blocks()
RUNNABLE = [(where, code) for where, code, runnable in ALL if runnable]


def test_docs_have_snippets_and_runnable_ones():
    """The extraction finds blocks (so the tests below cannot pass vacuously)."""
    assert len(ALL) >= 15
    assert len(RUNNABLE) >= 5


@pytest.mark.parametrize(("where", "code"), [(w, c) for w, c, _ in ALL], ids=[w for w, _, _ in ALL])
def test_every_python_block_compiles(where: str, code: str):
    """Each ```python block is valid Python (top-level await allowed)."""
    compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize(("where", "code"), RUNNABLE, ids=[w for w, _ in RUNNABLE])
def test_runnable_blocks_run(where: str, code: str, capsys: pytest.CaptureFixture[str]):
    """Each block marked ``<!-- run -->`` runs to the end against the embedded sandbox, and prints
    statuses as their values (``SUCCESS``, never ``PayoutStatus.SUCCESS``)."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(code, where, "exec"), namespace)  # noqa: S102 (our own documentation)
    assert "PayoutStatus." not in capsys.readouterr().out


def _commands(parser, prefix: str):
    """Yield ``(command path, long options)`` for every (sub)command of an argparse parser."""
    options = sorted(
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    )
    yield prefix, options
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            for name, sub in choices.items():
                yield from _commands(sub, f"{prefix} {name}")


def test_cli_reference_names_every_command_and_option():
    """docs/cli.md mentions every ``payermax`` subcommand and every long option it takes."""
    reference = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = []
    for command, options in _commands(build_parser(), "payermax"):
        if f"`{command}" not in reference and f"{command} " not in reference:
            missing.append(command)
        missing.extend(f"{command} {o}" for o in options if f"`{o}" not in reference)
    assert missing == []


def test_error_reference_lists_every_error_class():
    """docs/errors.md draws every exception class of payermax_async.errors."""
    from payermax_async import errors

    reference = (DOCS / "errors.md").read_text(encoding="utf-8")
    names = [
        name
        for name in errors.__all__
        if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
    ]
    assert [name for name in names if name not in reference] == []
