"""Where profiles are measured and heads trained: the CPU, or a CUDA GPU (`--device cuda`).

A profile's milliseconds are only meaningful with the device they were measured on, so
every profile built here says it in `meta.measured_on` (device, host, torch threads,
and by what: this process or a Ray worker). Asking for a GPU where torch sees none gets a
sentence, never a traceback or a silent fall-back to the CPU. (`zoo.profile_on` is the
profiling pass on a device.)
"""

from __future__ import annotations

import socket

DEVICES = ("cpu", "cuda")


def check(device: str) -> str:
    """`device` if this process can use it; a clear ValueError otherwise."""
    import torch

    if device == "cpu":
        return device
    if device.split(":")[0] != "cuda":
        raise ValueError(f"unknown device {device!r}; choose cpu or cuda")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA GPU on this machine (torch.cuda.is_available() is "
                         "False); use --device cpu, or --ray with a cluster whose workers have GPUs")
    return device


def measured_on(device: str, by: str) -> dict:
    """Where costs were measured, for the profile: the device (with the GPU's name), host,
    torch threads, and by what."""
    import torch

    name = f"{device} ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else device
    return {"device": name, "host": socket.gethostname(), "threads": torch.get_num_threads(), "by": by}
