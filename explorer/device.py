"""Where profiles are measured and heads trained: the CPU, or a CUDA GPU (`--device cuda`).

A profile's milliseconds are only meaningful with the device they were measured on, so
every profile built here says it in `meta.measured_on` (device, host, torch threads,
and by what: this process or a Ray worker). Asking for a GPU where torch sees none gets a
sentence, never a traceback or a silent fall-back to the CPU.
"""

from __future__ import annotations

import socket
from dataclasses import replace

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


def profile_on(name: str, split: str, device: str, progress=None, **variant):
    """`zoo.profile`'s pass, in this process, on `device`: the model and every batch on it,
    per-stage and per-head ms measured there at batch 1. Saved under the same file and key
    as the CPU pass (the same model and data give the same predictions; the ms say where)."""
    from . import zoo
    from .costs import count_macs, measure_ms
    from .profile import build_profile, fingerprint, profile_path

    check(device)
    entry = zoo.get(name)
    model = entry.load().to(device).eval()  # its own copy: the registry's stays on the CPU
    inputs, targets = entry.data(split, **variant)
    batches = [(x.to(device), None if lengths is None else lengths.to(device), t)
               for x, lengths, t in zoo.batches(model, inputs, targets, 64)]
    costs = count_macs(model), measure_ms(model)
    prof = build_profile(model, batches, name, "-".join([split] + [str(v) for v in variant.values()]),
                         progress, costs)
    prof.meta = replace(prof.meta, measured_on=measured_on(device, "this process at batch 1"))
    prof.save(profile_path(entry.profile_dir, name, prof.meta.dataset, fingerprint(model), fresh=True))
    zoo._PROFILES.pop((name, prof.meta.dataset), None)  # the next zoo.profile reads this one
    return prof
