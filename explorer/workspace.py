"""Imported models: `python -m explorer import SOURCE --data DIR --name NAME`.

An import writes one folder, WORKSPACE/NAME/ (WORKSPACE: --workspace, else
$EXPLORER_WORKSPACE, else ~/.cache/early-exit-explorer/workspace):
  manifest.json        source and its content hash, exit kind, labels, data folder, split, key
  heads.safetensors    trained exit heads (+ heads.json: shapes, seed, per-exit training log)
  profiles/            calibration and test profiles (measured ms on this machine)
  report.json          the same shape as `report image|speech` (a causal LM: as `report text`,
                       no profiles: explorer.text_report.imported)
The key hashes the source's content, the data folder's listing (paths, sizes, times,
labels) and every option: the same key again is instant; anything changed rebuilds.
Imported models are then reachable by name from every command and page: `imported`
(light, no torch) lists them and makes their registry entries; this module imports,
loads and reports. `import_model` reports its phases (loading, features, training,
profiling) to a `phase` callback, which the app's Add-a-model page draws as progress bars.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import folders, imported, modality, user_model
from .manifest import VERSION, DataInfo, Manifest
from .models.base import NO_FINAL_HEAD

log = logging.getLogger(__name__)
EXIT_KINDS = ("final-head", "trained", "distilled")
PHASES = ("loading", "features", "training", "profiling")  # what an import reports progress for
root = imported.root


@dataclass(frozen=True)
class ImportOptions:
    exits: str = "final-head"  # final-head | trained | distilled
    daisy: bool = False  # speech: DAISY cluster heads
    shared_exit: bool = False  # images: FreeML's shared exit (a second view, NAME-shared)
    epochs: int = 5
    limit: int = 0
    seed: int = 0
    train_fraction: float = 0.4  # exit heads learn on this part of the folder
    calib_fraction: float = 0.3  # thresholds are chosen here; the rest is the test split
    device: str = "cpu"  # where the frozen backbone's features are read and heads trained
    head: str = "linear"  # speech: trained CTC exits as LayerNorm + linear, or HuBERT-EE's attention + linear


def refusal(opts: ImportOptions, model, source: str) -> str:
    """The sentence that refuses importing `model` (loaded from `source`) with `opts`, or ""
    when they fit: the one place where options meet what the model's modality can train."""
    if model.family not in modality.BY_NAME:
        return (f"{source} does not say how to read files (a `family` of image or speech and a "
                "`prepare` method): it cannot import a data folder")
    kind = modality.of(model.family)
    if opts.daisy and not kind.daisy:
        return "DAISY cluster heads are for speech models (--daisy)"
    if opts.head != "linear" and (not kind.attention_exits or opts.exits == "final-head"):
        return (f"--head {opts.head} is HuBERT-EE's CTC exit branch: it needs a speech model and "
                "--exits trained or distilled")
    if opts.shared_exit and not kind.shared_exit:
        return "FreeML's shared exit is for image models (--shared-exit)"
    if opts.exits == "final-head" and not model.final_head_works:
        return NO_FINAL_HEAD
    return kind.refusal(model)


# ---- the model behind a source --------------------------------------------------------------
def load_source(source: str, exits: str = "final-head"):
    """The model of `source` (a checkpoint, or `file.py:build`); an HF checkpoint refuses an
    exit kind its architecture cannot have right here."""
    if user_model.is_user_source(source):
        return user_model.build(source)
    from . import hf

    return hf.load(source, exits)


def source_hash(source: str) -> str:
    """Content hash of a checkpoint folder (every file) or of a model file."""
    if user_model.is_user_source(source):
        return user_model.content_hash(source)
    from . import hf

    folder = hf.resolve(source)
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def _attach(model, manifest: Manifest, heads_path: Path, view: str = "main"):
    """Put the imported heads on a freshly loaded model."""
    from . import exit_heads

    kind = modality.of(model.family)
    modules = kind.exit_modules(model, manifest, view)
    if any(m is not None for m in modules.values()):
        exit_heads.load_heads(heads_path, modules)
    return kind.attach(model, manifest.exits, modules, view)


