"""Command line: `python -m explorer COMMAND ...` (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from tqdm import tqdm

from . import setup


def _progress_bar(desc: str):
    bar = tqdm(total=100, desc=desc, file=sys.stderr, leave=False)

    def update(frac: float, what: str) -> None:
        bar.n = int(100 * frac)
        bar.set_postfix_str(what)
        bar.refresh()

    return update


def cmd_bench(args) -> int:
    from .bench import bench

    out = bench(_on_runtime(args), args.criterion, args.threshold, args.batch, args.split, args.repeats,
                _progress_bar(f"profiling {args.model}"), args.limit).to_json()
    print(json.dumps(out) if args.json else "\n".join(f"{k:>22}: {v}" for k, v in out.items()))
    return 0


def _on_runtime(args) -> str:
    """The model's name on the runtime `--runtime` chose (explorer.deployed: NAME@onnx)."""
    from .deployed import view

    return view(args.model, args.runtime)


def cmd_profile(args) -> int:
    from . import zoo
    from .robustness import all_variant_args, load_all

    args.model = _on_runtime(args)

    bar = _progress_bar(f"profiling {args.model}")
    if args.ship:
        from .profile import ship_profiles

        ship_profiles()
    sets = all_variant_args(args.model) if args.noisy else [(args.split, {})]
    if args.ray is not None:  # only here is Ray imported
        from .ray_profile import profile_built_in

        profs = profile_built_in(args.model, sets, args.ray, args.workers, args.device, bar)
    elif args.workers != 1:
        raise ValueError("--workers needs --ray (one process profiles on this machine)")
    elif args.device != "cpu":  # one process on this machine's GPU
        profs = [zoo.profile_on(args.model, split, args.device, bar, **variant) for split, variant in sets]
    elif args.noisy:
        profs = list(load_all(args.model, bar).values())
    else:
        profs = [zoo.profile(args.model, args.split, bar)]
    for prof in profs:
        print(json.dumps({"model": args.model, **({} if args.noisy else {"split": args.split}),
                          "dataset": prof.meta.dataset, "samples": prof.n, "exits": prof.k,
                          "fingerprint": prof.meta.fingerprint[:12], "skipped": len(prof.meta.skipped)}))
    return 0


def cmd_sweep(args) -> int:
    from . import tradeoff, zoo

    prof = zoo.profile(args.model, args.split, _progress_bar(f"profiling {args.model}"))
    df = tradeoff.for_people(tradeoff.sweep_all(prof, args.criterion or None))
    df.to_csv(args.out or sys.stdout, index=False)
    return 0


def cmd_predict(args) -> int:
    from . import zoo
    from .errors import InputError
    from .predict import predict_file
    from .thresholds import default_criterion, recommended

    if zoo.get(args.model).generates:  # a text model: each argument is a prompt (or a .txt file) to continue
        return _predict_text(args)

    crit = args.criterion or default_criterion(args.model)  # chosen on the model, whichever runtime runs it
    threshold = recommended(args.model, crit) if args.threshold is None else args.threshold
    status = 0
    for path in args.files:
        try:
            out = predict_file(_on_runtime(args), path, crit, threshold)
        except InputError as err:  # the file's fault: say so and go on with the next
            out, status = {"file": path, "error": str(err)}, 2
        if args.json:
            print(json.dumps(out), flush=True)
        elif "error" in out:
            print(f"{path}: error: {out['error']}")
        else:
            print(f"{path}: {out['prediction']} (exit {out['exit']} of {out['exits_total']}, "
                  f"{out['ms']:.1f} ms)" + (f" {out['heard']}" if out.get("heard") else ""))
    return status


