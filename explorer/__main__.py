"""Command line: `python -m explorer COMMAND ...` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm


def _progress_bar(desc: str):
    bar = tqdm(total=100, desc=desc, file=sys.stderr, leave=False)

    def update(frac: float, what: str) -> None:
        bar.n = int(100 * frac)
        bar.set_postfix_str(what)
        bar.refresh()

    return update


def cmd_bench(args) -> int:
    from .bench import bench

    out = bench(args.model, args.criterion, args.threshold, args.batch, args.split,
                progress=_progress_bar(f"profiling {args.model}"))
    print(json.dumps(out) if args.json else "\n".join(f"{k:>22}: {v}" for k, v in out.items()))
    return 0


def cmd_profile(args) -> int:
    from . import zoo

    prof = zoo.profile(args.model, args.split, _progress_bar(f"profiling {args.model}"))
    print(json.dumps({"model": args.model, "split": args.split, "samples": prof.n, "exits": prof.k,
                      "fingerprint": prof.meta["fingerprint"][:12]}))
    return 0


def cmd_sweep(args) -> int:
    from . import tradeoff, zoo

    prof = zoo.profile(args.model, args.split, _progress_bar(f"profiling {args.model}"))
    df = tradeoff.sweep_all(prof, args.criterion or None)
    df.to_csv(args.out or sys.stdout, index=False)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bench", help="full depth vs real exits: ideal and measured speedup")
    p.add_argument("--model", default="toy")
    p.add_argument("--criterion", default="entropy")
    p.add_argument("--threshold", type=float, default=None, help="default: the criterion's default")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--split", default=None, help="default: the model's test split")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("profile", help="build (or load) a model's profile on a split")
    p.add_argument("--model", default="toy")
    p.add_argument("--split", default="test")
    p.set_defaults(run=cmd_profile)

    p = sub.add_parser("sweep", help="sweep criteria over their threshold grids, as CSV")
    p.add_argument("--model", default="toy")
    p.add_argument("--split", default="test")
    p.add_argument("--criterion", action="append", help="repeatable; default: all")
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.set_defaults(run=cmd_sweep)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # includes InputError: a message for the user, not a traceback
        print(json.dumps({"error": str(err)}) if getattr(args, "json", False) else f"error: {err}",
              file=sys.stdout if getattr(args, "json", False) else sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
