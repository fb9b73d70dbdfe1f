"""One input of a model's evaluation set, by its place: what a link to the live page opens
(`?model=NAME&input=SETKEY:INDEX`, SETKEY one of `zoo.eval_sets(NAME)`'s keys, INDEX its
0-based position in that set, the order of the set's profile); and an image input as the
picture the model saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import zoo
from .errors import InputError


@dataclass(frozen=True)
class EvalItem:
    """An evaluation input as the live pages take it, with its truth in words."""

    x: Any  # torch.Tensor: one model input, as the model's collate takes it
    truth: str  # the class name or the reference transcript
    set_key: str
    index: int
    label: str  # "clean test set (test), #12"


def parse(link: str) -> tuple[str, int]:
    """"SETKEY:INDEX" -> (SETKEY, INDEX); InputError in words when it is not that."""
    key, sep, index = str(link).rpartition(":")
    if not sep or not key or not index.strip().isdigit():
        raise InputError(f"The link's input “{link}” is not of the form SET:NUMBER (for example test:12).")
    return key, int(index)


def item(name: str, set_key: str, index: int) -> EvalItem:
    """Input number `index` (from 0) of evaluation set `set_key` of model `name`, with its
    truth; InputError in words for a set the model lacks or a number outside it."""
    try:
        s = zoo.eval_set(name, set_key)
    except ValueError:
        keys = [e.key for e in zoo.eval_sets(name)]
        shown = ", ".join(keys[:8]) + (", …" if len(keys) > 8 else "")
        raise InputError(f"Model {name} has no evaluation set “{set_key}” (its sets: {shown}).") from None
    inputs, targets = zoo.get(name).data(s.split, **dict(s.variant))
    if not 0 <= index < len(inputs):
        raise InputError(f"The {s.label} of {name} has {len(inputs)} inputs, numbered 0 to {len(inputs) - 1}; "
                         f"there is no #{index}.")
    return EvalItem(inputs[index], truth(name, targets[index]), set_key, index, f"{s.label}, #{index}")


def truth(name: str, target) -> str:
    """A target in words: a classifier's class name, or the reference transcript."""
    model = zoo.model(name)
    return model.describe(int(target)) if model.task == "class" else str(target)
