"""``native=True``, now in :mod:`lrspec_keras.native` (this module re-exports it)."""

from __future__ import annotations

from lrspec_keras.native import GroupSchedule, build_native

__all__ = ["GroupSchedule", "build_native"]
