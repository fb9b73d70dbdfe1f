"""Compressed variants of a multi-exit model, as one more axis next to exiting early.

Two post-training methods, each keeping every exit (per-exit heads and FreeML's shared
exit) and the MultiExitModel contract, so the engine, profiles and sweeps run on a
variant unchanged:

- "int8": for any nn.Module-based model (an imported Hugging Face model too), with a
  few calibration inputs: every Linear, Conv1d and Conv2d becomes a *static* int8 layer
  (torch's x86/fbgemm kernels; weights int8 per output channel, BatchNorm folded into
  its conv first, activation ranges calibrated on the calibration split). Each quantizes
  its input and dequantizes its output, so stages still pass float tensors and the
  contract holds. Static, not dynamic, because a dynamic layer takes its activation
  range over the whole batch: a sample's scores would depend on its batch-mates and
  real exits could drift from the profile. Without calibration inputs: torch's dynamic
  int8 Linear (quantize_dynamic's modules), convolutions left fp32. Torch's dynamic int8
  conv exists too but runs ~2.6x slower than fp32 at batch 1 on this CPU (measured), so
  it is not used; nor is static int8 for convolutions with one input channel per group
  (grey-pixel stems, depthwise convs), whose int8 kernels were slower than fp32 too.
- "prune": structured channel pruning of the built-in image CNN: each residual group
  and each block's inner width keeps its channels with the largest BatchNorm scales;
  the narrower network is an ordinary MnistResNet (smaller config), fine-tuned briefly
  on the MNIST training split (backbone and per-exit heads jointly, then the shared head
  on the frozen backbone, as the original was trained).

Variants live in the cache (safetensors + JSON, never pickle) and are selectable models
named `<base>-int8` / `<base>-prune<percent>` through `explorer.variants` (the registry lists them).
An int8 checkpoint holds the int8 weights themselves (int8 tensors, per-channel scales)
and is rebuilt into torch's quantized modules when loaded: its size on disk is the
compressed size.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.flop_counter import register_flop_formula

from . import paths
from .models.base import MultiExitModel

METHODS = ("int8", "prune")

# torch.ao.quantization prints a deprecation notice (its eager API moves to torchao) on
# every call; the kernels themselves are current, and the explorer has no other use for it.
warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated.*")
warnings.filterwarnings("ignore", message=r".*reduce_range will be deprecated.*")


def _nnq():
    import torch.ao.nn.quantized as nnq
    import torch.ao.nn.quantized.dynamic as nnqd

    return nnq, nnqd


# ---- MACs of int8 ops: torch's counter only knows the float ops ---------------------------
# An int8 multiply-accumulate is still one MAC: count quantized linear and conv like
# their float twins, so a variant's profile has the same MACs as its fp32 original.
def _linear_flop(x_shape, packed, *args, out_shape=None, **kwargs) -> int:
    w, _ = packed.unpack()
    return 2 * math.prod(x_shape[:-1]) * x_shape[-1] * w.shape[0]


def _conv_flop(x_shape, packed, *args, out_shape=None, **kwargs) -> int:
    w, _ = packed.unpack()  # [C_out, C_in / groups, *kernel]
    return 2 * math.prod(out_shape) * math.prod(w.shape[1:])


register_flop_formula([torch.ops.quantized.linear_dynamic, torch.ops.quantized.linear])(_linear_flop)
register_flop_formula([torch.ops.quantized.conv2d, torch.ops.quantized.conv1d])(_conv_flop)


# ---- int8 -------------------------------------------------------------------------------
class Int8Static(nn.Module):
    """A static int8 conv or linear standing in for a float one: float in, float out.
    Its input range is fixed (calibrated), so a sample's result never depends on the
    other samples in its batch or on their padding: real exits keep matching profiles."""

    def __init__(self, inner: nn.Module, in_scale: float, in_zero_point: int):
        super().__init__()
        self.inner = inner  # torch.ao.nn.quantized.Conv1d / Conv2d / Linear
        self.in_scale, self.in_zero_point = float(in_scale), int(in_zero_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = torch.quantize_per_tensor(x.contiguous(), self.in_scale, self.in_zero_point, torch.quint8)
        return self.inner(q).dequantize()


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def fold_batchnorm(model: nn.Module) -> list[str]:
    """Fold every BatchNorm that directly follows a convolution into it (eval mode): in an
    nn.Sequential (conv, bn, ...) and in modules with `convN` / `bnN` attributes. The
    BatchNorm becomes an identity. Returns the folded convolutions' names."""
    pairs = []
    for name, mod in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(mod, nn.Sequential):
            kids = list(mod.named_children())
            pairs += [(prefix + a, prefix + b) for (a, ca), (b, cb) in zip(kids, kids[1:], strict=False)
                      if isinstance(ca, nn.Conv1d | nn.Conv2d) and isinstance(cb, nn.BatchNorm1d | nn.BatchNorm2d)]
        for attr, child in mod.named_children():
            if attr.startswith("conv") and isinstance(child, nn.Conv1d | nn.Conv2d):
                bn = getattr(mod, "bn" + attr[4:], None)
                if isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d):
                    pairs.append((prefix + attr, prefix + "bn" + attr[4:]))
    for conv_name, bn_name in pairs:
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # [C_out]
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        conv.weight = nn.Parameter((conv.weight * scale.view(-1, *[1] * (conv.weight.dim() - 1))).detach())
        conv.bias = nn.Parameter(((bias - bn.running_mean) * scale + bn.bias).detach())
        _set(model, bn_name, nn.Identity())
    return [c for c, _ in pairs]


