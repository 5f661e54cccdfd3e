"""``freeze_statistics``, now in :mod:`lrspec_keras.statistics` (this module re-exports it)."""

from __future__ import annotations

from lrspec_keras.statistics import freeze_statistics

__all__ = ["freeze_statistics"]
