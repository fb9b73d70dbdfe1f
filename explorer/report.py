"""`python -m explorer report MODEL --json`: the figures a model is judged by.

Thresholds are always chosen on the calibration (validation) split and reported on
the test split; the test split never chooses anything. A new report goes to the cache
(or a path you give); it replaces the shipped one in assets/reports only when asked
(`--ship`), as its timings are new measurements.
"""

from __future__ import annotations

import json

import numpy as np

from . import criteria, robustness, shift, tradeoff, zoo
from .bench import bench
from .built_ins import IMAGE_CHECKPOINT, IMAGE_LIMIT, SPEECH_CHECKPOINT
from .paths import CACHE
from .profile import Profile
from .quality import ACCURACY, WER
from .shipped import REPORTS


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def exits_table(prof: Profile) -> list[dict]:
    """Per exit: accuracy (or WER) and the cumulative cost of leaving there, reading
    the task head at every exit on the way (what the confidence criteria pay)."""
    reads_answer = criteria.get("confidence" if prof.meta.task == "class" else "patience")
    reading, ms = prof.path(reads_answer), prof.path(reads_answer, "ms")
    rows = []
    for k, name in enumerate(prof.meta.exit_names):
        rows.append({"exit": k, "name": name, prof.quality_name[0]: prof.quality(prof.exit_error(k)),
                     "macs": float(reading[k]), "ms": float(ms[k])})
    return rows


def best_recommendation(calib: Profile, test: Profile, eps_pt: float) -> tradeoff.Recommendation:
    """Over every causal criterion: the recommendation with the largest MAC speedup on
    the calibration split (ties: lower error)."""
    recs = [tradeoff.recommend(calib, test, c, eps_pt) for c in criteria.applicable(calib.cols) if c.causal]
    return max(recs, key=lambda r: (r.calibration.mac_speedup, -r.calibration.error_rate))


def noise_table(model_name: str, thresholds: dict[str, float]):
    """robustness.table over the model's noisy test sets, and its mean over noise kinds."""
    table = robustness.table(robustness.load_all(model_name), thresholds)
    return table, robustness.mean_over_kinds(table)


def by_level(rows, col: str) -> dict:
    return {level: float(v) for level, v in zip(rows.level, rows[col], strict=True)}


def by_kind_and_level(rows, col: str) -> dict:
    return {kind: by_level(part, col) for kind, part in rows.groupby("kind", sort=False)}


def class_recommendations(name: str, calib: Profile, test: Profile, eps_pt: float, split: str = "test",
                          repeats_b64: int = 5) -> tuple[dict, dict]:
    """(recommended, recommended_ltt) of a classifier, as every report writes them: the best
    criterion within `eps_pt` on calibration, reported on test, with its measured speedup at
    batch 1 and 64 on `split` (explorer.speedup), and the Learn-then-Test threshold."""
    rec = best_recommendation(calib, test, eps_pt)
    b1 = bench(name, rec.criterion, rec.threshold, 1, split, repeats=3)
    b64 = bench(name, rec.criterion, rec.threshold, 64, split, repeats=repeats_b64)
    ltt = tradeoff.recommend_ltt(calib, test, criteria.get(rec.criterion), eps=eps_pt / 100, delta=0.1)
    recommended = {
        "criterion": rec.criterion, "threshold": rec.threshold, "eps_pt": eps_pt,
        "accuracy_drop_pt": rec.test.drop_pt, "mac_speedup": rec.test.mac_speedup,
        "measured_speedup_b1": b1.realized_speedup, "measured_speedup_b64": b64.realized_speedup,
        "ideal_speedup": b1.ideal_speedup, "mean_exit": rec.test.mean_exit,
        "profile_agreement_b1": b1.profile_agreement, "profile_agreement_b64": b64.profile_agreement,
        "noisy_b1": b1.noisy, "noisy_b64": b64.noisy,  # why a measured figure is not one (speedup)
        "calibration": rec.calibration.to_json(), "test": rec.test.to_json(),
    }
    return recommended, {"criterion": ltt.criterion, "threshold": ltt.threshold if ltt.certified else None,
                         "certified": ltt.certified, "epsilon": eps_pt / 100,
                         "delta": 0.1, "test": ltt.test.to_json()}


def add_shift(name: str, report: dict, eps_pt: float, progress=None) -> dict:
    """The report with each recommended threshold's figures on the clean test set and every
    shifted set added under its `shift` key (explorer.shift, from profiles); every other
    value stays as it was, so a shipped report can gain it without being measured again."""
    rec = report["recommended"]
    for crit, r in ([(rec["criterion"], rec)] if "criterion" in rec else rec.items()):
        r["shift"] = shift.at_threshold(name, crit, r["threshold"], eps_pt, progress).to_json()
    return report