def _per_channel(w: torch.Tensor) -> torch.Tensor:
    """fp32 weight -> int8 per output channel, symmetric (torch's default weight observer)."""
    from torch.ao.quantization.observer import default_per_channel_weight_observer

    obs = default_per_channel_weight_observer()
    obs(w)
    scale, zp = obs.calculate_qparams()
    return torch.quantize_per_channel(w, scale.double(), zp, 0, torch.qint8)


def _dynamic_linear(lin: nn.Linear, qweight: torch.Tensor, bias) -> nn.Module:
    _, nnqd = _nnq()
    q = nnqd.Linear(lin.in_features, lin.out_features, bias_=bias is not None, dtype=torch.qint8)
    q.set_weight_bias(qweight, bias)
    return q


def _static(mod: nn.Module, qweight, bias, qparams: dict) -> Int8Static:
    nnq, _ = _nnq()
    if isinstance(mod, nn.Linear):
        q = nnq.Linear(mod.in_features, mod.out_features, bias_=bias is not None)
    else:
        cls = nnq.Conv2d if isinstance(mod, nn.Conv2d) else nnq.Conv1d
        q = cls(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                mod.dilation, mod.groups, bias is not None, mod.padding_mode)
    q.set_weight_bias(qweight, bias)
    q.scale, q.zero_point = float(qparams["out_scale"]), int(qparams["out_zero_point"])
    return Int8Static(q, qparams["in_scale"], qparams["in_zero_point"])


def _walk(model: MultiExitModel, x, lengths) -> None:
    """Every stage and every head once (calibration sees every layer)."""
    state = model.embed(x, lengths)
    for k in range(model.num_exits):
        state = model.stage(k, state)
        for name in model.heads:
            model.head(k, state, name)


