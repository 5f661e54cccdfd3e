"""``torchvision.transforms.functional`` of lrspec's test shim: only ``InterpolationMode``."""

from enum import Enum


class InterpolationMode(Enum):
    """Names of image interpolation methods (the values are their lower-case names)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"
