"""``torchvision.ops`` of lrspec's test shim: only :mod:`.misc`."""