# ---- loading an imported model (its registry entry: explorer.imported) ----------------------------
def _manifest(name: str, where: Path) -> tuple[Manifest, str] | None:
    """(manifest, view) of an imported model's name (NAME or NAME-shared)."""
    return imported.found(name, where)


def load_imported(name: str, where: str | Path | None = None):
    """The imported model `name` (NAME or NAME-shared) with its exit heads attached."""
    manifest, view = imported.found(name, where)
    model = load_source(manifest.source, manifest.exits)
    return _attach(model, manifest, root(where) / manifest.name / "heads", view)


def list_models(where: str | Path | None = None) -> list[dict]:
    where = root(where)
    out = []
    for path in sorted(where.glob("*/manifest.json")):
        m = Manifest.read(path)
        out.append({"name": m.name, "architecture": m.architecture, "exits": m.exits,
                    "source": m.source, "data": m.data.folder, "task": m.task})
        if m.shared_exit:
            out.append(dict(out[-1], name=m.name + "-shared", exits="shared"))
    return out


def _forget(name: str) -> None:
    """Tell every cache that `name` (and its shared-exit view) is being rebuilt."""
    from . import zoo

    for view in (name, name + imported.SHARED):
        zoo.forget(view)


# ---- import ----------------------------------------------------------------------------------
def _scaled(progress, lo: float, hi: float):
    """A progress callback that fills [lo, hi] of `progress` (None stays None)."""
    if progress is None:
        return None
    return lambda f, what: progress(lo + (hi - lo) * min(max(f, 0.0), 1.0), what)


def _phases(phase, progress):
    """name -> the progress callback (fraction, what) of one phase of an import: `phase(name,
    fraction, what)` when given, else the one `progress` for every phase."""
    if phase is None:
        return lambda name: progress
    return lambda name: (lambda f, what: phase(name, f, what))


