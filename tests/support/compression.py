"""Compressed bodies for the content-coding tests: honest ones, bombs and malformed streams."""

from __future__ import annotations

import functools
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

MIB = 1024 * 1024


def gzip_bytes(data: bytes) -> bytes:
    """``data`` as one gzip member."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def deflate_bytes(data: bytes, *, raw: bool = False) -> bytes:
    """``data`` as a zlib stream (HTTP's "deflate"), or as raw deflate when ``raw``."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@functools.cache
def gzip_bomb(mebibytes: int) -> bytes:
    """A gzip member that inflates to ``mebibytes`` MiB of zeros (about 1 KiB per MiB on the wire).

    Built a MiB at a time, so building it never holds the inflated size in memory.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    parts = [compressor.compress(zeros) for _ in range(mebibytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


@contextmanager
def peak_python_memory() -> Iterator[list[int]]:
    """Measure the peak of Python allocations inside the block; the result is in ``[0]`` after it.

    zlib's output buffers are Python bytes, so an inflated body shows up here.
    """
    result = [0]
    tracemalloc.start()
    try:
        yield result
    finally:
        result[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
