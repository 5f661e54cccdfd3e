"""``torchvision.datasets`` of lrspec's test shim: placeholder classes that raise when used."""

from torchvision._placeholder import placeholder

CIFAR10 = placeholder("torchvision.datasets.CIFAR10")
CIFAR100 = placeholder("torchvision.datasets.CIFAR100")
MNIST = placeholder("torchvision.datasets.MNIST")
KMNIST = placeholder("torchvision.datasets.KMNIST")
FashionMNIST = placeholder("torchvision.datasets.FashionMNIST")
ImageFolder = placeholder("torchvision.datasets.ImageFolder")
