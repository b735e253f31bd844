"""Small shared helpers: atomic writes, progress bars, seeding, devices."""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import sys
import tempfile
import threading

import numpy as np
import torch

from .errors import UncannyError


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: readers never see half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def ensure_dir(path: str, option: str = "output folder") -> str:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise UncannyError(f"{path}: cannot create {option} ({e.strerror})") from None
    if not os.access(path, os.W_OK):
        raise UncannyError(f"{path}: {option} is not writable")
    return path


def progress(iterable=None, **kw):
    """tqdm progress bar on stderr; quiet when not interactive unless forced."""
    from tqdm.auto import tqdm
    kw.setdefault("dynamic_ncols", True)
    kw.setdefault("file", sys.stderr)
    kw.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kw)


def has_fast_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matrix products are native here: a CUDA GPU that supports them, or a
    CPU with AVX512-BF16 or AMX (oneDNN runs bf16 convolutions about 2x faster there)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or platform.system() != "Linux":
        return False
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_for(device: torch.device, precision: str):
    """A factory of context managers for the forward passes: bf16 autocast or nothing.
    precision: "bf16", "fp32", or "auto" (bf16 where it is native, see has_fast_bf16)."""
    import contextlib
    if precision not in ("auto", "bf16", "fp32"):
        raise UncannyError(f"--precision {precision}: use auto, bf16 or fp32")
    on = precision == "bf16" or (precision == "auto" and has_fast_bf16(device))
    if not on:
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16)


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UncannyError(f"--device {device}: not a device name (try cpu, cuda, cuda:1)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UncannyError(f"--device {device}: CUDA is not available on this machine")
    return dev


def seed_z(seeds, z_dim: int, device="cpu") -> torch.Tensor:
    """One latent per integer seed, independent of batch composition: (len(seeds), z_dim)."""
    zs = [torch.from_numpy(np.random.RandomState(int(s)).randn(z_dim)) for s in seeds]
    return torch.stack(zs).float().to(device)


def retain_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory for reuse instead of giving it back to the system.

    Each generator step allocates and frees the same large activations. By default glibc
    serves blocks over 32 MB straight from the kernel (mmap) and returns them on free, so every
    step faults in, and the kernel zeroes, gigabytes of fresh pages: on a 2-core VM that is
    a quarter or more of a foil step's time, for the reference code even more
    (docs/BENCHMARKS.md). With mmap off and a high trim threshold, freed blocks are reused.
    The cost: the process keeps its peak memory until it exits. The `uncanny` command calls
    this at start; set UNCANNY_MALLOC=system to leave the allocator alone. Returns whether
    the settings were applied (False on other C libraries, e.g. macOS or musl).
    """
    if os.environ.get("UNCANNY_MALLOC", "") == "system" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4      # <malloc.h>
    return bool(libc.mallopt(m_mmap_max, 0) and libc.mallopt(m_trim_threshold, 2 ** 31 - 1)
                and libc.mallopt(m_top_pad, 64 << 20))


class StopRequest:
    """The first SIGINT/SIGTERM sets `requested` (a training loop then stops cleanly after its
    step and writes its resume state); a second one interrupts at once, as usual. Call `restore`
    when the loop ends."""

    def __init__(self):
        self.requested = False
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handle)

    def _handle(self, sig, frame):
        if self.requested:
            self.restore()
            raise KeyboardInterrupt
        self.requested = True

    def restore(self):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        self.old = {}
