"""Sinks: where the importer writes. Each one is a small factory; heavy clients load on use."""

from __future__ import annotations
