"""Issue 17's benchmark figures beyond `python -m explorer compress ... --json`: memory of
every model and variant, FreeML's shared-exit bytes, and the energy traces.

    python benchmarks/bench_compress.py [--rss] > figures.json

Needs the variants in the cache (make them with `python -m explorer compress`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import energy, memory, setup, variants, zoo  # noqa: E402

setup.install()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rss", action="store_true", help="also resident growth in a fresh process (slow)")
    args = p.parse_args()
    names = ["image", "image-shared", "speech", *variants.names()]
    out: dict = {"memory": {}}
    for name in names:
        m = memory.measure(name, zoo.model(name), repeats=5, rss=args.rss)
        out["memory"][name] = m.to_dict()
        print(f"memory {name}: {m.weights} peak {m.peak_bytes}", file=sys.stderr)
    per_exit = out["memory"]["image"]["weights"]["exit"]
    shared = out["memory"]["image-shared"]["weights"]["shared"]
    out["shared_vs_per_exit"] = {"per_exit_heads_bytes": per_exit, "shared_head_bytes": shared,
                                 "ratio": per_exit / shared}
    out["energy"] = {}
    for name in [n for n in names if n.startswith("image")]:
        prof = zoo.profile(name, zoo.get(name).test_split)
        for shape in energy.SHAPES:
            run = energy.simulate(prof, energy.power_trace(energy.TraceConfig(shape=shape)), energy.EnergySettings())
            out["energy"][f"{name}/{shape}"] = run.summary.to_json()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