def _predict_text(args) -> int:
    from pathlib import Path

    from .errors import InputError
    from .predict import TEXT_TOKENS, predict_text, read_file

    status = 0
    for prompt in args.files:
        try:
            text = prompt.replace("\\n", "\n")  # a typed \n
            if prompt.endswith(".txt") and Path(prompt).is_file():
                from .modality import TEXT

                text = TEXT.read(read_file(prompt))
            out = predict_text(args.model, text, args.criterion, args.threshold,
                               args.tokens or TEXT_TOKENS)
        except InputError as err:  # this prompt's fault: say so and go on with the next
            out, status = {"prompt": prompt, "error": str(err)}, 2
        if args.json:
            print(json.dumps(out), flush=True)
        elif "error" in out:
            print(f"{prompt}: error: {out['error']}")
        else:
            print(f"{out['prompt']}{out['prediction']}\n  ({out['how']}"
                  + (f", {out['criterion']} at {out['threshold']:.4g}" if out["threshold"] is not None else "")
                  + f": mean exit {out['mean_exit']} of {out['exits_total']}, {out['same_as_full_model']:.0%} of "
                  f"tokens as the full model's, {out['ms']:.0f} ms)")
    return status


def cmd_report(args) -> int:
    from pathlib import Path

    from .report import report_image, report_speech, save_report

    if args.model:  # an imported model: its workspace report (rebuilt here if missing)
        from .workspace import imported_report

        out = imported_report(args.model, _progress_bar(f"report {args.model}"))
        where = "its workspace"
    elif args.what is None:
        raise ValueError("name a built-in report (image, speech or text) or an imported model (--model NAME)")
    elif args.what == "speech-errors":
        return _speech_errors(args)
    elif args.what == "text":
        from . import checkpoint
        from .models.text import ExitLM, TextConfig
        from .paths import ASSETS
        from .text_report import report

        path = Path(args.checkpoint) if args.checkpoint else ASSETS / "models" / "text"
        if not checkpoint.exists(path):
            raise ValueError(f"no text model at {path}: train one with `python -m explorer train text`")
        out = report(checkpoint.load(ExitLM, TextConfig, path), progress=lambda what: print(what, file=sys.stderr))
        where = save_report(path.name, out, args.out, args.ship)  # assets/models/text-calm -> reports/text-calm
        if args.markdown:
            from .text_summary import markdown

            print(markdown(out))
            print(f"written to {where}", file=sys.stderr)
            return 0
    else:
        out = report_image() if args.what == "image" else report_speech()
        where = save_report(args.what, out, args.out, args.ship)
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    print(f"written to {where}", file=sys.stderr)
    return 0


def _speech_errors(args) -> int:
    """Where the speech model's digit errors are (explorer.speech_errors): JSON to the cache or
    --out (never over the shipped assets), its tables to standard output."""
    from pathlib import Path

    from . import checkpoint, speech_errors, zoo
    from .report import save_report

    if args.ship:
        raise ValueError("speech-errors is an analysis, not a shipped report: give --out or leave it in the cache")
    if args.checkpoint:
        from .models.speech import SpeechConfig, SpeechEncoder

        if not checkpoint.exists(Path(args.checkpoint)):
            raise ValueError(f"no speech model at {args.checkpoint}")
        model = checkpoint.load(SpeechEncoder, SpeechConfig, Path(args.checkpoint))
    else:
        model = zoo.model("speech")
    sets = args.sets.split(",") if args.sets else list(speech_errors.SETS)
    out = speech_errors.report(model, sets, args.train_clips, progress=_progress_bar("speech errors"),
                               model_name=args.checkpoint or "speech")
    where = save_report("speech-errors", out, args.out)
    print(json.dumps(out) if args.json else speech_errors.markdown(out))
    print(f"written to {where}", file=sys.stderr)
    return 0


