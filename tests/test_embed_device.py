"""embedder.device and embedder.dtype: validation, what auto resolves to, and the identity
(float32 on the CPU keeps the identity caches were built under)."""

from __future__ import annotations

import pytest

from avengers.embed import device as dev
from avengers.errors import ConfigError

AMX_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
AVX2_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_native_bf16_is_read_from_cpuinfo():
    assert dev.cpu_has_native_bf16(AMX_CPU)
    assert dev.cpu_has_native_bf16(ARM_BF16)
    assert not dev.cpu_has_native_bf16(AVX2_CPU)


def test_auto_dtype_is_bf16_only_with_native_support(monkeypatch):
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda cpuinfo=None: False)
    assert dev.resolve_dtype("auto", "cpu") == "float32"
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda cpuinfo=None: True)
    assert dev.resolve_dtype("auto", "cpu") == "bfloat16"
    assert dev.resolve_dtype("float32", "cpu") == "float32"
    assert dev.resolve_dtype("BFloat16", "cpu") == "bfloat16"


def test_bad_values_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"embedder.dtype='fp16' is not one of float32, bfloat16, auto"):
        dev.check_dtype("fp16")
    with pytest.raises(ConfigError, match=r"embedder.device='gpu'"):
        dev.check_device("gpu")
    assert dev.check_device("cuda:1") == "cuda:1"


def test_auto_device_without_an_nvidia_driver_is_cpu_without_importing_torch(monkeypatch):
    import sys

    monkeypatch.setattr(dev.os.path, "exists", lambda p: False)
    monkeypatch.setitem(sys.modules, "torch", None)  # importing torch would fail
    assert dev.resolve_device("auto") == "cpu"
    assert dev.resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_is_a_config_error(monkeypatch):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
        dev.resolve_device("cuda")
    monkeypatch.setattr(dev.os.path, "exists", lambda p: True)  # a driver, but torch sees no GPU
    assert dev.resolve_device("auto") == "cpu"


def test_identity_keeps_the_float32_cpu_form_and_keys_the_rest(monkeypatch):
    from avengers.embed.sentence import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", device="cpu")
    base = e.identity
    # the exact form every existing MiniLM cache was built under
    assert base.startswith("st:packaged:all-MiniLM-L6-v2:") and base.endswith(":len=None:prompt=None")
    assert base.count(":") == 5
    auto = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", device="auto")
    monkeypatch.setattr(dev.os.path, "exists", lambda p: False)
    assert auto.identity == base  # auto on a machine without a GPU is the CPU
    bf16 = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", device="cpu", dtype="bfloat16")
    assert bf16.identity == base + ":dtype=bfloat16"
    gpu = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", device="cpu")
    gpu._resolved = ("cuda", "float32")
    assert gpu.identity == base + ":device=cuda"
    with pytest.raises(ConfigError, match="batch_size"):
        SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", batch_size=0)