@torch.inference_mode()
def _calibrate(model: MultiExitModel, convs: list[str], calib: list) -> dict[str, dict]:
    """Input and output ranges of each named layer over the calibration batches (x86 observers:
    histogram, 7-bit range, as torch's default static qconfig). A layer no calibration pass
    runs (a head the model does not answer with: the image model's FreeML shared head when it
    reads per-exit heads) has no ranges: it is left out, and stays fp32."""
    from torch.ao.quantization import get_default_qconfig

    qconfig = get_default_qconfig("x86")
    obs = {n: (qconfig.activation(), qconfig.activation()) for n in convs}
    seen: set[str] = set()

    def observe(name):
        def hook(module, inputs, output) -> None:  # returns None: the output is kept as is
            obs[name][0](inputs[0])
            obs[name][1](output)
            seen.add(name)
        return hook

    hooks = [model.get_submodule(n).register_forward_hook(observe(n)) for n in convs]
    try:
        for x, lengths in calib:
            _walk(model, x, lengths)
    finally:
        for h in hooks:
            h.remove()
    out = {}
    for n, (o_in, o_out) in obs.items():
        if n not in seen:
            continue
        (s_in, z_in), (s_out, z_out) = o_in.calculate_qparams(), o_out.calculate_qparams()
        out[n] = {"in_scale": float(s_in), "in_zero_point": int(z_in),
                  "out_scale": float(s_out), "out_zero_point": int(z_out)}
    return out


class Int8Weights:
    """Mixin for an int8 variant: its state dict is plain tensors (int8 weights, their
    per-channel scales, activation ranges), so it is saved with safetensors, fingerprinted
    like any model, and loaded back into torch's quantized modules."""

    int8_plan: dict  # {"static": {name: activation qparams}, "dynamic": [names]}

    def _int8_names(self) -> list[str]:
        return list(self.int8_plan["static"]) + list(self.int8_plan["dynamic"])

    def state_dict(self, *args, **kwargs) -> dict[str, torch.Tensor]:
        names = self._int8_names()
        state = {k: v for k, v in nn.Module.state_dict(self).items()
                 if not any(k.startswith(n + ".") for n in names)}
        for n in names:
            mod = self.get_submodule(n)
            q = mod.inner if isinstance(mod, Int8Static) else mod
            w, b = q.weight(), q.bias()
            state[f"{n}.weight_int8"] = w.int_repr()
            state[f"{n}.weight_scale"] = w.q_per_channel_scales().to(torch.float64)
            state[f"{n}.weight_zero_point"] = w.q_per_channel_zero_points().to(torch.int32)
            if b is not None:
                state[f"{n}.bias"] = b.detach()
        return state

    def load_state_dict(self, state: dict, strict: bool = True, assign: bool = False):
        """Copy float tensors into place and rebuild each int8 layer's packed weights
        (torch's own loader would ask the int8 layers for keys they do not save here)."""
        names = self._int8_names()
        expected = set(self.state_dict())
        if strict and set(state) != expected:
            raise ValueError(f"int8 checkpoint does not match the model: missing {sorted(expected - set(state))}, "
                             f"unexpected {sorted(set(state) - expected)}")
        targets = {**dict(self.named_parameters()), **dict(self.named_buffers())}
        for k, v in state.items():
            if k in targets:
                targets[k].data.copy_(v)
        for n in names:
            mod = self.get_submodule(n)
            q = mod.inner if isinstance(mod, Int8Static) else mod
            w = torch._make_per_channel_quantized_tensor(
                state[f"{n}.weight_int8"], state[f"{n}.weight_scale"], state[f"{n}.weight_zero_point"].long(), 0)
            q.set_weight_bias(w, state.get(f"{n}.bias"))


def _as_int8(model: MultiExitModel, plan: dict) -> MultiExitModel:
    cls = type(model)
    model.__class__ = type(f"Int8{cls.__name__}", (Int8Weights, cls), {})
    model.int8_plan = plan
    return model