def cmd_import(args) -> int:
    from .workspace import ImportOptions, import_model

    opts = ImportOptions(exits=args.exits, daisy=args.daisy, shared_exit=args.shared_exit, epochs=args.epochs,
                         limit=args.limit, seed=args.seed, train_fraction=args.train_fraction,
                         calib_fraction=args.calib_fraction, device=args.device, head=args.head)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.workspace:  # every lookup of the model by name (Ray workers too) looks there
        import os

        os.environ["EXPLORER_WORKSPACE"] = args.workspace
    if args.ray is None and args.workers != 1:
        raise ValueError("--workers needs --ray (one process profiles on this machine)")
    ray = None if args.ray is None else {"address": args.ray, "workers": args.workers}
    out = import_model(args.source, args.data, args.name, opts, args.workspace,
                       _progress_bar(f"importing {args.name}"), say, ray=ray)
    print(json.dumps(out) if args.json else json.dumps(_summary(out), indent=1))
    return 0


def _summary(report: dict) -> dict:
    keep = ("model", "architecture", "exits_kind", "samples", "final_accuracy", "final_wer", "recommended")
    out = {k: report[k] for k in keep if k in report}
    if "agrees_with_last_by_exit" in report:  # a text model: agreement with the full model's tokens
        out["agrees_with_last_by_exit"] = report["agrees_with_last_by_exit"]
        out["criteria"] = {c: {k: v for k, v in row.items() if k != "teacher_forced_test"}
                           for c, row in report["criteria"].items()}
        return out
    q = "accuracy" if "final_accuracy" in report else "wer"
    out["per_exit_" + q] = [round(r[q], 4) for r in report["exits"]]
    for view in ("calibration", "test"):
        out.get("recommended", {}).pop(view, None)
    return out


def cmd_compare(args) -> int:
    """Models side by side, as the Tradeoffs page's Compare shows them: each one's quality at
    every exit and its recommended thresholds (chosen on its own calibration split, judged on
    its test split); with noisy test sets, its mean exit at each noise level at that threshold."""
    from . import compare, robustness, zoo
    from .cached import recommendations
    from .thresholds import default_criterion, default_eps_pt

    crit = args.criterion or default_criterion(args.models[0])
    rows, out = [], []
    for name in args.models:
        entry, bar = zoo.get(name), _progress_bar(f"profiling {name}")
        test, calib = zoo.profile(name, entry.test_split, bar), zoo.profile(name, entry.calib_split, bar)
        m = compare.Compared(name, entry.title, test, test, entry.quality, "clean test set")
        rec, ltt = recommendations(calib, test, crit, default_eps_pt(name), compare.LTT_EPS, compare.LTT_DELTA)
        rows.append((m, rec, ltt))
        one = {"model": name, "title": entry.title, entry.quality.column: [
            round(entry.quality.from_error(test.exit_error(k)), 4) for k in range(test.k)]}
        if entry.noise:
            df = robustness.mean_over_kinds(robustness.table(robustness.load_all(name, bar), {crit: rec.threshold}))
            one["mean_exit_by_noise"] = {f"{entry.noise.label.split(' (')[0]} {r.level}": round(r.mean_exit + 1, 3)
                                         for r in df.itertuples()}
        out.append(one)
    table = compare.recommended_table(rows)
    for one, rec in zip(out, table.to_dict("records"), strict=True):
        one["recommended"] = rec
    if args.json:
        print(json.dumps({"criterion": crit, "models": out}, default=float))
    else:
        print(table.to_string(index=False))
        for one in out:
            print(json.dumps({k: v for k, v in one.items() if k != "recommended"}))
    return 0


def cmd_models(args) -> int:
    """Every model a page can choose (built-in, compressed, imported), with its kind."""
    from . import zoo

    if args.workspace:  # imported models are looked up there
        import os

        os.environ["EXPLORER_WORKSPACE"] = args.workspace
    rows = [{"name": n, "kind": e.group, "title": e.title} for n, e in ((n, zoo.get(n)) for n in zoo.names())]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['name']:24s} {r['kind']:10s} {r['title']}")
    return 0


