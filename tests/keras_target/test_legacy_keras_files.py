"""``.keras`` files saved with the old TensorFlow-ops Keras optimizers (``lrspec_tf``, before the
``keras.ops`` rewrite; written by ``legacy/make_legacy_files.py`` at commit 4b94c61 and checked
in) load into the current classes and continue exactly: on TensorFlow here, on JAX and torch in
the backend worker (``legacy_files``). The check is ``legacy/check_legacy.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

sys.path.insert(0, str(Path(__file__).resolve().parent / "legacy"))
import check_legacy


@pytest.mark.parametrize("stem", check_legacy.STEMS)
def test_legacy_file_loads_and_continues(stem: str) -> None:
    check_legacy.check(stem)


def test_every_legacy_case_has_its_files() -> None:
    make = check_legacy._make()
    assert set(check_legacy.STEMS) == set(make.CASES)  # type: ignore[attr-defined]
    for stem in check_legacy.STEMS:
        assert (check_legacy.HERE / f"{stem}.keras").is_file()
        assert (check_legacy.HERE / f"{stem}_initial.npz").is_file()