def quantize_int8(model: MultiExitModel, calib: list | None = None) -> MultiExitModel:
    """An int8 copy of `model` (the original is untouched), for any nn.Module-based model.

    With `calib` (a few (x, lengths) batches): BatchNorm folded into its convolution,
    then every Linear, Conv1d and Conv2d static int8 (x86 kernels; weights per output
    channel, activation ranges from the calibration inputs). Fixed ranges keep each
    sample's result independent of its batch, as the float model's is. Convolutions with
    one input channel per group (an image stem on grey pixels, a depthwise conv) stay
    fp32: their int8 kernels ran slower than fp32 here and their weights are tiny.
    Without: every Linear dynamic int8 (torch's quantize_dynamic modules; activation
    ranges taken per call, so over the whole batch: a sample's scores can shift by a
    rounding step with its batch-mates), convolutions stay fp32."""
    torch.backends.quantized.engine = "x86"
    q = copy.deepcopy(model).eval()
    plan: dict = {"static": {}, "dynamic": []}
    if calib:
        fold_batchnorm(q)
        layers = [n for n, m in q.named_modules()
                  if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv1d | nn.Conv2d) and m.in_channels > m.groups)]
        plan["static"] = _calibrate(q, layers, calib)
    else:
        plan["dynamic"] = [n for n, m in q.named_modules() if isinstance(m, nn.Linear)]
    _build_int8(q, plan, weights=None)
    return _as_int8(q.requires_grad_(False), plan)


def _build_int8(model: nn.Module, plan: dict, weights: str | None) -> None:
    """Swap the planned modules for int8 ones: quantizing the float weights in place
    (weights None), or as empty shells for `load_state_dict` to fill."""
    for n, qparams in plan["static"].items():
        mod = model.get_submodule(n)
        w = _per_channel(mod.weight.detach()) if weights is None else _zeros_int8(mod.weight)
        _set(model, n, _static(mod, w, None if mod.bias is None else mod.bias.detach(), qparams))
    for n in plan["dynamic"]:
        lin = model.get_submodule(n)
        w = _per_channel(lin.weight.detach()) if weights is None else _zeros_int8(lin.weight)
        _set(model, n, _dynamic_linear(lin, w, None if lin.bias is None else lin.bias.detach()))


def _zeros_int8(w: torch.Tensor) -> torch.Tensor:
    n = w.shape[0]
    return torch.quantize_per_channel(torch.zeros_like(w), torch.ones(n, dtype=torch.float64),
                                      torch.zeros(n, dtype=torch.long), 0, torch.qint8)


# ---- structured pruning of the image CNN ------------------------------------------------
def _keep(n: int, ratio: float) -> int:
    return max(1, round(n * (1 - ratio)))


def _top(score: torch.Tensor, n: int) -> torch.Tensor:
    return torch.sort(torch.topk(score, n).indices).values