def cmd_synth(args) -> int:
    from pathlib import Path

    from .data.speech_corpus import build_corpus
    from .data.speech_voices import format_voice_table

    if args.list_voices:
        print(format_voice_table())
        return 0
    sizes = {split: getattr(args, split) for split in ("train", "val", "test_a", "test_b", "test_c", "test_d")}
    if any(n < 0 for n in sizes.values()) or args.workers < 1:
        raise ValueError("sizes must be 0 or more and --workers at least 1")
    out = build_corpus(sizes, args.seed, Path(args.out) if args.out else None, args.workers, args.force)
    info = json.loads((out / "corpus.json").read_text())
    print(json.dumps({"corpus": str(out), "build_seconds": info["build_seconds"], "splits": info["splits"]}))
    return 0


def cmd_train(args) -> int:
    from pathlib import Path

    if args.set and args.what != "speech":
        raise ValueError("--set applies to `train speech` only")

    if args.what == "image":
        from .paths import ASSETS
        from .train.image import TrainConfig, train

        cfg = TrainConfig(strategy=args.strategy, epochs=args.epochs, limit=args.limit, seed=args.seed)
        out = Path(args.out) if args.out else ASSETS / "models" / "image"
        _, summary = train(cfg, out=out)
        print(json.dumps({"checkpoint": str(out), "train_seconds": summary["train_seconds"],
                          "val_accuracy": summary["val_accuracy"]}))
        return 0
    if args.what == "speech":
        from .paths import ASSETS
        from .train.speech import SpeechTrainConfig, train, with_settings

        cfg = SpeechTrainConfig(strategy=args.strategy if args.strategy != "distill" else "joint",
                                limit=args.limit, seed=args.seed)
        if args.resume:  # no k-means or pre-training: CTC goes on, then the DAISY heads
            cfg = replace(cfg, pretrain_minutes=0.0)
        if args.minutes:  # the same split of the budget as the defaults, scaled
            cfg = cfg.scaled_to(args.minutes)
        cfg = with_settings(cfg, args.set or [])
        out = Path(args.out) if args.out else ASSETS / "models" / "speech"
        _, summary = train(cfg, out=out, resume=Path(args.resume) if args.resume else None)
        print(json.dumps({"checkpoint": str(out), "train_seconds": summary["train_seconds"],
                          "history": summary["history"]}))
        return 0
    if args.what == "text":
        from .paths import ASSETS
        from .train.text import TextTrainConfig, train

        strategy = args.strategy if args.strategy in ("layerskip", "calm") else "layerskip"
        cfg = TextTrainConfig(strategy=strategy, seed=args.seed)
        if args.minutes:
            cfg = replace(cfg, minutes=args.minutes)
        out = Path(args.out) if args.out else ASSETS / "models" / "text"
        _, summary = train(cfg, out=out)
        print(json.dumps({"checkpoint": str(out), "train_seconds": summary["train_seconds"], "val": summary["val"]}))
        return 0
    if args.what == "text-classifier":  # CALM's learned exit classifier, added to a trained text model
        from . import checkpoint
        from .models.text import ExitLM, TextConfig
        from .paths import ASSETS
        from .train.text import fit_classifier

        out = Path(args.out) if args.out else ASSETS / "models" / "text"
        if not checkpoint.exists(out):
            raise ValueError(f"no text model at {out}: train one with `python -m explorer train text --out {out}`")
        meta = json.loads(out.with_suffix(".json").read_text())
        model = fit_classifier(checkpoint.load(ExitLM, TextConfig, out), seed=args.seed)
        checkpoint.save(model, out, {k: v for k, v in meta.items() if k != "config"})
        print(json.dumps({"checkpoint": str(out), "classifier": True}))
        return 0
    raise ValueError(f"no trainer for {args.what!r}")


