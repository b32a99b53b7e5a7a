"""The documentation's code is real: every Python block of README.md and docs/ runs as written,
or says why not.

Each block carries a marker (``tests/support/snippets.py`` lists them): whole programs run, test
modules run under pytest in strict mode, programs reading ``PAYERMAX_*`` run against a sandbox, and
the rest (fragments, code needing PayerMax credentials) are compiled and say why they do not run.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from payermax_async.cli import build_parser
from tests.support.snippets import ROOT, Block, blocks_in, pytest_file, sandbox_env

DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
ALL = blocks_in(PAGES)


def _ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def _kind(marker: str) -> list[Block]:
    return [block for block in ALL if block.marker == marker]


def test_docs_have_snippets_and_runnable_ones():
    """The extraction finds blocks in both places (so the tests below cannot pass vacuously)."""
    assert len(ALL) >= 30
    assert len([block for block in ALL if block.runs]) >= 15
    assert any(block.where.startswith("README.md") and block.runs for block in ALL)
    assert _kind("run: pytest")
    assert _kind("run: sandbox-env")


@pytest.mark.parametrize("block", ALL, ids=_ids(ALL))
def test_every_block_runs_or_says_why_not(block: Block):
    """Each block is marked to run, or ``<!-- not run: REASON -->`` with a reason."""
    assert block.runs or block.reason, (
        f"{block.where}: put <!-- run -->, <!-- run: pytest -->, <!-- run: sandbox-env --> or "
        "<!-- not run: why --> on the line before the block"
    )


@pytest.mark.parametrize("block", ALL, ids=_ids(ALL))
def test_every_python_block_compiles(block: Block):
    """Each ```python block is valid Python (top-level await allowed in fragments)."""
    compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("block", _kind("run"), ids=_ids(_kind("run")))
def test_runnable_blocks_run(block: Block, capsys: pytest.CaptureFixture[str]):
    """Each ``<!-- run -->`` block runs to the end against its own embedded sandbox, and prints
    statuses as their values (``SUCCESS``, never ``PayoutStatus.SUCCESS``)."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102 (our own documentation)
    assert "PayoutStatus." not in capsys.readouterr().out


@pytest.mark.parametrize("block", _kind("run: sandbox-env"), ids=_ids(_kind("run: sandbox-env")))
def test_from_env_blocks_run_against_a_sandbox(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Each ``<!-- run: sandbox-env -->`` block runs with ``PAYERMAX_*`` naming a sandbox."""
    for name in [name for name in os.environ if name.startswith("PAYERMAX_")]:
        if name not in ("PAYERMAX_TEST_REDIS_URL", "PAYERMAX_REQUIRE_REDIS"):
            monkeypatch.delenv(name)
    with sandbox_env() as variables:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        namespace: dict[str, object] = {"__name__": "__main__"}
        exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102 (our documentation)
    assert "PayoutStatus." not in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("block", _kind("run: pytest"), ids=_ids(_kind("run: pytest")))
def test_test_blocks_pass_under_pytest_in_strict_mode(block: Block, tmp_path: Path):
    """Each ``<!-- run: pytest -->`` block passes as a user's test module (strict asyncio mode)."""
    module = tmp_path / "test_snippet.py"
    module.write_text(block.code + "\n", encoding="utf-8")
    completed = pytest_file(module)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout
    assert "skipped" not in completed.stdout


def test_a_test_block_without_its_marker_would_fail_in_strict_mode(tmp_path: Path):
    """Why the README's test needed fixing: an unmarked async test does not run in strict mode."""
    module = tmp_path / "test_unmarked.py"
    module.write_text(
        "async def test_payout(payermax_sandbox):\n    assert payermax_sandbox.base_url\n",
        encoding="utf-8",
    )
    completed = pytest_file(module)
    assert completed.returncode != 0


def test_an_unmarked_block_is_reported(tmp_path: Path):
    """A block with no marker, or a ``not run`` without a reason, neither runs nor has a reason."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 1\n```\n\n<!-- not run: -->\n```python\ny = 2\n```\n",
        encoding="utf-8",
    )
    found = blocks_in([page])
    assert [(block.runs, block.reason) for block in found] == [(False, None), (False, None)]


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