def prune_channels(model: MultiExitModel, ratio: float) -> MultiExitModel:
    """A narrower copy of the image CNN keeping (1 - ratio) of the channels of every layer.

    Residual additions tie channels together: the stem and the blocks with an identity
    skip write into the same channels, so each such group keeps one common set, ranked
    by the sum of |BatchNorm scale| of every layer writing into it. A block's inner
    channels are ranked by its first BatchNorm alone. Heads keep their inputs' columns."""
    from .models.image import ImageConfig, MnistResNet

    if not isinstance(model, MnistResNet):
        raise ValueError(f"channel pruning is defined for the built-in image CNN, not for {type(model).__name__}")
    if not 0 < ratio < 1:
        raise ValueError(f"the pruning ratio is the share of channels removed: between 0 and 1, not {ratio}")
    c, src = model.config, model
    K = src.num_exits
    # residual groups: the channel set each exit point's features live in
    group = [0]  # group of the stem's output, then of each block's output
    members: dict[int, list[nn.BatchNorm2d]] = {0: [src.stem[1]]}
    for block in src.blocks:
        g = group[-1] if isinstance(block.skip, nn.Identity) else len(members)
        members.setdefault(g, []).append(block.bn2)
        if not isinstance(block.skip, nn.Identity):
            members[g].append(block.skip[1])
        group.append(g)
    keep = {g: _top(sum(bn.weight.abs() for bn in bns), _keep(bns[0].num_features, ratio))
            for g, bns in members.items()}
    widths = [c.stem] + [ch for ch, _ in c.blocks]
    new_cfg = ImageConfig(**{**asdict(c), "stem": _keep(c.stem, ratio),
                             "blocks": tuple((_keep(ch, ratio), s) for ch, s in c.blocks)})
    dst = MnistResNet(new_cfg).eval()

    def conv(d, s, out_idx, in_idx):
        d.weight.data = s.weight.data[out_idx][:, in_idx].clone()

    def bn(d, s, idx):
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(d, name).data = getattr(s, name).data[idx].clone()

    conv(dst.stem[0], src.stem[0], keep[0], torch.arange(1))
    bn(dst.stem[1], src.stem[1], keep[0])
    pool2, sp2 = c.pool ** 2, c.shared_pool ** 2
    for k in range(K):
        s, d = src.blocks[k], dst.blocks[k]
        k_in, k_out = keep[group[k]], keep[group[k + 1]]
        inner = _top(s.bn1.weight.abs(), _keep(widths[k + 1], ratio))
        conv(d.conv1, s.conv1, inner, k_in)
        bn(d.bn1, s.bn1, inner)
        conv(d.conv2, s.conv2, k_out, inner)
        bn(d.bn2, s.bn2, k_out)
        if not isinstance(s.skip, nn.Identity):
            conv(d.skip[0], s.skip[0], k_out, k_in)
            bn(d.skip[1], s.skip[1], k_out)
        # per-exit head: its input is the [C, pool, pool] map flattened channel-major
        cols = (k_out[:, None] * pool2 + torch.arange(pool2)).flatten()
        d_lin, s_lin = dst.exits[k][2], src.exits[k][2]
        d_lin.weight.data, d_lin.bias.data = s_lin.weight.data[:, cols].clone(), s_lin.bias.data.clone()
        # shared head: exit point k's slot holds its [C, s, s] summary flattened, zero-padded
        old = k * src.slot + (k_out[:, None] * sp2 + torch.arange(sp2)).flatten()
        new = k * dst.slot + torch.arange(len(old))
        dst.shared.weight.data[:, new] = src.shared.weight.data[:, old]
        dst.shared.weight.data[:, k * dst.slot + len(old):(k + 1) * dst.slot] = 0
    dst.shared.bias.data = src.shared.bias.data.clone()
    return dst.requires_grad_(False)


def fine_tune(model: MultiExitModel, epochs: int = 3, limit: int = 0, seed: int = 0, lr: float = 2e-3,
              log=print) -> dict:
    """Fine-tune a pruned image CNN on the MNIST training split (`limit` images, 0 = all):
    backbone and per-exit heads jointly, then the shared head on the frozen backbone.
    Returns the validation accuracy per exit after each phase."""
    from .data.mnist import load_mnist
    from .train.image import TrainConfig, _run_phase, evaluate

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cfg = TrainConfig(epochs=epochs, lr=lr, limit=limit, seed=seed)
    x, y = load_mnist("train")
    xv, yv = load_mnist("val")
    if limit:
        x, y = x[:limit], y[:limit]
    history = []

    def log_val(what: str) -> None:
        history.append({"after": what, **evaluate(model, xv[:2000], yv[:2000])})
        log(json.dumps(history[-1]))

    joint = [p for n, p in model.named_parameters() if not n.startswith("shared.")]
    _run_phase(model, joint, cfg, x, y, epochs, "joint", "fine-tune", log_val, gen)
    _run_phase(model, list(model.shared.parameters()), cfg, x, y, 1, "shared", "shared head", log_val, gen)
    model.eval().requires_grad_(False)
    return {"epochs": epochs, "limit": limit, "lr": cfg.lr, "history": history}


# ---- variants in the cache, as selectable models -----------------------------------------
def variant_name(base: str, method: str, ratio: float | None = None) -> str:
    if method == "int8":
        return f"{base}-int8"
    if method == "prune":
        return f"{base}-prune{round(100 * ratio)}"
    raise ValueError(f"unknown compression method {method!r}; choose one of {', '.join(METHODS)}")


def _config(model) -> dict:
    cfg = getattr(model, "config", None)
    if is_dataclass(cfg):
        return asdict(cfg)
    return json.loads(json.dumps(model.config_dict(), default=str))


