"""A compressed variant's figures against its base model: quality at the last exit, MACs,
measured batch-1 milliseconds, weights and checkpoint bytes, peak memory.
`python -m explorer compress MODEL --method ... --json` prints them."""

from __future__ import annotations

import time

import numpy as np
import torch

from . import memory, zoo
from .engine import run_full


def batch1_ms(models: list, inputs: list, repeats: int = 7) -> list[tuple[float, float]]:
    """(median, spread) ms per input of the plain models at batch 1 on the same inputs.
    The models take turns in every repeat, so a busy moment of the machine disturbs them
    alike; spread is the interquartile range over repeats."""
    chunks = [models[0].collate([x]) for x in inputs]
    for m in models:  # warm up
        for x, lengths in chunks[:5]:
            run_full(m, x, lengths)
    times = [[] for _ in models]
    for _ in range(repeats):
        for i, m in enumerate(models):
            start = time.perf_counter()
            for x, lengths in chunks:
                run_full(m, x, lengths)
            times[i].append(1e3 * (time.perf_counter() - start) / len(chunks))
    out = []
    for t in times:
        q1, med, q3 = np.percentile(t, [25, 50, 75])
        out.append((float(med), float(q3 - q1)))
    return out


def compare(base: str, variant: str, progress=None, timing_inputs: int = 100, with_rss: bool = True) -> dict:
    """Every benchmark figure of `variant` next to `base` (both registered models)."""
    entry = zoo.get(base)
    split = entry.test_split
    mb, mv = zoo.model(base), zoo.model(variant)
    pb, pv = zoo.profile(base, split), zoo.profile(variant, split, progress)
    qname, _ = pb.quality_name
    qb, qv = pb.quality(pb.exit_error(-1)), pv.quality(pv.exit_error(-1))
    lost = (qb - qv) if qname == "accuracy" else (qv - qb)  # points lost: accuracy down, WER up
    inputs, _ = entry.data(split)
    (ms_b, sp_b), (ms_v, sp_v) = batch1_ms([mb, mv], inputs[:timing_inputs])
    wb, _ = memory.weight_bytes(mb)
    wv, _ = memory.weight_bytes(mv)
    used_b = sum(v for k, v in wb.items() if k != "unused")
    used_v = sum(v for k, v in wv.items() if k != "unused")
    out = {
        "base": base, "split": split, "samples": pv.n, "threads": torch.get_num_threads(),
        f"{qname}_last_exit_base": qb, f"{qname}_last_exit_variant": qv, "points_lost_last_exit": 100 * lost,
        f"{qname}_per_exit_base": [pb.quality(pb.exit_error(k)) for k in range(pb.k)],
        f"{qname}_per_exit_variant": [pv.quality(pv.exit_error(k)) for k in range(pv.k)],
        "macs_full_base": pb.full("macs"), "macs_full_variant": pv.full("macs"),
        "ms_b1_base": ms_b, "ms_b1_base_iqr": sp_b, "ms_b1_variant": ms_v, "ms_b1_variant_iqr": sp_v,
        "ms_ratio_variant_over_base": ms_v / ms_b,
        "weights_bytes_base": wb, "weights_bytes_variant": wv,
        "weights_ratio_base_over_variant": used_b / used_v,
        "checkpoint_bytes_base": memory.checkpoint_bytes(mb), "checkpoint_bytes_variant": memory.checkpoint_bytes(mv),
    }
    out["checkpoint_ratio"] = out["checkpoint_bytes_base"] / out["checkpoint_bytes_variant"]
    for who, name, m in (("base", base, mb), ("variant", variant, mv)):
        out[f"peak_alloc_bytes_b1_{who}"], _ = memory.allocator_peaks(m)
        if with_rss:
            out[f"peak_rss_bytes_b1_{who}"], _ = memory.rss_peaks(name, repeats=5)
    return out