def import_model(source: str, data: str | Path, name: str, opts: ImportOptions = ImportOptions(),
                 where: str | Path | None = None, progress=None, say=print, phase=None,
                 ray: dict | None = None) -> dict:
    """Import `source` with exits of `opts.exits` on the labelled folder `data`; returns the report.
    phase(name, fraction, what): progress of each of PHASES (the app draws one bar each).
    ray: {"address", "workers"} to build the calibration and test profiles on Ray (on
    `opts.device`); the same profile files and keys as one process, so not part of the key."""
    at = _phases(phase, progress)
    if not name or "/" in name or name.startswith(".") or name.endswith("-shared"):
        raise ValueError(f"{name!r} cannot be a model name: use letters, digits, '-' and '_' "
                         "(and not the ending -shared, which names the shared-exit view)")
    from .zoo import BUILT_INS

    if name in BUILT_INS:
        raise ValueError(f"{name} is a built-in model's name: choose another --name")
    if ray is None:  # with --ray the cluster's workers need the GPU, not this machine
        from .device import check

        check(opts.device)
    if opts.exits not in EXIT_KINDS:
        raise ValueError(f"unknown exit kind {opts.exits!r}; choose one of {', '.join(EXIT_KINDS)}")
    where = root(where)
    folder_out = where / name
    loading = at("loading") or (lambda f, what: None)
    loading(0.0, f"loading {source}")
    model = load_source(source, opts.exits)
    loading(0.5, "model loaded; reading the data folder")
    if refused := refusal(opts, model, source):
        raise ValueError(refused)
    kind = modality.of(model.family)
    folder = kind.scan(data, opts.train_fraction, opts.calib_fraction, opts.limit)
    data_info = DataInfo(str(Path(data).expanduser().resolve()), folder.layout, opts.train_fraction,
                         opts.calib_fraction, opts.limit,
                         {s: folder.split.count(s) for s in ("train", "calib", "test")}, len(folder.missing))
    key = hashlib.sha256(json.dumps([VERSION, source_hash(source), folder.content_hash(),
                                     asdict(opts)], sort_keys=True).encode()).hexdigest()
    loading(1.0, f"{len(folder.files)} files in {data} ({folder.layout})")
    old = folder_out / "manifest.json"
    if old.is_file() and (folder_out / "report.json").is_file():
        if Manifest.read(old).key == key:
            say(f"{name}: nothing changed since the last import; the report is current")
            for later in PHASES[1:]:
                (at(later) or (lambda f, what: None))(1.0, "nothing changed since the last import")
            return json.loads((folder_out / "report.json").read_text())
    _forget(name)
    say(f"{folder.layout} folder: " + ", ".join(f"{data_info.files[s]} {s}" for s in ("train", "calib", "test"))
        + (f"; {len(folder.missing)} listed files missing" if folder.missing else ""))
    labels = list(model.labels)
    kind.targets(folder.targets, labels or None)  # a label mismatch stops here, before any work
    manifest = Manifest(name, source, model.architecture, kind.name, model.task, opts.exits, data_info,
                        source_hash=source_hash(source), options=asdict(opts), labels=labels,
                        shared_exit=opts.shared_exit, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    folder_out.mkdir(parents=True, exist_ok=True)
    heads_meta: dict = {"seed": opts.seed, "logs": []}
    modules: dict = {}
    needs_training = opts.exits != "final-head" or opts.daisy or opts.shared_exit
    if needs_training:
        from . import exit_heads

        modules, heads_meta = _train_heads(model, folder, opts, labels, at("features"), at("training"), say,
                                           spill=folder_out / "features.tmp")
        manifest = replace(manifest, daisy=heads_meta.get("daisy"))
        exit_heads.save_heads(folder_out / "heads", modules, heads_meta)
    else:
        for later in ("features", "training"):
            (at(later) or (lambda f, what: None))(1.0, "not needed: the model's own head reads every exit")
    manifest = replace(manifest, training=heads_meta)
    manifest.write(folder_out / "manifest.json")  # key still None: not done
    profiling = at("profiling")
    if not kind.profiled:  # a text model generates: its report measures agreement with the full model's tokens
        report = _text_report(name, model, manifest, folder, folder_out / "heads", _scaled(profiling, 0, 1), say)
        say(f"{name} is ready: choose it on the Live: text page")
        (folder_out / "report.json").write_text(json.dumps(report, indent=1))
        replace(manifest, key=key).write(folder_out / "manifest.json")
        return report
    views = [name] + ([name + "-shared"] if opts.shared_exit else [])
    if ray is not None:  # the profiles the report reads, built on Ray (only here is it imported)
        from .ray_profile import profile_imported

        for view in views:
            profile_imported(view, ray.get("address", "local"), ray.get("workers", 1), opts.device, profiling)
    elif opts.device != "cpu":  # the same profiles on this machine's GPU
        from .zoo import profile_on

        for view in views:
            for split in ("calib", "test"):
                profile_on(view, split, opts.device, profiling)
    say("profiling the calibration and test splits (every exit, every head) and timing real exits")
    report = build_report(name, where, _scaled(profiling, 0, 0.7 if opts.shared_exit else 1), say)
    if opts.shared_exit:
        report["shared_exit"] = build_report(name + "-shared", where, _scaled(profiling, 0.7, 1), say,
                                             shared_only=True)
    say(f"{name} is ready: choose it on any page")
    (folder_out / "report.json").write_text(json.dumps(report, indent=1))
    replace(manifest, key=key).write(folder_out / "manifest.json")
    return report


def _text_report(name: str, model, manifest: Manifest, folder, heads: Path, progress, say) -> dict:
    """An imported causal LM's report (explorer.text_report.imported) on its calibration and
    test texts, with its trained exits attached as they will be loaded."""
    from .text_report import imported as text_report

    if manifest.exits != "final-head":  # the heads as saved, read back: what loading it will give
        model = _attach(model, manifest, heads)
    texts = {split: folders.load_part(folder, split, model.prepare).inputs for split in ("calib", "test")}
    progress = progress or (lambda f, what: None)
    steps = iter(range(1, 100))  # the report's three steps: profiles, then each criterion's threshold
    out = text_report(model, name, texts["calib"], texts["test"], progress=lambda what: progress(next(steps) / 4, what))
    progress(1.0, "report ready")
    out.update(source=manifest.source, training=manifest.training)
    for cname, row in out["criteria"].items():
        say(f"  {cname}: " + (f"threshold {row['threshold']:.4g}, mean exit {row['mean_exit']} of {model.num_exits}, "
                              f"{row['same_tokens_as_full']:.0%} of tokens as the full model's"
                              if row["certified"] else "no threshold certified (every token goes to the last layer)"))
    return out


def _train_heads(model, folder, opts: ImportOptions, labels, progress, training, say,
                 spill: Path) -> tuple[dict, dict]:
    """Read the frozen backbone once over the training split and train every head asked for
    (progress: of reading the features; training: of training the heads; spill: a folder
    for the features when they pass the memory budget, removed afterwards)."""
    import torch

    training = training or (lambda f, what: None)
    need_labels = opts.exits == "trained" or (opts.shared_exit and opts.exits != "distilled")
    loaded = folders.load_part(folder, "train", model.prepare, labels or None, model.rate)
    if loaded.skipped:
        say(f"skipped {len(loaded.skipped)} unreadable training files (first: {loaded.skipped[0][0]}: "
            f"{loaded.skipped[0][1]})")
    device = torch.device(opts.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device here; use --device cpu")
    model.to(device)
    inputs = [x.to(device) for x in loaded.inputs]
    try:
        feats = modality.of(model.family).features(model, inputs, progress=progress, spill=spill)
        model.to("cpu")
        say(f"read the frozen backbone's features of {len(inputs)} training inputs in {feats.seconds:.1f} s, "
            f"kept {feats.kept}" + ({"on disk": f" (more than fit in memory: in {spill} while the heads train)",
                                     "one layer at a time": " (they fit neither memory nor disk: each layer is read "
                                                            "again when its head trains)"}.get(feats.kept, "")))
        return _train_on(model, feats, loaded, opts, say, training, need_labels, len(inputs))
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _train_on(model, feats, loaded, opts: ImportOptions, say, training, need_labels: bool,
              n_inputs: int) -> tuple[dict, dict]:
    from . import exit_heads

    meta = {"seed": opts.seed, "feature_seconds": feats.seconds, "features_kept": feats.kept,
            "feature_bytes": feats.nbytes, "train_inputs": n_inputs, "logs": []}
    modules: dict = {}
    targets = loaded.targets if need_labels else None
    if opts.exits != "final-head":
        modules["branches"], tlog = modality.of(model.family).train_branches(
            model, feats, targets if opts.exits == "trained" else None, opts, _scaled(training, 0, 0.6))
        meta["logs"].append(tlog.to_dict())
        for e in tlog.per_exit:
            say(f"  exit {e['exit'] + 1}: {tlog.kind} loss {e['loss'][0]:.3f} -> {e['loss'][-1]:.3f}")
    if opts.daisy:
        training(0.6, "DAISY: k-means on one layer's frames, then a cluster head per layer")
        modules["ssl"], dlog, info = exit_heads.train_daisy(model, feats, epochs=opts.epochs, seed=opts.seed)
        meta["daisy"] = info
        meta["logs"].append(dlog.to_dict())
        say(f"  DAISY: {info['clusters']} clusters on layer {info['layer'] + 1}; cluster-head loss "
            + ", ".join(f"{e['loss'][0]:.2f}->{e['loss'][-1]:.2f}" for e in dlog.per_exit))
    if opts.shared_exit:
        training(0.8, "training FreeML's shared exit")
        modules["shared"], slog = exit_heads.train_shared_exit(model, feats, targets, opts.epochs, opts.seed)
        meta["logs"].append(slog.to_dict())
        say(f"  shared exit: loss {slog.per_exit[0]['loss'][0]:.3f} -> {slog.per_exit[0]['loss'][-1]:.3f}")
    meta["train_seconds"] = sum(lg["seconds"] for lg in meta["logs"])
    training(1.0, f"heads trained in {meta['train_seconds']:.1f} s")
    return modules, meta


# ---- the report: the same shape as `report image|speech` --------------------------------------
def build_report(name: str, where: Path, progress=None, say=print, shared_only: bool = False) -> dict:
    from . import criteria, tradeoff, zoo
    from .bench import bench
    from .report import add_shift, best_recommendation, class_recommendations, exits_table

    model = zoo.model(name)
    calib = zoo.profile(name, "calib", _scaled(progress, 0, 0.45))
    test = zoo.profile(name, "test", _scaled(progress, 0.45, 0.9))
    if progress:
        progress(0.9, "timing real exits at the recommended thresholds")
    eps = zoo.get(name).quality.eps_pt
    manifest, _ = _manifest(name, root(where))
    out = {"model": name, "source": manifest.source, "architecture": manifest.architecture,
           "exits_kind": "shared" if shared_only else manifest.exits,
           "samples": {"calib": calib.n, "test": test.n}, "exits": exits_table(test)}
    if model.task == "class":
        out["final_accuracy"] = test.quality(test.exit_error(-1))
        if shared_only:
            rec = best_recommendation(calib, test, eps)
            out["recommended"] = {"criterion": rec.criterion, "threshold": rec.threshold, "test": rec.test.to_json()}
            return out
        out["recommended"], out["recommended_ltt"] = class_recommendations(name, calib, test, eps, repeats_b64=3)
    else:
        out["final_wer"] = test.exit_error(-1)
        names = [c for c in ("ctc_entropy", "daisy", "patience")
                 if c in {x.name for x in criteria.applicable(calib.cols)}]
        out["recommended"] = {}
        for cname in names:
            rec = tradeoff.recommend(calib, test, criteria.get(cname), eps)
            b1 = bench(name, cname, rec.threshold, 1, "test", repeats=3)
            out["recommended"][cname] = {
                "threshold": rec.threshold, "wer_increase_pt": rec.test.drop_pt, "wer": rec.test.error_rate,
                "mac_speedup": rec.test.mac_speedup, "measured_speedup_b1": b1.realized_speedup,
                "ideal_speedup_b1": b1.ideal_speedup, "mean_exit": rec.test.mean_exit,
                "profile_agreement_b1": b1.profile_agreement, "noisy_b1": b1.noisy}
        first = out["recommended"]["ctc_entropy"]
        b16 = bench(name, "ctc_entropy", first["threshold"], 16, "test", repeats=3)
        first["measured_speedup_b16"] = b16.realized_speedup
        first["profile_agreement_b16"] = b16.profile_agreement
        first["noisy_b16"] = b16.noisy
        path = test.path(criteria.get("ctc_entropy"))
        out["front_end_cap"] = float(test.full() / path[0])
        out["front_end_share"] = float(test.macs.front / test.full())
        out["front_end_share_ms"] = float(test.ms.front / test.full("ms"))
    add_shift(name, out, eps, _scaled(progress, 0.95, 1))  # on its noisy sets at the shift level, profiled now
    out["per_layer_ms"] = [float(v) for v in test.ms.stage]
    out["front_end_ms"] = float(test.ms.front)
    out["training"] = manifest.training
    import torch

    out["threads"] = torch.get_num_threads()
    if progress:
        progress(1.0, "report ready")
    return out


def _has_shift(report: dict) -> bool:
    rec = report.get("recommended", {})
    return all("shift" in r for r in ([rec] if "criterion" in rec else rec.values()))


def imported_report(name: str, progress=None) -> dict:
    """The report of an imported model: the workspace's copy, else built now."""
    found = _manifest(name, root())
    if found is None:
        raise ValueError(f"{name} is not an imported model (see `python -m explorer models`)")
    manifest, view = found
    path = root() / manifest.name / "report.json"
    if path.is_file():
        report = json.loads(path.read_text())
        if not modality.of(manifest.family).profiled:  # a text model's report: as imported
            return report
        if view != "shared" and not _has_shift(report):  # imported before reports had it: added, kept
            from . import zoo
            from .report import add_shift

            add_shift(manifest.name, report, zoo.get(manifest.name).quality.eps_pt, progress)
            path.write_text(json.dumps(report, indent=1))
        return report.get("shared_exit", report) if view == "shared" else report
    if not modality.of(manifest.family).profiled:
        raise ValueError(f"{name} has no report in its workspace: import it again")
    return build_report(name, root(), progress, shared_only=view == "shared")