def _import(path: str):
    """`module:Qualname` of a model or config class, only from the explorer's own modules."""
    import importlib

    module, _, qualname = path.partition(":")
    if not module.startswith("explorer."):
        raise ValueError(f"a saved variant may only name the explorer's own classes, not {path!r}")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _class_path(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def save_variant(model: MultiExitModel, name: str, info: dict, directory: Path | None = None) -> Path:
    """`name`.safetensors (weights; int8 ones as int8) + `name`.json (config, classes, how
    it was made). info: at least "base" (the model it was made from) and "method"."""
    path = Path(directory or paths.VARIANTS) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    state, seen = {}, set()
    for k, v in model.state_dict().items():
        where = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if where not in seen:  # a module reachable by two names (an HF model's `base` and `encoder`): saved once
            seen.add(where)
            state[k] = v.detach().contiguous()
    save_file(state, str(path.with_suffix(".safetensors")))
    cls = type(model).__bases__[1] if isinstance(model, Int8Weights) else type(model)  # (Int8Weights, original)
    meta = {"config": _config(model), "class": _class_path(cls),
            "config_class": _class_path(type(model.config)) if is_dataclass(getattr(model, "config", None)) else None,
            "variant": dict(info, int8=getattr(model, "int8_plan", None))}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path


def load_variant(name: str, directory: Path | None = None) -> MultiExitModel:
    """Rebuild a saved variant: its class from the saved config (or, for a model without a
    config dataclass, a copy of its base model), int8 modules where the plan says, then
    the saved weights (safetensors: nothing is unpickled)."""
    directory = Path(directory or paths.VARIANTS)
    path = directory / name
    if not path.with_suffix(".json").exists():
        raise ValueError(f"no compressed model {name!r} in {directory}; make it with "
                         "`python -m explorer compress MODEL --method int8|prune`")
    meta = json.loads(path.with_suffix(".json").read_text())
    info = meta["variant"]
    if meta.get("config_class"):
        model = _import(meta["class"])(_import(meta["config_class"])(**meta["config"]))
    else:
        from . import zoo

        model = copy.deepcopy(zoo.model(info["base"]))
    model.eval()
    plan = info.get("int8")
    if plan:
        torch.backends.quantized.engine = "x86"
        if plan["static"]:
            fold_batchnorm(model)
        _build_int8(model, plan, weights="shells")
        model = _as_int8(model, plan)
    model.load_state_dict(load_file(str(path.with_suffix(".safetensors"))))
    return model.eval().requires_grad_(False)


def calibration_inputs(base: str, n: int = 256, batch: int = 32) -> list:
    """(x, lengths) batches of the first `n` inputs of a model's calibration split."""
    from . import zoo

    entry, model = zoo.get(base), zoo.model(base)
    inputs, targets = entry.data(entry.calib_split)
    return [(x, lengths) for x, lengths, _ in zoo.batches(model, inputs[:n], targets[:n], batch)]


def compress(base: str, method: str, ratio: float = 0.5, epochs: int = 3, limit: int = 0,
             log=print) -> tuple[str, MultiExitModel]:
    """Make one variant of a registered model, save it to the cache; returns (name, model)."""
    from . import zoo

    if zoo.get(base).generates:
        raise ValueError(f"{base} is profiled outside the multi-exit engine (a text model generates): compress "
                         "calibrates and fine-tunes through the engine, so it makes variants of image and speech "
                         "models only")
    model = zoo.model(base)
    name = variant_name(base, method, ratio)
    info = {"base": base, "method": method}
    if method == "int8":
        calib = calibration_inputs(base)
        out = quantize_int8(model, calib)
        info["calibration_inputs"] = sum(x.shape[0] for x, _ in calib) if calib else 0
    else:
        out = prune_channels(model, ratio)
        info.update(ratio=ratio, fine_tune=fine_tune(out, epochs, limit, log=log))
    save_variant(out, name, info)
    return name, out
