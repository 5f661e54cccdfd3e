"""The examples in docstrings run: every module of lrspec and of the adapters is collected
with :mod:`doctest`. Adapter modules whose framework is not installed are skipped."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

PACKAGES = ("lrspec", "lrspec_torch", "lrspec_tf", "lrspec_keras", "lrspec_optax")
FRAMEWORK = {"lrspec_torch": "torch", "lrspec_tf": "tensorflow", "lrspec_keras": "keras", "lrspec_optax": "optax"}


def _modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        names.append(package)
        for info in pkgutil.walk_packages(spec.submodule_search_locations, prefix=package + "."):
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_the_packages_are_found() -> None:
    assert "lrspec.schedules" in MODULES and "lrspec_torch.target" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    framework = FRAMEWORK.get(name.partition(".")[0])
    if framework is not None and importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, name) if t.examples]
    if not tests:
        return
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest example(s) failed in {name}"