def cmd_generate(args) -> int:
    from pathlib import Path

    from . import checkpoint, criteria
    from .generate import generate, speculate
    from .models.text import ExitLM, TextConfig
    from .paths import ASSETS

    path = Path(args.checkpoint) if args.checkpoint else ASSETS / "models" / "text"
    if args.model:  # a registry name: the built-in text model, or an imported one with its trained exits
        from . import zoo

        if not zoo.get(args.model).generates:
            raise ValueError(f"{args.model} is not a text model (see `python -m explorer models`)")
        model = zoo.model(args.model)
    elif (path / "config.json").exists():  # a Hugging Face causal LM's save_pretrained folder
        from .hf.text import load

        model = load(path)
    elif checkpoint.exists(path):
        model = checkpoint.load(ExitLM, TextConfig, path)
    else:
        raise ValueError(f"no text model at {path}: train one with `python -m explorer train text`, or give "
                         "a Hugging Face causal LM's save_pretrained folder")
    prompt = model.encode(args.prompt.replace("\\n", "\n").replace("\\t", "\t"))  # typed \n and \t
    full = generate(model, [prompt], args.bytes)
    if args.speculate:
        run = speculate(model, prompt, args.bytes, args.speculate, args.draft_len)
        how = f"self-speculative, drafts of {args.draft_len} by the first {args.speculate} layers"
    elif args.criterion:
        run = generate(model, [prompt], args.bytes, criteria.get(args.criterion),
                       criteria.get(args.criterion).default if args.threshold is None else args.threshold)
        how = f"per-token exits, {args.criterion}"
    else:
        run, how = full, "the full model"
    same = sum(a == b for a, b in zip(run.tokens[0], full.tokens[0], strict=True)) / max(len(full.tokens[0]), 1)
    out = {"prompt": model.decode(prompt), "text": run.texts(model)[0], "how": how,
           "mean_exit": round(run.mean_exit, 3), "exits_total": model.num_exits,
           "speedup_by_layers": round(run.layer_speedup, 3), "same_as_full_model": round(same, 4),
           "seconds": round(run.seconds, 3), "full_model_seconds": round(full.seconds, 3)}
    if args.speculate:
        out["drafts_accepted"] = round(run.accepted / max(run.drafted, 1), 4)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['prompt']}{out['text']}\n\n{how}: mean exit {out['mean_exit']} of {out['exits_total']}, "
              f"{out['speedup_by_layers']}x fewer layers, {100 * same:.1f}% of bytes as the full model's, "
              f"{out['seconds']} s (full model {out['full_model_seconds']} s)")
    return 0


def cmd_compress(args) -> int:
    from .compress import compress, variant_name

    name = variant_name(args.model, args.method, args.ratio)
    if not args.keep:
        name, _ = compress(args.model, args.method, args.ratio, args.epochs, args.limit,
                           log=lambda line: print(line, file=sys.stderr))
    out = {"variant": name}
    if args.json:
        from .variant_report import compare

        out.update(compare(args.model, name, _progress_bar(f"profiling {name}")))
    print(json.dumps(out))
    return 0


def cmd_export(args) -> int:
    """The model's graphs with its exits and threshold, for ONNX Runtime (see explorer.export)."""
    from pathlib import Path

    from . import criteria, zoo
    from .deployed import calibration_batches
    from .export import export
    from .thresholds import default_criterion, recommended

    crit = criteria.get(args.criterion or default_criterion(args.model))
    if not crit.causal:
        raise ValueError(f"{crit.name} is a bound that needs labels or the final exit: it cannot decide an exit")
    threshold = recommended(args.model, crit.name) if args.threshold is None else args.threshold
    calibration = calibration_batches(args.model) if args.int8 else None
    done = export(zoo.model(args.model), Path(args.out), args.model, crit.name, float(threshold), calibration)
    out = {"model": args.model, "out": str(done.folder), "graphs": done.graphs, "criterion": crit.name,
           "threshold": float(threshold), "int8": args.int8, "fingerprint": done.spec["fingerprint"][:12]}
    print(json.dumps(out) if args.json else "\n".join(f"{k:>12}: {v}" for k, v in out.items()))
    return 0