def report_image(eps_pt: float = ACCURACY.eps_pt) -> dict:
    model = zoo.model("image")
    val, test = zoo.profile("image", "val"), zoo.profile("image", "test")
    final = test.quality(test.exit_error(-1))
    recommended, recommended_ltt = class_recommendations("image", val, test, eps_pt)

    shared_val, shared_test = zoo.profile("image-shared", "val"), zoo.profile("image-shared", "test")
    shared_rec = best_recommendation(shared_val, shared_test, eps_pt)

    backbone_macs = float(test.macs.front + test.macs.stage.sum())
    noisy, _ = noise_table("image", {recommended["criterion"]: recommended["threshold"]})

    return add_shift("image", {
        "model": "image",
        "final_accuracy": final,
        "exits": exits_table(test),
        "heads": {
            "backbone": {"params": _params(model.stem) + _params(model.blocks), "macs": backbone_macs},
            "per_exit_heads": {"params": _params(model.exits), "macs": float(test.macs.head["exit"].sum())},
            "shared_head": {"params": _params(model.shared),
                            "macs_per_exit": float(shared_test.macs.head["shared"][0]),
                            "macs": float(shared_test.macs.head["shared"].sum())},
        },
        "recommended": recommended,
        "recommended_ltt": recommended_ltt,
        "shared_exit": {
            "final_accuracy": shared_test.quality(shared_test.exit_error(-1)),
            "exits": exits_table(shared_test),
            "recommended": {"criterion": shared_rec.criterion, "threshold": shared_rec.threshold,
                            "test": shared_rec.test.to_json()},
        },
        "corruptions": by_kind_and_level(noisy, "mean_exit"),
        "corruption_accuracy": by_kind_and_level(noisy, "full_depth"),
        "corruption_images": IMAGE_LIMIT,
        "training": json.loads((IMAGE_CHECKPOINT.with_suffix(".json")).read_text()).get("train", {}),
    }, eps_pt)


def save_report(name: str, report: dict, path=None, ship: bool = False):
    """Write the report to `path`, else to the shipped assets/reports (only if `ship`),
    else to the cache; returns where it went."""
    from pathlib import Path

    if path is None:
        path = (REPORTS if ship else CACHE / "reports") / f"{name}.json"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    return path


def held_out_headline(held_out: dict) -> dict:
    """The speech report's figures of its held-out sets (b)-(e), from `held_out_figures`."""
    return {
        "final_wer_real": held_out["final_wer_real"],  # set (e): digit WER on recordings of people
        "final_wer_real_by_voice": held_out["final_wer_real_by_voice"],
        "oov_digit_rate": held_out["oov_digit_rate"],  # set (c): share of clips without digits that yield one
        "carrier_wer": held_out["carrier_wer"],  # set (d): digit WER inside carrier phrases
        "oov_digit_rate_at_exit": held_out["oov_digit_rate_at_exit"],
        "wer_by_voice": {f"{split}/{v}": w for split in ("test_a", "test_b", "test_d", "test_e")
                         for v, w in held_out["by_voice"][split].items()},
        "oov_digit_rate_by_voice": held_out["by_voice"]["test_c"],
        "per_set": held_out["per_set"],
        "exit_on_unknown": held_out["exit_on_unknown"],
    }


def report_speech(eps_pt: float = WER.eps_pt) -> dict:
    """Speech figures: WER per test set, voice and SNR; speech without digits (set c) and
    digits in carrier phrases (set d); HuBERT-EE / DAISY / patience exits at thresholds
    chosen on the validation voices; exit depth against noise and on unknown speech."""
    from .speech_sets import held_out_figures

    val, test_a, test_b = (zoo.profile("speech", s) for s in ("val", "test_a", "test_b"))
    recs = {name: tradeoff.recommend(val, test_a, criteria.get(name), eps_pt)
            for name in ("ctc_entropy", "daisy", "patience")}
    thresholds = {name: rec.threshold for name, rec in recs.items()}
    noisy, noisy_mean = noise_table("speech", thresholds)
    held_out = held_out_figures("speech", thresholds)  # sets (b)-(e) beside (a)
    recommended = {}
    for name, rec in recs.items():
        b1 = bench("speech", name, rec.threshold, 1, "test_a", repeats=3)
        recommended[name] = {"threshold": rec.threshold, "wer_increase_pt": rec.test.drop_pt,
                             "wer": rec.test.error_rate, "mac_speedup": rec.test.mac_speedup,
                             "measured_speedup_b1": b1.realized_speedup, "ideal_speedup_b1": b1.ideal_speedup,
                             "mean_exit": rec.test.mean_exit, "profile_agreement_b1": b1.profile_agreement,
                             "noisy_b1": b1.noisy}
    # DAISY's depth against noise across thresholds (chosen from the validation clips'
    # first-layer entropy quantiles, no labels), averaged over the noise types
    depth_by_threshold = {}
    for q in (0.25, 0.5, 0.75, 0.9, 0.97):
        thr = float(np.quantile(val.cols["ssl_entropy"][:, 0], q))
        depth_by_threshold[f"{thr:.3f}"] = by_level(noise_table("speech", {"daisy": thr})[1], "mean_exit")
    b64 = bench("speech", "ctc_entropy", recommended["ctc_entropy"]["threshold"], 64, "test_a", repeats=5)
    recommended["ctc_entropy"]["measured_speedup_b64"] = b64.realized_speedup
    path = test_a.path(criteria.get("ctc_entropy"))
    return add_shift("speech", {
        "model": "speech",
        "final_wer": test_a.exit_error(-1),
        "final_wer_unseen_voices": test_b.exit_error(-1),
        **held_out_headline(held_out),
        "wer_by_snr": by_level(noisy_mean[noisy_mean.criterion == "ctc_entropy"], "full_depth"),
        "exits": exits_table(test_a),
        "exits_unseen_voices": exits_table(test_b),
        "recommended": recommended,
        "mean_exit_by_snr": {name: by_kind_and_level(noisy[noisy.criterion == name], "mean_exit") for name in recs},
        "daisy_mean_exit_by_threshold": depth_by_threshold,
        "front_end_cap": float(test_a.full() / path[0]),
        "front_end_share": float(test_a.macs.front / test_a.full()),
        "eval_clips": {"val": val.n, **{split: row["clips"] for split, row in held_out["per_set"].items()}},
        "training": json.loads(SPEECH_CHECKPOINT.with_suffix(".json").read_text()).get("train", {}),
    }, eps_pt)
