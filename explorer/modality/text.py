"""Text: documents and prompts for causal language models, judged by how often an early exit
gives the full model's token (and bits per byte), with no noisy sets.

A data folder is a folder of `.txt` files (each file one document, subfolders included), or
a `metadata.csv` with a `text` (or `prompt`) column, one document per row. An import reads
the training split's documents as the model's token ids (`model.prepare`: its tokenizer) and
trains a tuned lens per early layer on them (`--exits trained`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..quality import AGREEMENT
from .base import Decoded, Listing, Modality

SUFFIXES = {".txt"}
COLUMNS = ("text", "prompt")  # a metadata.csv's column of documents, the first one present
ROOM = 64  # tokens an upload's prompt leaves free for the continuation (at most half the context)


class Text(Modality):
    name = "text"
    quality = AGREEMENT
    live_page = "live_text"
    profiled = False  # an import: no profiles, sweeps or noisy sets (the multi-exit pages do not show it)
    generates = True

    def refusal(self, model) -> str:
        if getattr(model, "tokenizer", None) is None:
            return (f"{model.source or 'the checkpoint'} has no tokenizer, so its data folder's text cannot be "
                    "read: save the checkpoint's tokenizer beside it (tokenizer.save_pretrained(folder))")
        return ""

    # ---- files ------------------------------------------------------------------------------
    def list_files(self, root: Path) -> Listing:
        """Every `.txt` file under `root` (a document each), or the rows of its metadata.csv.
        A metadata.csv row's target is its text (there is no file per row; it splits by its
        text); a file's target is empty (its text is the file)."""
        if (root / "metadata.csv").is_file():
            return _metadata(root)
        files = sorted(f.relative_to(root) for f in root.rglob("*")
                       if f.is_file() and f.suffix.lower() in SUFFIXES
                       and not any(p.startswith(".") for p in f.relative_to(root).parts))
        if not files:
            others = [p.name for p in root.iterdir() if not p.name.startswith(".")]
            hint = f" (it holds {len(others)} other entries, e.g. {others[0]})" if others else " (it is empty)"
            raise InputError(f"no text in {root}{hint}: put one .txt file per document in it (UTF-8), "
                             "or a metadata.csv with a `text` column, one document per row")
        return Listing("txt", files, [""] * len(files), [])

    def read(self, data: bytes, rate: int | None = None) -> str:
        """A file's bytes as text (UTF-8; a byte-order mark is dropped)."""
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InputError(f"the file is not UTF-8 text (byte {err.start} is {data[err.start]:#04x}): "
                             "save it as UTF-8") from None

    def raw(self, root: Path, file: Path, target, rate: int | None = None) -> str:
        """A listed document: a metadata.csv row's text, else the file's."""
        return target if target else self.read((root / file).read_bytes(), rate)

    def decode(self, data: bytes, model=None) -> Decoded:
        """An uploaded .txt as a prompt: the model's token ids (bytes for the built-in model),
        its last tokens only when it leaves the model no room to continue."""
        import torch

        text = self.read(data)
        if not text:
            raise InputError("the file is empty: a prompt needs at least one character")
        ids = list(model.encode(text)) if model is not None else list(text.encode("utf-8"))
        warnings = []
        if model is not None:
            keep = max(1, model.context - min(ROOM, model.context // 2))
            if len(ids) > keep:
                warnings.append(f"The text is {len(ids):,} tokens; the model reads {model.context:,} at most, "
                                f"so only its last {keep:,} tokens are the prompt (leaving room to continue).")
                ids = ids[-keep:]
        return Decoded(torch.tensor(ids, dtype=torch.long), text, tuple(warnings))

    # ---- noise --------------------------------------------------------------------------------
    def noise_axis(self, model=None, limit: int = 0) -> None:
        """None: text models have no noisy sets (the Noise page does not offer them)."""
        return None

    # ---- imported models' exit heads ----------------------------------------------------------
    def features(self, model, inputs: list, progress=None, spill: Path | None = None):
        from ..exit_heads import token_features

        return token_features(model, inputs, progress=progress)

    def exit_modules(self, model, manifest, view: str) -> dict:
        from torch import nn

        from ..exit_heads import Translator

        lenses = (nn.ModuleList(Translator(model.hidden_size) for _ in range(model.num_exits - 1))
                  if manifest.exits != "final-head" else None)
        return {"branches": lenses}

    def attach(self, model, exits: str, modules: dict, view: str):
        return model.attach(exits, modules["branches"])

    def train_branches(self, model, feats, targets, opts, progress):
        """A tuned lens per early layer, distilled from the last layer (no labels: `targets` unused)."""
        from ..exit_heads import train_translators

        return train_translators(model, feats, opts.epochs, opts.seed, progress=progress)


def _metadata(root: Path) -> Listing:
    from ..folders import csv_rows

    path = root / "metadata.csv"
    rows = csv_rows(root, "with a `text` column")
    column = next((c for c in COLUMNS if rows and c in rows[0]), None)
    if column is None:
        found = ", ".join(rows[0]) if rows else "no rows"
        raise InputError(f"{path} needs a `text` (or `prompt`) column, one document per row (found: {found})")
    texts = [(r[column] or "") for r in rows]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise InputError(f"every row of {path}'s `{column}` column is empty: add the documents' text")
    return Listing("metadata.csv", [Path("metadata.csv")] * len(texts), texts, [],
                   keys=[f"row:{t}" for t in texts])


TEXT = Text()
