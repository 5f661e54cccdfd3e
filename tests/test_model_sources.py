"""--model SOURCE: parameter names and shapes from callables, checkpoints and lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrspec.tools.model_sources import SourceError, open_source

LENET_TORCH = {
    "features.0.weight": (6, 3, 5, 5), "features.0.bias": (6,), "features.3.weight": (16, 6, 5, 5), "features.3.bias": (16,),
    "classifier.0.weight": (120, 400), "classifier.0.bias": (120,), "classifier.2.weight": (84, 120),
    "classifier.2.bias": (84,), "classifier.4.weight": (10, 84), "classifier.4.bias": (10,),
}
# Keras twin: HWIO conv kernels, (in, out) dense kernels (lrspec_tf.examples docstrings)
LENET_KERAS = {
    "features.0.kernel": (5, 5, 3, 6), "features.0.bias": (6,), "features.3.kernel": (5, 5, 6, 16), "features.3.bias": (16,),
    "classifier.0.kernel": (400, 120), "classifier.0.bias": (120,), "classifier.2.kernel": (120, 84),
    "classifier.2.bias": (84,), "classifier.4.kernel": (84, 10), "classifier.4.bias": (10,),
}


def test_canonical_tf_name() -> None:
    from lrspec_tf._common import canonical_path  # the TF targets' naming rule, which their model files use

    assert canonical_path("features/0/kernel:0") == "features.0.kernel"
    assert canonical_path("blocks.1/fc1/bias") == "blocks.1.fc1.bias"


def test_params_file_sources(tmp_path: Path) -> None:
    txt = tmp_path / "p.txt"
    txt.write_text("a.weight 3,4\na.bias\n")
    src = open_source(str(txt))
    assert (src.kind, dict(src.params or {})) == ("params-file", {"a.weight": (3, 4), "a.bias": None})
    js = tmp_path / "p.json"
    js.write_text('{"x": [2]}')
    assert dict(open_source(str(js)).params or {}) == {"x": (2,)}


@pytest.mark.torch
def test_callable_torch() -> None:
    pytest.importorskip("torch")
    src = open_source("lrspec_torch.examples:lenet")
    assert (src.kind, src.target) == ("callable", "torch")
    assert dict(src.model.named_parameters()).keys() == LENET_TORCH.keys()


@pytest.mark.torch
def test_torch_state_dict_checkpoints(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from lrspec_torch.examples import lenet as lenet_torch

    sd = lenet_torch().state_dict()
    torch.save(sd, tmp_path / "m.pt")
    assert dict(open_source(str(tmp_path / "m.pt")).params or {}) == LENET_TORCH
    torch.save({"epoch": 4, "state_dict": sd}, tmp_path / "wrapped.pth")
    assert dict(open_source(str(tmp_path / "wrapped.pth")).params or {}) == LENET_TORCH
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "ddp.bin")  # DistributedDataParallel prefix
    assert dict(open_source(str(tmp_path / "ddp.bin")).params or {}) == LENET_TORCH


@pytest.mark.torch
def test_batchnorm_buffers_are_not_parameters(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    torch.save(net.state_dict(), tmp_path / "bn.pt")
    params = open_source(str(tmp_path / "bn.pt")).params or {}
    assert list(params) == [n for n, _ in net.named_parameters()]


@pytest.mark.torch
def test_safetensors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    from lrspec_torch.examples import lenet as lenet_torch

    st.save_file(lenet_torch().state_dict(), str(tmp_path / "m.safetensors"))
    src = open_source(str(tmp_path / "m.safetensors"))
    assert src.kind == "safetensors" and dict(src.params or {}) == LENET_TORCH
    st.save_file({"w": torch.zeros(2, 3), "step": torch.zeros((), dtype=torch.int64)}, str(tmp_path / "i.safetensors"))
    assert dict(open_source(str(tmp_path / "i.safetensors")).params or {}) == {"w": (2, 3)}


@pytest.mark.tf
def test_keras_sources(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    import tensorflow as tf
    from lrspec_tf.examples import lenet as lenet_keras

    src = open_source("lrspec_tf.examples:lenet")
    assert (src.kind, src.target) == ("callable", "tf")
    model = lenet_keras()
    model.save(tmp_path / "m.keras")
    assert dict(open_source(str(tmp_path / "m.keras")).params or {}) == LENET_KERAS
    model.save_weights(tmp_path / "m.weights.h5")
    assert dict(open_source(str(tmp_path / "m.weights.h5")).params or {}) == LENET_KERAS
    # a name-based checkpoint: tf.train.Checkpoint of plain variables keyed by name
    ckpt = tf.train.Checkpoint(**{"dense_kernel": tf.Variable(tf.zeros((3, 2)))})
    prefix = ckpt.save(str(tmp_path / "ckpt" / "model"))
    assert dict(open_source(prefix).params or {}) == {"dense_kernel": (3, 2)}
    assert dict(open_source(str(tmp_path / "ckpt")).params or {}) == {"dense_kernel": (3, 2)}


def test_unknown_source() -> None:
    with pytest.raises(SourceError, match="no such file, and not a 'module:callable' reference"):
        open_source("missing.pt")


def test_corrupt_and_pickled_torch_checkpoints_get_plain_causes(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(SourceError, match=r"is not a PyTorch checkpoint .* corrupt or in another format"):
        open_source(str(junk))
    truncated = tmp_path / "truncated.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(SourceError, match=r"truncated\.pt"):
        open_source(str(truncated))
    pickled = tmp_path / "module.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, pickled)
    with pytest.raises(SourceError, match=r"pickled Python objects .* save model\.state_dict\(\) instead") as info:
        open_source(str(pickled))
    assert "\x1b[" not in str(info.value)  # no terminal escape codes leak from torch's message


@pytest.mark.torch
def test_safetensors_header_is_checked(tmp_path: Path) -> None:
    import struct

    pytest.importorskip("torch")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 10**6) + b"{}")  # a header longer than the file
    with pytest.raises(SourceError, match=r"bad\.safetensors: is not a valid safetensors file .* exceeds"):
        open_source(str(bad))
    bad.write_bytes(struct.pack("<Q", 4) + b"nope")
    with pytest.raises(SourceError, match="the header is not JSON"):
        open_source(str(bad))
    bad.write_bytes(b"\x01\x02")
    with pytest.raises(SourceError, match="shorter than the 8-byte header length"):
        open_source(str(bad))
    header = b'{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}'
    bad.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))  # data cut short
    with pytest.raises(SourceError, match="the data of 'w' lies outside the file"):
        open_source(str(bad))
    bad.write_bytes(struct.pack("<Q", len(header)) + header + bytes(24))
    src = open_source(str(bad))
    assert (src.kind, src.target, dict(src.params or {})) == ("safetensors", "torch", {"w": (2, 3)})


def test_a_requested_target_reads_its_own_files_first(tmp_path: Path) -> None:
    txt = tmp_path / "p.txt"
    txt.write_text("a 2\n")
    assert open_source(str(txt), target="torch").target is None  # a parameter list belongs to no target
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "missing.keras"), target="tf")


@pytest.mark.torch
def test_legacy_torch_save_format(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(3, 2)
    torch.save(net.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)  # read without mmap
    src = open_source(str(tmp_path / "legacy.pt"))
    assert (src.kind, src.target, dict(src.params or {})) == ("torch-checkpoint", "torch", {"weight": (2, 3), "bias": (2,)})