def cmd_energy(args) -> int:
    from . import energy, zoo

    prof = zoo.profile(args.model, zoo.get(args.model).test_split, _progress_bar(f"profiling {args.model}"))
    trace = energy.power_trace(energy.TraceConfig(shape=args.shape, seconds=args.seconds, mean_mw=args.mean_mw,
                                                  seed=args.seed))
    run = energy.simulate(prof, trace, energy.EnergySettings(nj_per_mac=args.nj_per_mac,
                                                             capacitor_mj=args.capacitor_mj, period_s=args.period))
    print(json.dumps({"model": args.model, **run.summary.to_json(), "period_s": args.period,
                      "capacitor_mj": args.capacitor_mj, "full_mj": run.full_macs * args.nj_per_mac * 1e-6}))
    return 0


def _runtime_arg(p) -> None:
    from .deployed import RUNTIMES

    p.add_argument("--runtime", default="torch", choices=list(RUNTIMES),
                   help="onnx: the model exported to ONNX Runtime, real exits kept (exported on first use "
                        "into the cache); onnx-int8: its stages quantised")


def main(argv=None) -> int:
    setup.install()  # every model joins the registry before any command names one
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bench", help="full depth vs real exits: ideal and measured speedup")
    p.add_argument("--model", default="toy")
    p.add_argument("--criterion", default="entropy")
    p.add_argument("--threshold", type=float, default=None, help="default: the criterion's default")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--split", default=None, help="default: the model's test split")
    p.add_argument("--limit", type=int, default=0, help="only the first N inputs (0: all)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of each; the best counts")
    p.add_argument("--json", action="store_true", help="one JSON object")
    _runtime_arg(p)
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("profile", help="build (or load) a model's profile on a split")
    p.add_argument("--model", default="toy")
    p.add_argument("--split", default="test")
    p.add_argument("--noisy", action="store_true", help="every noisy test set the robustness figures need")
    p.add_argument("--ship", action="store_true",
                   help="write new profiles of a built-in model into assets/profiles (else the cache)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: a cluster address, 'auto' (RAY_ADDRESS or the running cluster) "
                        "or 'local' (the default: a Ray on this machine)")
    p.add_argument("--workers", type=int, default=1, help="with --ray: actors, each loading the model once")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: profile on a GPU (with --ray: one GPU per worker); the profile says which device")
    _runtime_arg(p)
    p.set_defaults(run=cmd_profile)

    p = sub.add_parser("sweep", help="sweep criteria over their threshold grids, as CSV (exits counted from 1)")
    p.add_argument("--model", default="toy")
    p.add_argument("--split", default="test")
    p.add_argument("--criterion", action="append", help="repeatable; default: all")
    p.add_argument("--out", help="CSV file (default: standard output)")
    p.set_defaults(run=cmd_sweep)

    p = sub.add_parser("predict", help="run a model with real exits on files (text models: continue prompts)")
    p.add_argument("--model", default="image")
    p.add_argument("files", nargs="+", help="files; for a text model, prompts (or .txt files) to continue")
    p.add_argument("--tokens", type=int, default=0, help="text models: tokens to generate (default 32)")
    p.add_argument("--criterion", default=None, help="default: the model's recommended criterion")
    p.add_argument("--threshold", type=float, default=None, help="default: the recommended threshold")
    p.add_argument("--json", action="store_true", help="one JSON line per file")
    _runtime_arg(p)
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("export", help="a model with its exits and threshold as ONNX graphs + exits.json "
                                      "(runs without this project: examples/run_exported.py)")
    p.add_argument("model")
    p.add_argument("--criterion", default=None, help="default: the model's recommended criterion")
    p.add_argument("--threshold", type=float, default=None, help="default: the recommended threshold")
    p.add_argument("--out", required=True, help="the folder to write (replaced if it exists)")
    p.add_argument("--format", default="onnx", choices=["onnx"])
    p.add_argument("--int8", action="store_true",
                   help="quantise the stages to int8 (ONNX Runtime, calibrated on the calibration split)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("report", help="a model's figures: accuracy, exits, heads, recommended threshold")
    p.add_argument("what", nargs="?", choices=["image", "speech", "text", "speech-errors"],
                   help="speech-errors: where the speech model's digit errors are, per voice, style, exit "
                        "and digit (docs/speech-unseen-voices.md)")
    p.add_argument("--model", help="an imported model (instead of image or speech)")
    p.add_argument("--checkpoint", default=None,
                   help="text or speech-errors: the model (default: assets/models/text or assets/models/speech)")
    p.add_argument("--sets", default=None, help="speech-errors: comma-separated sets (default: train, train_aug, "
                                                "val, test_a, test_a:white:10, test_b, test_c, test_d, test_e)")
    p.add_argument("--train-clips", type=int, default=400, help="speech-errors: training clips sampled")
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown", action="store_true", help="text: print the report's tables (docs/text.md's)")
    p.add_argument("--out", default=None, help="where to write the report (default: the cache)")
    p.add_argument("--ship", action="store_true", help="replace the shipped report in assets/reports")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("import", help="bring your own model: exits on a Hugging Face checkpoint or file.py:build, "
                                      "profiled on your labelled folder")
    p.add_argument("source", help="a save_pretrained folder, a hub id, or path/to/file.py:build")
    p.add_argument("--data", required=True, help="labelled folder (ImageFolder, LibriSpeech-style or metadata.csv); "
                                                  "text: .txt files or a metadata.csv with a text column")
    p.add_argument("--name", required=True, help="the name the other commands use (--model NAME)")
    p.add_argument("--exits", default="final-head", choices=["final-head", "trained", "distilled"])
    p.add_argument("--daisy", action="store_true", help="speech: DAISY cluster heads (k-means, no labels)")
    p.add_argument("--shared-exit", action="store_true", help="images: FreeML's shared exit (view NAME-shared)")
    p.add_argument("--head", default="linear", choices=["linear", "attention"],
                   help="speech: trained CTC exits as LayerNorm + linear, or HuBERT-EE's attention block + linear")
    p.add_argument("--epochs", type=int, default=5, help="epochs of exit-head training")
    p.add_argument("--limit", type=int, default=0, help="only N files of the folder (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-fraction", type=float, default=0.4, help="share of files exit heads learn on")
    p.add_argument("--calib-fraction", type=float, default=0.3, help="share of files thresholds are chosen on")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where exit heads are trained (and, with --ray, where the workers profile)")
    p.add_argument("--workspace", help="default: $EXPLORER_WORKSPACE or ~/.cache/early-exit-explorer/workspace")
    p.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="build the calibration and test profiles on Ray: a cluster address, 'auto' or 'local'")
    p.add_argument("--workers", type=int, default=1, help="with --ray: actors, each loading the model once")
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("compare", help="models side by side: per-exit quality, recommended thresholds, "
                                       "mean exit against noise (as the Tradeoffs page's Compare)")
    p.add_argument("models", nargs="+")
    p.add_argument("--criterion", help="default: the first model's recommended one")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("models", help="list every model: built-in, compressed and imported")
    p.add_argument("--workspace")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_models)

    p = sub.add_parser("synth", help="synthesize the speech corpus: digits, carrier phrases, other words "
                                     "(needs `make speech-tools`)")
    p.add_argument("what", choices=["speech"])
    from .data.speech_voices import DEFAULT_SIZES  # plain tables: nothing heavy to import

    for split, n in DEFAULT_SIZES.items():
        p.add_argument(f"--{split.replace('_', '-')}", type=int, default=n, help=f"utterances of {split}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="synthesis processes")
    p.add_argument("--out", help="corpus folder (default: $EXPLORER_CACHE/speech/<corpus-id>)")
    p.add_argument("--force", action="store_true", help="rebuild even if it exists")
    p.add_argument("--list-voices", action="store_true", help="print the voice table and exit")
    p.set_defaults(run=cmd_synth)

    p = sub.add_parser("train", help="train a built-in model (progress bars, per-exit validation log)")
    p.add_argument("what", choices=["image", "speech", "text", "text-classifier"],
                   help="text-classifier: fit CALM's learned exit classifier onto the text model at --out")
    p.add_argument("--strategy", default="joint", choices=["joint", "two-stage", "distill", "layerskip", "calm"],
                   help="speech: joint or two-stage; text: layerskip (the default) or calm")
    p.add_argument("--epochs", type=int, default=10, help="image: backbone epochs")
    p.add_argument("--minutes", type=float,
                   help="speech and text: total training budget (default: speech 55, text 55)")
    p.add_argument("--limit", type=int, default=0, help="train on only this many images (quick checks)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="speech: train this checkpoint's CTC exits on (a fresh schedule), then its DAISY heads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="checkpoint path without suffix (default: assets/models/image)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="speech: a training setting (explorer.train.speech.SpeechTrainConfig), e.g. "
                        "babble_share=0.5 or spec_freq_masks=3; repeat for more")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("compress", help="make an int8 or channel-pruned variant of a model (a new selectable model)")
    p.add_argument("model")
    p.add_argument("--method", required=True, choices=["int8", "prune"])
    p.add_argument("--ratio", type=float, default=0.5, help="prune: share of channels removed")
    p.add_argument("--epochs", type=int, default=3, help="prune: fine-tune epochs")
    p.add_argument("--limit", type=int, default=0, help="prune: fine-tune on only this many images (0: all)")
    p.add_argument("--keep", action="store_true", help="use the variant already in the cache (only report)")
    p.add_argument("--json", action="store_true", help="also measure and print its figures against the model")
    p.set_defaults(run=cmd_compress)

    p = sub.add_parser("generate", help="text: greedy bytes after a prompt, with per-token exits or "
                                        "self-speculative decoding, against the full model")
    p.add_argument("prompt", help="the text to continue (\\n for a newline)")
    p.add_argument("--bytes", type=int, default=64, help="how many tokens (bytes, for the built-in model)")
    p.add_argument("--criterion", default=None,
                   help="per-token exits: confidence, margin, entropy, saturation, learned (a model with CALM's "
                        "classifier), patience, static")
    p.add_argument("--threshold", type=float, default=None, help="default: the criterion's default")
    p.add_argument("--speculate", type=int, default=0, metavar="LAYERS",
                   help="self-speculative decoding, drafting with this many first layers")
    p.add_argument("--draft-len", type=int, default=4, help="tokens drafted before each verification")
    p.add_argument("--checkpoint", default=None,
                   help="default: assets/models/text; or a Hugging Face causal LM's save_pretrained folder")
    p.add_argument("--model", default=None, help="a text model by name instead: `text`, or an imported causal LM")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_generate)

    p = sub.add_parser("energy", help="anytime inference under a harvested-power trace: early exit vs the full model")
    p.add_argument("--model", default="image")
    p.add_argument("--shape", default="intermittent", choices=["steady", "solar", "intermittent"])
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--mean-mw", type=float, default=2.0, help="average harvested power (mW)")
    p.add_argument("--nj-per-mac", type=float, default=1.0, help="energy of one multiply-accumulate (nJ)")
    p.add_argument("--capacitor-mj", type=float, default=25.0)
    p.add_argument("--period", type=float, default=5.0, help="seconds between inputs")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_energy)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # includes InputError: a message for the user, not a traceback
        print(json.dumps({"error": str(err)}) if getattr(args, "json", False) else f"error: {err}",
              file=sys.stdout if getattr(args, "json", False) else sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
