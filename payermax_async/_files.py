"""The files the SDK writes and the key files it reads, handled as files holding money data should be.

- Files the SDK creates (bulk results, SQLite journals, lock files, generated private keys) are
  ``0600`` and folders ``0700``: they hold payout numbers, statuses and keys, nothing the rest of the
  machine needs to read.
- Temporary and new files are opened with ``O_CREAT | O_EXCL | O_NOFOLLOW``: a symlink planted at
  their path is never followed, so nobody who can write to the folder can make the SDK overwrite
  another file through it.
- Private key files readable or writable by group or others are refused, as ``ssh`` refuses them,
  unless the caller says so explicitly (``PAYERMAX_ALLOW_OPEN_KEY_FILE=1``). Windows has no such
  modes, so the check is skipped there.
- Every CSV cell the SDK writes passes through :func:`csv_cell`, which defuses spreadsheet formulas
  (OWASP "CSV injection").
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TextIO

from .errors import ConfigurationError

__all__ = [
    "ALLOW_OPEN_KEY_FILE_ENV",
    "MAX_KEY_FILE_BYTES",
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "allow_open_key_files",
    "create_private_file",
    "csv_cell",
    "csv_row",
    "make_private_dir",
    "open_new_file",
    "read_key_file",
    "write_replacing",
]

#: Mode of every file the SDK creates.
PRIVATE_FILE_MODE = 0o600
#: Mode of every folder the SDK creates.
PRIVATE_DIR_MODE = 0o700
#: Set to ``1`` to accept private key files that group or others may read (not recommended).
ALLOW_OPEN_KEY_FILE_ENV = "PAYERMAX_ALLOW_OPEN_KEY_FILE"
#: A PEM RSA-4096 private key is about 3.3 KB; anything far larger is not a key file.
MAX_KEY_FILE_BYTES = 64 * 1024

# O_NOFOLLOW does not exist on Windows (where symlinks need privileges to create).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
#: Characters that make a spreadsheet read a cell as a formula (OWASP: ``=``, ``+``, ``-``, ``@``,
#: tab and carriage return), plus the full-width forms some spreadsheets treat the same.
_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_TRUE = frozenset({"1", "true", "yes", "on"})
#: Windows has no group/other permission bits to check (its ACLs are another model).
_POSIX_MODES = os.name != "nt"


def csv_cell(value: object) -> str:
    """A value as a CSV cell that no spreadsheet runs as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``
    (as OWASP recommends), so ``=HYPERLINK(...)`` shows as text instead of becoming a link.
    """
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def csv_row(values: Iterable[object]) -> list[str]:
    """Every cell of a row through :func:`csv_cell`; what every CSV writer of the SDK writes."""
    return [csv_cell(value) for value in values]


def open_new_file(path: str | os.PathLike[str], mode: int = PRIVATE_FILE_MODE) -> int:
    """Create ``path`` (it must not exist, not even as a symlink) and return a descriptor to write.

    Raises:
        FileExistsError: something, a planted symlink included, is already at ``path``.
        OSError: the file cannot be created.
    """
    return os.open(path, _NEW, mode)


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty with mode ``0600`` unless something is already there.

    An existing file keeps its mode (it is the owner's choice); a symlink is neither followed nor
    replaced. Returns whether the file was created.
    """
    try:
        os.close(open_new_file(path))
    except FileExistsError:
        return False
    return True


def write_replacing(path: str | os.PathLike[str], write: Callable[[TextIO], None]) -> None:
    """Write a text file through ``<path>.tmp`` and rename it over ``path`` (atomic, mode ``0600``).

    The temporary file is created with ``O_EXCL | O_NOFOLLOW``: a leftover from a crashed run or a
    symlink planted there is removed (never followed) and the file created afresh; if something is
    put back in that instant, this raises rather than write through it.

    Raises:
        OSError: the file cannot be written.
    """
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    try:
        fd = open_new_file(temporary)
    except FileExistsError:
        os.unlink(temporary)  # unlink removes a symlink itself, never its target
        fd = open_new_file(temporary)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    os.replace(temporary, target)


def make_private_dir(path: str | os.PathLike[str]) -> None:
    """Create the folder ``path`` with mode ``0700`` (its missing parents by the umask).

    An existing folder is left as it is.
    """
    Path(path).mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def allow_open_key_files(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``PAYERMAX_ALLOW_OPEN_KEY_FILE`` is set to ``1`` (or ``true``/``yes``/``on``)."""
    value = (os.environ if env is None else env).get(ALLOW_OPEN_KEY_FILE_ENV, "")
    return value.strip().lower() in _TRUE


def _check_private_mode(status: os.stat_result, path: str, what: str) -> None:
    mode = stat.S_IMODE(status.st_mode)
    if not _POSIX_MODES or not stat.S_ISREG(status.st_mode) or not mode & 0o077:
        return  # no POSIX modes on Windows; a pipe (``<(vault read ...)``) has no lasting copy
    msg = (
        f"{what} ({path}): private key file permissions {mode:04o} are too open (group or others may "
        f"read or change it); run 'chmod 600 {path}', or set {ALLOW_OPEN_KEY_FILE_ENV}=1 to "
        "accept it anyway"
    )
    raise ConfigurationError(msg)


def read_key_file(
    path: str | os.PathLike[str], *, what: str, private: bool, allow_open: bool = False
) -> bytes:
    """The bytes of a key file, at most :data:`MAX_KEY_FILE_BYTES`.

    The mode is checked on the opened file (no window between the check and the read).

    Args:
        path: the file.
        what: how the file is named in errors (``PAYERMAX_PRIVATE_KEY_FILE``, ``--merchant-key``).
        private: it holds a private key: refuse it when group or others may read or change it.
        allow_open: accept such a private key file anyway.

    Raises:
        ConfigurationError: the file cannot be read, is too large, or is a private key file open
            to group or others. The message names the file, never its content.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            if private and not allow_open:
                _check_private_mode(os.fstat(handle.fileno()), name, what)
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        msg = f"{what} ({name}) cannot be read: {exc.strerror or type(exc).__name__}"
        raise ConfigurationError(msg) from None
    if len(data) > MAX_KEY_FILE_BYTES:
        msg = f"{what} ({name}) is larger than {MAX_KEY_FILE_BYTES} bytes: not a key file"
        raise ConfigurationError(msg)
    return data
