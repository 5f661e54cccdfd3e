"""A test-only stand-in for ``torchvision``, written for lrspec's test suite (not torchvision's code).

Why: the registry's torchvision wheels (0.28, 0.29) are CUDA builds; against the CPU torch this
repository pins (2.13.0+cpu) their compiled ops fail to load and ``import torchvision`` raises
("operator torchvision::nms does not exist"). ``timm`` imports a few torchvision names at import
time, so without a torchvision ``import timm`` fails. lrspec only needs timm to *build models*
(parameters and forward passes), never torchvision's datasets, image transforms or ops.

What it provides: exactly the names ``import timm`` / ``timm.create_model`` touch at import time.
:class:`torchvision.ops.misc.FrozenBatchNorm2d` works (its semantics, written here: batch norm
with fixed statistics and affine parameters held as buffers). Every other name is a placeholder
class that raises :class:`NotImplementedError` when used, so nothing silently pretends to be
torchvision. It is put on ``sys.path`` only by the tests that need it (``tests/shims``), and only
when no real torchvision can be imported.
"""

__version__ = "0.0+lrspec.test.shim"
IS_LRSPEC_SHIM = True
