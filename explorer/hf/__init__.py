"""Hugging Face checkpoints as multi-exit models. `transformers` is imported here only,
when such a model is actually loaded: the built-in models and the app never pay for it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

SPEECH = ("HubertForCTC", "Wav2Vec2ForCTC", "WavLMForCTC")
IMAGE = ("ViTForImageClassification", "DeiTForImageClassification", "DeiTForImageClassificationWithTeacher",
         "ResNetForImageClassification")
TEXT = ("GPT2LMHeadModel", "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def architecture(path: Path) -> str:
    """The checkpoint's architecture name, from its config.json."""
    try:
        cfg = json.loads((Path(path) / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} has no readable config.json: pass a folder written by save_pretrained") from err
    arch = (cfg.get("architectures") or [""])[0]
    if arch not in SPEECH + IMAGE + TEXT:
        raise ValueError(f"{path} holds a {arch or 'model of unknown architecture'}; supported: "
                         f"{', '.join(SPEECH + IMAGE + TEXT)}")
    return arch


def resolve(source: str) -> Path:
    """A local checkpoint folder for `source` (a folder, or a hub id already downloaded, or
    downloadable when the machine is online); a clear sentence otherwise."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if not HUB_ID.match(source):
        raise ValueError(f"{source} is neither a folder nor a Hugging Face hub id (owner/name)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, local_files_only=True))
    except Exception:  # not in the local hub cache: try the network unless told to stay offline
        pass
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        raise ValueError(f"{source} is not downloaded and HF_HUB_OFFLINE is set: download it first "
                         f"(`huggingface-cli download {source}`) or pass the folder save_pretrained wrote")
    try:
        return Path(snapshot_download(source))
    except Exception as err:
        raise ValueError(f"could not download {source} ({type(err).__name__}): this machine may be offline; "
                         f"download it elsewhere (`huggingface-cli download {source}`) and pass the folder, "
                         "or pass a folder written by save_pretrained") from None


def load(source: str, exits: str = "final-head"):
    """An HF checkpoint (folder or hub id) as a multi-exit model in eval mode, ready for exits of
    kind `exits` (trained ones are attached after); an architecture that cannot have that kind
    (a ResNet's final-head) is refused here, with the sentence that says what to do."""
    path = resolve(source)
    arch = architecture(path)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    if arch in TEXT:  # a causal LM: generation, one layer at a time (its tokenizer, when saved)
        from .text import load as load_causal_lm

        return load_causal_lm(path, source=str(source))
    model = getattr(transformers, arch).from_pretrained(str(path), local_files_only=True).eval()
    if arch in SPEECH:
        from .speech import HFSpeechCTC

        try:
            fe = transformers.AutoFeatureExtractor.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError):
            raise ValueError(f"{path} has no feature extractor (preprocessor_config.json): save the "
                             "checkpoint's feature extractor beside it") from None
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, TypeError):
            tok = None  # transcripts are then shown as token ids
        return HFSpeechCTC(model, fe, tok, source=str(source))
    from .image import adapter

    try:
        proc = transformers.AutoImageProcessor.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError):
        raise ValueError(f"{path} has no image processor (preprocessor_config.json): save the "
                         "checkpoint's image processor beside it") from None
    return adapter(model, proc, str(source), exits)
