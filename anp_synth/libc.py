"""Calls of the C library that Python's `os` does not offer (Linux: prctl, fallocate, mallopt).

Each is looked up once (ctypes, errno kept for `ctypes.get_errno`); where the C library has
no such call (not Linux, musl, macOS) the lookup is None and the caller does without it.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def call(name: str, *argtypes: str) -> Any:
    """The C library's function `name`, its arguments typed by ctypes type names
    (`"c_int"`, `"c_int64"`), or None where there is no such function."""
    try:
        import ctypes

        function = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError, ImportError):
        return None
    if argtypes:
        function.argtypes = [getattr(ctypes, type_name) for type_name in argtypes]
    return function
