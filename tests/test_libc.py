"""The C library's calls that `os` lacks: found once, typed, or None where there is none."""

from __future__ import annotations

import os

import pytest

from anp_synth import libc


def test_a_call_of_the_c_library_is_found_and_called() -> None:
    getpid = libc.call("getpid")
    assert getpid is not None and getpid() == os.getpid()
    assert libc.call("getpid") is getpid  # looked up once


def test_a_call_the_c_library_does_not_have_is_none() -> None:
    assert libc.call("anp_synth_no_such_call") is None


def test_arguments_are_typed_by_ctypes_type_names() -> None:
    import ctypes

    abs_ = libc.call("abs", "c_int")
    assert abs_ is not None and abs_.argtypes == [ctypes.c_int]
    assert abs_(-7) == 7
    with pytest.raises(ctypes.ArgumentError):  # typed: a str is refused, not passed as a pointer
        abs_("7")
