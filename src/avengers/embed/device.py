"""Where and in which precision a neural embedder runs: `embedder.device` and `embedder.dtype`.

Both are resolved lazily and cheaply: on a machine without an NVIDIA driver `device=auto` is
"cpu" without importing torch (seconds that a warm run, which embeds nothing, would waste).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avengers.errors import ConfigError

DTYPES = ("float32", "bfloat16", "auto")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_NVIDIA = ("/dev/nvidiactl", "/proc/driver/nvidia/version")


def check_device(device: str) -> str:
    device = str(device).strip().lower()
    if not _DEVICE.match(device):
        raise ConfigError(f"embedder.device={device!r} is not one of auto, cpu, cuda, cuda:N.")
    return device


def check_dtype(dtype: str) -> str:
    dtype = str(dtype).strip().lower()
    if dtype not in DTYPES:
        raise ConfigError(f"embedder.dtype={dtype!r} is not one of {', '.join(DTYPES)}.")
    return dtype


def resolve_device(device: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu; cuda without a GPU is an error."""
    device = check_device(device)
    if device == "cpu":
        return device
    if device == "auto" and not any(os.path.exists(p) for p in _NVIDIA):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ConfigError(f"embedder.device={device} but torch sees no CUDA GPU "
                          f"(torch {torch.__version__}); use embedder.device=cpu or auto.")
    return device


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """AVX512_BF16 or AMX-BF16 (x86) or the BF16 extension (Arm), per /proc/cpuinfo; where that
    file is missing, torch's own check."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = None
    if cpuinfo is not None:
        flags: set[str] = set()
        for line in cpuinfo.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() in ("flags", "features"):
                flags.update(value.split())
        return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # an old or unusual torch build: no fast bf16 we know of
        return False


def resolve_dtype(dtype: str, device: str) -> str:
    """auto -> bfloat16 on a CUDA GPU that supports it or a CPU with native bf16, else float32."""
    dtype = check_dtype(dtype)
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_has_native_bf16() else "float32"
