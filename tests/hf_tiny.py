"""Tiny random Hugging Face checkpoints, saved as a real one is (config, weights, feature
extractor or image processor, CTC tokenizer), for offline tests. Configurations from
shared/HF-INTERNALS.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

SPEECH_VARIANTS = {
    "hubert": ("HubertConfig", "HubertForCTC", {}),  # group-norm front end, post-LN
    "hubert-stable": ("HubertConfig", "HubertForCTC", {"do_stable_layer_norm": True, "feat_extract_norm": "layer"}),
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2ForCTC", {}),
    "wav2vec2-stable": ("Wav2Vec2Config", "Wav2Vec2ForCTC", {"do_stable_layer_norm": True,
                                                             "feat_extract_norm": "layer"}),
    "wavlm": ("WavLMConfig", "WavLMForCTC", {}),
    "wavlm-stable": ("WavLMConfig", "WavLMForCTC", {"do_stable_layer_norm": True, "feat_extract_norm": "layer"}),
}
# A character vocabulary as in facebook/wav2vec2-base-960h: <pad> is the CTC blank.
CHARS = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "O", "N", "I", "W", "R", "H", "F", "V", "S", "Z", "X", "U"]
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


WORDS = ["<pad>", "<unk>", "|", "one", "two", "three", "five", "six", "nine"]  # a word vocabulary


def tiny_speech(kind: str, out: Path, seed: int = 0, blank_last: bool = False, layers: int = 4,
                words: bool = False) -> Path:
    """Save a tiny random CTC model with its feature extractor and tokenizer at `out`.
    blank_last: put the blank (pad) token at the end of the vocabulary, not at 0.
    words: a vocabulary of whole words (one token per word, "|" between), not characters."""
    import transformers

    cfg_name, model_name, extra = SPEECH_VARIANTS[kind]
    chars = WORDS if words else CHARS[1:] + CHARS[:1] if blank_last else CHARS
    vocab = {c: i for i, c in enumerate(chars)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab))
    tok = transformers.Wav2Vec2CTCTokenizer(str(out / "vocab.json"), pad_token="<pad>", word_delimiter_token="|")
    cfg = getattr(transformers, cfg_name)(
        hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=37,
        conv_dim=(32, 32, 32), conv_stride=(4, 4, 4), conv_kernel=(8, 8, 8), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, vocab_size=len(vocab), layerdrop=0.0, mask_time_prob=0.0,
        pad_token_id=vocab["<pad>"], **extra)
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(cfg).eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0,
                                          do_normalize=True, return_attention_mask=True).save_pretrained(out)
    return out


def tiny_image(kind: str, out: Path, labels=DIGIT_WORDS, seed: int = 0) -> Path:
    """Save a tiny random ViT, DeiT (deit, or deit-teacher: the distilled WithTeacher form) or
    ResNet classifier and its image processor at `out`."""
    import transformers

    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    torch.manual_seed(seed)
    if kind == "vit":
        cfg = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=4,
                                     num_attention_heads=2, intermediate_size=37, id2label=id2label,
                                     label2id=label2id)
        model = transformers.ViTForImageClassification(cfg)
        proc = transformers.ViTImageProcessorPil(size={"height": 32, "width": 32})
    elif kind.startswith("deit"):
        cfg = transformers.DeiTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=4,
                                      num_attention_heads=2, intermediate_size=37, id2label=id2label,
                                      label2id=label2id)
        arch = "DeiTForImageClassificationWithTeacher" if kind == "deit-teacher" else "DeiTForImageClassification"
        model = getattr(transformers, arch)(cfg)
        proc = transformers.ViTImageProcessorPil(size={"height": 32, "width": 32})
    else:
        cfg = transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 2, 1],
                                        layer_type="basic", id2label=id2label, label2id=label2id)
        model = transformers.ResNetForImageClassification(cfg)
        proc = transformers.ViTImageProcessorPil(size={"height": 32, "width": 32})
    model.eval().save_pretrained(out)
    proc.save_pretrained(out)
    return out


def waves(n: int, seed: int = 0, low: int = 3000, high: int = 9000) -> list[np.ndarray]:
    """n random waveforms of different lengths (16 kHz)."""
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(rng.integers(low, high)))).astype(np.float32) for _ in range(n)]


def image_folder(root: Path, labels=DIGIT_WORDS[:3], per_class: int = 8, seed: int = 0) -> Path:
    """An ImageFolder: one subfolder per class of small PNGs whose brightness says the class
    (so a trained head has something to learn)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, name in enumerate(labels):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            level = 40 + 80 * c
            arr = np.clip(level + 30 * rng.standard_normal((32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / name / f"{i}.png")
    return root


def librispeech_folder(root: Path, n: int = 12, seed: int = 0, words=("ONE", "TWO", "FIVE", "SIX")) -> Path:
    """A LibriSpeech-style tree: speaker/chapter/ID.flac beside speaker-chapter.trans.txt."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    chapter = root / "19" / "198"
    chapter.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, w in enumerate(waves(n, seed)):
        uid = f"19-198-{i:04d}"
        sf.write(chapter / f"{uid}.flac", w, 16_000)
        lines.append(f"{uid} " + " ".join(rng.choice(words, int(rng.integers(1, 3)))))
    (chapter / "19-198.trans.txt").write_text("\n".join(lines) + "\n")
    return root


# ---- causal LMs (text): a tiny GPT-2 or Llama with a byte-level BPE tokenizer trained on the texts ----
TEXTS = [  # a tiny, repetitive corpus: each line one document
    "def add(a, b):\n    return a + b\n",
    "the cat sat on the mat and the dog sat on the log.",
    "for i in range(10):\n    print(i * i)\n",
    "early exit lets easy tokens leave the network after a few layers.",
    "import os\nimport sys\nprint(os.getcwd(), sys.argv)\n",
    "a small model, a small corpus, and a small test that runs in seconds.",
]


def text_folder(root: Path, copies: int = 4) -> Path:
    """A folder of .txt files (one document each), some in a subfolder."""
    root.mkdir(parents=True, exist_ok=True)
    for c in range(copies):
        for i, text in enumerate(TEXTS):
            where = root / ("more" if i % 2 else ".")
            where.mkdir(exist_ok=True)
            (where / f"doc-{c}-{i}.txt").write_text(text * (2 + c))
    return root


def tiny_causal_lm(kind: str, out: Path, seed: int = 0, layers: int = 3, init: float = 0.02) -> Path:
    """Save a tiny random GPT2LMHeadModel ("gpt2"), LlamaForCausalLM ("llama"), Qwen2ForCausalLM
    ("qwen2") or MistralForCausalLM ("mistral") at `out`, with
    a byte-level BPE tokenizer of 300 tokens trained on TEXTS (any text encodes)."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    vocab = len(fast)
    torch.manual_seed(seed)
    if kind == "gpt2":
        cfg = transformers.GPT2Config(n_layer=layers, n_embd=32, n_head=2, vocab_size=vocab, n_positions=128,
                                      bos_token_id=0, eos_token_id=0, initializer_range=init)
        model = transformers.GPT2LMHeadModel(cfg)
    else:  # the Llama family: llama, qwen2, mistral
        arch = {"llama": "Llama", "qwen2": "Qwen2", "mistral": "Mistral"}[kind]
        cfg = getattr(transformers, f"{arch}Config")(num_hidden_layers=layers, hidden_size=32, num_attention_heads=4,
                                                     num_key_value_heads=2, intermediate_size=64, vocab_size=vocab,
                                                     max_position_embeddings=128, initializer_range=init)
        model = getattr(transformers, f"{arch}ForCausalLM")(cfg)
    model.eval().save_pretrained(out)
    fast.save_pretrained(out)
    return out
