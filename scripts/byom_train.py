"""Train the demo checkpoints for `make byom-demo`, as someone elsewhere would have:
transformers' own architectures, saved with save_pretrained beside their processor.

  python scripts/byom_train.py vit OUT [--epochs 3]      ViTForImageClassification on MNIST
  python scripts/byom_train.py speech OUT CORPUS [--minutes 20]   Wav2Vec2ForCTC on the digit corpus
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def train_vit(out: Path, epochs: int, seed: int = 0, resume: bool = False, lr: float = 5e-4) -> dict:
    import transformers

    from explorer.data.mnist import load_mnist

    torch.manual_seed(seed)
    labels = [str(i) for i in range(10)]
    cfg = transformers.ViTConfig(image_size=28, patch_size=4, num_channels=1, hidden_size=96, num_hidden_layers=8,
                                 num_attention_heads=4, intermediate_size=192, hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0, id2label=dict(enumerate(labels)),
                                 label2id={v: i for i, v in enumerate(labels)})
    model = transformers.ViTForImageClassification(cfg)
    before = {}
    if resume:  # more epochs on a saved checkpoint
        model = transformers.ViTForImageClassification.from_pretrained(out)
        before = json.loads((out / "training.json").read_text())
    x, y = load_mnist("train")
    x = (torch.from_numpy(x)[:, None] - MNIST_MEAN) / MNIST_STD  # what the image processor below does
    y = torch.from_numpy(y)
    steps = epochs * math.ceil(len(x) / 128)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    start, step = time.time(), 0
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            xb = x[idx]
            shift = torch.randint(-2, 3, (2,))  # a little translation: digits are not always centred
            xb = torch.roll(xb, (int(shift[0]), int(shift[1])), (2, 3))
            loss = torch.nn.functional.cross_entropy(model(xb).logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.3f} {time.time() - start:.0f}s",
                      flush=True)
    model.eval()
    xv, yv = load_mnist("val")
    with torch.inference_mode():
        pred = torch.cat([model((torch.from_numpy(xv[i:i + 500])[:, None] - MNIST_MEAN) / MNIST_STD).logits.argmax(-1)
                          for i in range(0, len(xv), 500)])
    acc = float((pred.numpy() == yv).mean())
    model.save_pretrained(out)
    transformers.ViTImageProcessorPil(size={"height": 28, "width": 28}, image_mean=[MNIST_MEAN],
                                      image_std=[MNIST_STD]).save_pretrained(out)
    info = {"val_accuracy": acc, "train_seconds": time.time() - start + before.get("train_seconds", 0),
            "epochs": epochs + before.get("epochs", 0), "steps": steps + before.get("steps", 0)}
    (out / "training.json").write_text(json.dumps(info))
    print(json.dumps(info))
    return info


# Wav2Vec2ForCTC geometries. "base": 6 x 128, 100 frames/s (learned little in 30 min here).
# "small": 6 x 96 on a wider but shorter conv front end, 50 frames/s (a digit word still spans
# ~20 frames), so every step is cheaper and CTC has fewer frames to align.
RECIPES = {
    "base": {"hidden_size": 128, "intermediate_size": 384, "conv_dim": (32, 32, 32, 32, 32),
             "conv_stride": (5, 4, 2, 2, 2), "conv_kernel": (10, 8, 4, 4, 4), "num_conv_pos_embeddings": 32,
             "num_conv_pos_embedding_groups": 8, "batch": 8},
    "small": {"hidden_size": 96, "intermediate_size": 192, "conv_dim": (64, 64, 64, 64),
              "conv_stride": (5, 4, 4, 4), "conv_kernel": (10, 8, 8, 8), "num_conv_pos_embeddings": 16,
              "num_conv_pos_embedding_groups": 4, "batch": 16},
}


def train_speech(out: Path, corpus: Path, minutes: float, seed: int = 0, resume: bool = False,
                 lr: float = 2e-3, recipe: str = "base", limit: int = 0, steps: int = 0) -> dict:
    """A small Wav2Vec2ForCTC with a word vocabulary (one token per digit word), CTC from scratch.
    With `steps`, it trains that many steps whatever the machine's load (the learning rate
    decays along a cosine to a tenth); else for `minutes` of wall clock at a constant rate."""
    import transformers

    from explorer.data.speech_corpus import load_split

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{w: 3 + i for i, w in enumerate(WORDS)}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab))
    tok = transformers.Wav2Vec2CTCTokenizer(str(out / "vocab.json"), pad_token="<pad>", word_delimiter_token="|")
    fe = transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0,
                                               do_normalize=True, return_attention_mask=True)
    geometry = dict(RECIPES[recipe])
    batch = geometry.pop("batch")
    cfg = transformers.Wav2Vec2Config(
        num_hidden_layers=6, num_attention_heads=4, **geometry,
        feat_extract_norm="layer", do_stable_layer_norm=True, vocab_size=len(vocab), pad_token_id=0, layerdrop=0.0,
        mask_time_prob=0.0, hidden_dropout=0.0, ctc_loss_reduction="mean",
        ctc_zero_infinity=True)
    model = transformers.Wav2Vec2ForCTC(cfg)
    before = {}
    if resume:  # more minutes on a saved checkpoint
        model = transformers.Wav2Vec2ForCTC.from_pretrained(out)
        before = json.loads((out / "training.json").read_text())
    clips = [c for c in load_split("train", corpus) if c.kind == "digits"]  # its vocabulary: digit words only
    clips = clips[:limit] if limit else clips  # the first N clips (memory: every clip is kept as float32)
    waves = [fe(c.samples, sampling_rate=16_000, return_tensors="np")["input_values"][0] for c in clips]
    targets = []
    for c in clips:
        ids = []
        for j, w in enumerate(c.text.split()):
            ids += ([vocab["|"]] if j else []) + [vocab[w]]
        targets.append(ids)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    start, step = time.time(), 0
    order = np.argsort([len(w) for w in waves])  # length-bucketed batches: little padding
    buckets = [order[i:i + batch] for i in range(0, len(order), batch)]
    model.train()
    def done() -> bool:
        return step >= steps if steps else time.time() - start > 60 * minutes

    while not done():
        for b in rng.permutation(len(buckets)):
            idx = buckets[b]
            xb = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(waves[i]) for i in idx], batch_first=True)
            att = torch.nn.utils.rnn.pad_sequence([torch.ones(len(waves[i]), dtype=torch.long) for i in idx],
                                                  batch_first=True)
            labels = torch.nn.utils.rnn.pad_sequence([torch.tensor(targets[i]) for i in idx], batch_first=True,
                                                     padding_value=-100)
            warm = min(1.0, (step + 1) / 150)
            decay = 0.55 + 0.45 * math.cos(math.pi * min(step / steps, 1.0)) if steps else 1.0  # 1 -> 0.1
            for g in opt.param_groups:
                g["lr"] = lr * (1.0 if resume else warm) * decay
            loss = model(xb, attention_mask=att, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            if step % 25 == 0:
                print(f"step {step} loss {loss.item():.3f} {time.time() - start:.0f}s", flush=True)
            if done():
                break
    model.eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    fe.save_pretrained(out)
    info = {"train_seconds": time.time() - start + before.get("train_seconds", 0),
            "steps": step + before.get("steps", 0), "clips": len(clips), "recipe": recipe, "lr": lr,
            "schedule": f"{steps} steps, cosine to lr/10" if steps else f"{minutes} min, constant"}
    (out / "training.json").write_text(json.dumps(info))
    print(json.dumps(info))
    return info


@torch.inference_mode()
def speech_wer(out: Path, corpus: Path, split: str = "val", n: int = 200) -> dict:
    """Greedy-CTC WER of a saved checkpoint on the first n clips of a corpus split, decoded by
    its own tokenizer (a quick check that training learned something)."""
    import transformers

    from explorer.data.speech_corpus import load_split
    from explorer.metrics import word_errors

    model = transformers.Wav2Vec2ForCTC.from_pretrained(out).eval()
    tok = transformers.Wav2Vec2CTCTokenizer.from_pretrained(out)
    fe = transformers.Wav2Vec2FeatureExtractor.from_pretrained(out)
    errors = words = 0
    for c in load_split(split, corpus)[:n]:
        x = torch.from_numpy(fe(c.samples, sampling_rate=16_000, return_tensors="np")["input_values"])
        ids = model(x).logits.argmax(-1)[0].tolist()
        e, w = word_errors(tok.decode(ids).strip(), c.text)
        errors, words = errors + e, words + w
    return {"split": split, "clips": n, "wer": errors / words}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["vit", "speech"])
    p.add_argument("out")
    p.add_argument("corpus", nargs="?")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--resume", action="store_true", help="vit: more epochs on the saved checkpoint")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--recipe", default="base", choices=sorted(RECIPES), help="speech: the model's geometry")
    p.add_argument("--limit", type=int, default=0, help="speech: train on the first N clips (0: all)")
    p.add_argument("--steps", type=int, default=0, help="speech: train this many steps (0: for --minutes)")
    a = p.parse_args()
    if a.what == "vit":
        train_vit(Path(a.out), a.epochs, resume=a.resume, lr=a.lr)
    else:
        train_speech(Path(a.out), Path(a.corpus), a.minutes, resume=a.resume, lr=a.lr, recipe=a.recipe,
                     limit=a.limit, steps=a.steps)
        print(json.dumps(speech_wer(Path(a.out), Path(a.corpus))))


if __name__ == "__main__":
    main()
