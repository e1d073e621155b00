"""The sink factory: a sink's name → its class, imported only when used (as dlt's destinations)."""

from __future__ import annotations

import importlib
from typing import Any

from anp_synth.errors import UsageError
from anp_synth.sinks.base import Sink

# name → "module:Class". Another sink joins with one line here.
SINKS: dict[str, str] = {
    "anp": "anp_synth.sinks.anp:AnpSink",
    "eleventy": "anp_synth.sinks.static.eleventy:EleventySink",
    "hugo": "anp_synth.sinks.static.hugo:HugoSink",
    "jekyll": "anp_synth.sinks.static.jekyll:JekyllSink",
    "memory": "anp_synth.sinks.memory:MemorySink",
    "wordpress": "anp_synth.sinks.wordpress:WordPressSink",
}


def sink_names() -> list[str]:
    """The names `--sink` accepts."""
    return sorted(SINKS)


def create_sink(name: str, target: str, token: str | None = None, **options: Any) -> Sink:
    """Build the sink called `name` for `target`; options go to its constructor."""
    try:
        spec = SINKS[name]
    except KeyError:
        raise UsageError(
            "sink", f"unknown sink {name!r}; choose from {', '.join(sink_names())}"
        ) from None
    module_name, _, class_name = spec.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    sink: Sink = cls(target, token, **options)
    return sink
