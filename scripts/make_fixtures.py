#!/usr/bin/env python3
"""Golden fixtures for sparsevit-swift: dense timm Swin outputs and SparseViT window-pruned outputs.

Builds a seeded Swin with every parameter randomized (and rounded so that F32, F16 and BF16 files
hold identical values), writes it in four checkpoint layouts, and records inputs, logits and stage
outputs for dense and pruned cases. See Tests/Fixtures/README.md and /work/shared/SPARSEVIT.md.

    python scripts/make_fixtures.py tiny [OUTDIR]   # small, committed (Tests/Fixtures/tiny)
    python scripts/make_fixtures.py full OUTDIR     # full-size Swin-T, not committed

Run it with the interpreter printed by scripts/python_env.sh (pinned torch/timm/numpy/safetensors).
"""
import argparse
import json
import math
import os
import shlex
import sys
import warnings

import numpy as np
import safetensors
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from timm.layers import set_fused_attn
from timm.models.swin_transformer import SwinTransformer, checkpoint_filter_fn, window_partition, window_reverse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import semantics_reference as sref  # noqa: E402  (next to this script)

SEED = 20230331  # parameters, mmdet output norms; inputs use their own recorded seeds
CANONICAL_IMG = 224
WINDOW = 7
PATCH = 4
MIN_GAP = 1e-3  # smallest relative score gap allowed at any pruning cut
DENSE_ATOL = 1e-5
PEERS_DIR = os.environ.get("SPARSEVIT_PEERS", "/work/shared/peers")  # holds the sparsevit_ref.py reference

CONFIGS = {
    # embed 4 (head dims 4, 4, 8, 8): 40,752 parameters, so six checkpoints and the 224x224 case fit in ~2.6 MB
    "tiny": dict(embed_dim=4, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), num_classes=10),
    "full": dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), num_classes=1000),
}

# (name, (height, width), batch, pruning ratios or None for dense)
CASES = {
    "tiny": [
        ("dense_75x100_b2", (75, 100), 2, None),
        ("dense_64x64_b1", (64, 64), 1, None),
        ("dense_224x224_b1", (224, 224), 1, None),
        ("dense_56x80_b2", (56, 80), 2, None),
        ("dense_32x32_b3", (32, 32), 3, None),
        ("sparse_mixed_112x112_b2", (112, 112), 2, [[0.3, 0.5], [0.2, 0.2], [0.25, 0.5], [0, 0]]),
        ("sparse_uniform50_75x100_b2", (75, 100), 2, [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]),
        ("sparse_late_56x80_b2", (56, 80), 2, [[0, 0.5], [0, 0.3], [0, 0.5], [0, 0]]),
        ("sparse_k0_64x64_b1", (64, 64), 1, [[0.99, 0.99], [0, 0], [0, 0], [0, 0]]),
        # all ratios 0: same input and same expected files as dense_75x100_b2
        ("sparse_zero_75x100_b2", (75, 100), 2, [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
    ],
    "full": [
        ("dense_224x224_b1", (224, 224), 1, None),
        ("dense_320x480_b1", (320, 480), 1, None),
        ("dense_224x224_b3", (224, 224), 3, None),
        ("sparse_cfg1_448x448_b2", (448, 448), 2, [[0.3, 0.3], [0, 0], [0.1, 0.1, 0.2, 0.2, 0.2, 0.2], [0, 0]]),
        ("sparse_cfg2_672x672_b1", (672, 672), 1, [[0.6, 0.6], [0, 0], [0.2, 0.2, 0.4, 0.4, 0.5, 0.5], [0, 0]]),
        ("sparse_uniform50_672x672_b1", (672, 672), 1, [[0.5] * 2, [0.5] * 2, [0.5] * 6, [0.5] * 2]),
        ("sparse_late_448x448_b1", (448, 448), 1, [[0, 0.5], [0, 0], [0, 0.2, 0.2, 0.4, 0.4, 0.4], [0, 0]]),
    ],
}
# Window semantics of the other frameworks (SPARSEVIT.md, "Padding and shift"), in the manifest's
# `semantics_cases`: (name, semantics, (height, width), batch, ratios or None, case whose input it reuses).
# torchvision expectations come from torchvision's own forward; mmdet and sparsevit ones from
# scripts/semantics_reference.py, and are the mmdet backbone's outputs (stage outputs through norm0..3).
# Sizes of the mmdet/sparsevit cases are multiples of 4, as mmdet pads the input to whole patches.
# on dense_224x224_b1's input these ratios cut with clear score gaps in sparsevit semantics (min 0.008)
SPARSEVIT_224 = [[0.3, 0.3], [0, 0.25], [0.25, 0.25], [0, 0]]
SEMANTICS_CASES = {
    "tiny": [
        ("torchvision_dense_224x224_b1", "torchvision", (224, 224), 1, None, "dense_224x224_b1"),
        ("torchvision_dense_75x100_b2", "torchvision", (75, 100), 2, None, "dense_75x100_b2"),
        ("torchvision_dense_64x64_b1", "torchvision", (64, 64), 1, None, "dense_64x64_b1"),
        ("mmdet_dense_224x224_b1", "mmdet", (224, 224), 1, None, "dense_224x224_b1"),
        ("mmdet_dense_56x80_b2", "mmdet", (56, 80), 2, None, "dense_56x80_b2"),
        ("mmdet_dense_64x64_b1", "mmdet", (64, 64), 1, None, "dense_64x64_b1"),
        ("sparsevit_dense_224x224_b1", "sparsevit", (224, 224), 1, None, "dense_224x224_b1"),
        ("sparsevit_dense_56x80_b2", "sparsevit", (56, 80), 2, None, "dense_56x80_b2"),
        ("sparsevit_dense_64x64_b1", "sparsevit", (64, 64), 1, None, "dense_64x64_b1"),
        ("sparsevit_pruned_224x224_b1", "sparsevit", (224, 224), 1, SPARSEVIT_224, "dense_224x224_b1"),
        ("sparsevit_pruned_56x80_b2", "sparsevit", (56, 80), 2, [[0.3, 0.5], [0, 0.5], [0, 0], [0, 0]],
         "dense_56x80_b2"),
        ("sparsevit_pruned_112x112_b2", "sparsevit", (112, 112), 2, [[0.3, 0.5], [0.2, 0.2], [0.25, 0.5], [0, 0]],
         "sparse_mixed_112x112_b2"),
    ],
    "full": [
        ("torchvision_dense_320x320_b1", "torchvision", (320, 320), 1, None, None),
        ("sparsevit_dense_224x224_b1", "sparsevit", (224, 224), 1, None, "dense_224x224_b1"),
        ("sparsevit_pruned_cfg2_480x640_b1", "sparsevit", (480, 640), 1,
         [[0.6, 0.6], [0, 0], [0.2, 0.2, 0.4, 0.4, 0.5, 0.5], [0, 0]], None),
    ],
}
# What each case is there for (written into the manifest as `purpose`); check_purpose asserts the geometry.
PURPOSES = {
    "dense_75x100_b2": "padding and odd sizes: patch embed drops the last rows/columns (75x100 -> 18x25 tokens), "
                       "shifted windows over padded maps (18x25 -> 21x28, 9x13 -> 14x14), odd merges (25 -> 13, "
                       "9x13 -> 5x7 -> 3x4), windows clamped to 5x7 and 3x4 with no shift and their bias tables "
                       "resized by timm; mmdet normed stages",
    "dense_64x64_b1": "shift with padding (16x16 -> 21x21 and 8x8 -> 14x14 with shift 3), windows clamped to 4x4 and "
                      "2x2 (tables resized); mmdet normed stages",
    "dense_224x224_b1": "the canonical size: windows divide every map, no padding; the last stage is exactly 7x7, "
                        "one window, and its shifted block does not shift",
    "dense_56x80_b2": "a window clamped on one axis only with a shift on the other: stage 2 is 7x10, window 7x7, "
                      "shift (0, 3), padded to 7x14; odd merge 4x5 -> 2x3",
    "dense_32x32_b3": "batch 3; a map smaller than a window with shift 3 (8x8 padded to 14x14), clamped 4x4 and 2x2 "
                      "windows and a 1x1 last stage",
    "sparse_mixed_112x112_b2": "mixed per-block ratios at batch 2: the two images keep different windows (asserted); "
                               "stage 1 has 16 windows (4x4); checked against peers/sparsevit_ref.py",
    "sparse_uniform50_75x100_b2": "pruning on padded, shifted maps and clamped windows; k = 0 in stages 3 and 4; "
                                  "input shared with dense_75x100_b2",
    "sparse_late_56x80_b2": "the first pruned block is a stage's second (shifted) block, so importance is taken "
                            "there; pruning under a one-axis shift (0, 3) on the 7x10 map of stage 2; input shared "
                            "with dense_56x80_b2",
    "sparse_k0_64x64_b1": "k = 0: ratio 0.99 keeps no window, stage 1 passes its input through; input shared with "
                          "dense_64x64_b1",
    "sparse_zero_75x100_b2": "all ratios 0 must equal dense: shares every file with dense_75x100_b2",
    "sparse_cfg1_448x448_b2": "SparseViT's published cfg1 at batch 2 (selections differ between images)",
    "sparse_cfg2_672x672_b1": "SparseViT's cfg2",
    "sparse_uniform50_672x672_b1": "uniform 0.5 at 672",
    "sparse_late_448x448_b1": "first pruned block late in stages 1 and 3",
}
# cases that reuse every file of an earlier case (their expected outputs are the same)
SHARED_WITH = {"sparse_zero_75x100_b2": "dense_75x100_b2"}
# cases that reuse an earlier case's input (its seed is drawn until every case on it has clear score gaps)
INPUT_FROM = {"sparse_uniform50_75x100_b2": "dense_75x100_b2", "sparse_k0_64x64_b1": "dense_64x64_b1",
              "sparse_late_56x80_b2": "dense_56x80_b2"}
NORMED_IN_TINY = {"dense_75x100_b2", "dense_64x64_b1"}  # mmdet per-stage norms: odd sizes suffice, saves space
# mixed-ratio cases must keep different windows in the two images somewhere
MUST_DIFFER = ("sparse_mixed", "sparse_cfg1")
# Layouts other than timm are stored in this dtype (exact: every value is float16-representable) and
# the Microsoft file carries the old attn_mask buffers only in full mode (the loader ignores them).
ALT_LAYOUT_DTYPE = {"tiny": ("F16", torch.float16), "full": ("F32", None)}
MICROSOFT_ATTN_MASK = {"tiny": False, "full": True}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# MARK: model and weights


def build_model(cfg, img_size):
    model = SwinTransformer(img_size=img_size, patch_size=PATCH, window_size=WINDOW, **cfg)
    return model.eval().float()


def round_to_half_and_bfloat(t):
    """Nearest bf16 value that float16 also holds exactly (tiny magnitudes need a second rounding)."""
    x = t.to(torch.bfloat16).float()
    for _ in range(4):
        y = x.half().float()
        bad = y != x
        if not bool(bad.any()):
            break
        x = torch.where(bad, y.to(torch.bfloat16).float(), x)
    assert torch.equal(x.to(torch.bfloat16).float(), x) and torch.equal(x.half().float(), x)
    assert bool(torch.isfinite(x).all())
    return x


def layer_norm_weight(shape, gen):
    # log-normal gains, spread like a trained Swin's: with 1 + N(0, 0.1) every token's mean |x| after a
    # LayerNorm is the same within a few percent and no input gives clear window-score gaps
    return torch.exp(torch.randn(shape, generator=gen))


def randomize(model, gen):
    """Every parameter random: biases, LayerNorm affine and bias tables too (timm's init hides them)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                v = torch.randn(p.shape, generator=gen) * 0.5
            elif p.ndim == 1 and "norm" in name:
                v = layer_norm_weight(p.shape, gen) if name.endswith("weight") else (
                    0.05 * torch.randn(p.shape, generator=gen))
            elif name == "patch_embed.proj.bias":
                # small, so that faint patches sit in LayerNorm's eps regime (std(z) ~ sqrt(1e-5)): their
                # activity drops up to 5x below bright ones, which is what makes window scores differ
                v = 0.0005 * torch.randn(p.shape, generator=gen)
            elif p.ndim == 1:  # linear bias
                v = 0.05 * torch.randn(p.shape, generator=gen)
            else:  # linear or patch-embed conv weight, fan_in = product of the trailing dims
                fan_in = math.prod(p.shape[1:])
                v = torch.randn(p.shape, generator=gen) * (0.5 / math.sqrt(fan_in))
            p.copy_(round_to_half_and_bfloat(v))


def layer_norm_params(channels, gen):
    w = round_to_half_and_bfloat(layer_norm_weight(channels, gen))
    b = round_to_half_and_bfloat(0.05 * torch.randn(channels, generator=gen))
    return w, b


def model_at(cfg, canonical_sd, img_size):
    """A model for img_size loaded the way timm loads pretrained weights at a new size."""
    model = build_model(cfg, img_size)
    model.load_state_dict(checkpoint_filter_fn(dict(canonical_sd), model), strict=True)
    return model


# MARK: checkpoint layouts


def relative_position_index(window=WINDOW):
    """(N, N) int64: (h_i - h_j + window-1) * (2*window-1) + (w_i - w_j + window-1), token = window*h + w."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)
    return (rel[0] * (2 * window - 1) + rel[1]).contiguous()


def to_microsoft(sd, model224, attn_mask=True):
    """Original Swin: merge into stage s stored as layers.{s-1}.downsample, head.*, plus the old buffers
    (relative_position_index; attn_mask of the shifted blocks unless attn_mask is False)."""
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if k.startswith("layers.") and parts[2] == "downsample":
            k = ".".join(["layers", str(int(parts[1]) - 1)] + parts[2:])
        elif k.startswith("head.fc."):
            k = "head." + k[len("head.fc."):]
        out[k] = v
    for si, stage in enumerate(model224.layers):
        for bi, blk in enumerate(stage.blocks):
            pre = f"layers.{si}.blocks.{bi}."
            out[pre + "attn.relative_position_index"] = blk.attn.relative_position_index.clone()
            if attn_mask and blk.attn_mask is not None:  # None buffers were not saved by the original code either
                out[pre + "attn_mask"] = blk.attn_mask.clone()
    return out


def torchvision_key(k):
    """timm key -> torchvision.models.swin_t key."""
    p = k.split(".")
    if k.startswith("patch_embed.proj."):
        return "features.0.0." + p[-1]
    if k.startswith("patch_embed.norm."):
        return "features.0.2." + p[-1]
    if k.startswith("layers."):
        s = int(p[1])
        if p[2] == "downsample":
            return f"features.{2 * s}.{p[3]}.{p[4]}"
        b, rest = p[3], ".".join(p[4:])
        rest = rest.replace("mlp.fc1.", "mlp.0.").replace("mlp.fc2.", "mlp.3.")
        return f"features.{2 * s + 1}.{b}.{rest}"
    if k.startswith("head.fc."):
        return "head." + p[-1]
    return k  # norm.weight, norm.bias


def to_torchvision(sd, cfg):
    out = {torchvision_key(k): v for k, v in sd.items()}
    idx = relative_position_index().flatten()
    for s, depth in enumerate(cfg["depths"]):
        for b in range(depth):
            out[f"features.{2 * s + 1}.{b}.attn.relative_position_index"] = idx.clone()
    return out


def verify_torchvision(tv_sd, cfg, logits224, x224):
    """Check names/shapes against a real torchvision model and its forward against timm at 224."""
    try:
        import torchvision
        from torchvision.models.swin_transformer import SwinTransformer as TVSwin
    except Exception as e:  # pragma: no cover - recorded in the manifest
        log(f"torchvision unavailable ({e}); mapping not verified")
        return {"verified": False, "note": f"hard-coded mapping, torchvision unavailable: {e}"}
    tv = TVSwin(patch_size=[PATCH, PATCH], embed_dim=cfg["embed_dim"], depths=list(cfg["depths"]),
                num_heads=list(cfg["num_heads"]), window_size=[WINDOW, WINDOW], num_classes=cfg["num_classes"]).eval()
    ref = tv.state_dict()
    assert set(ref) == set(tv_sd), (sorted(set(ref) ^ set(tv_sd)))[:10]
    for k, v in ref.items():
        assert tuple(v.shape) == tuple(tv_sd[k].shape) and v.dtype == tv_sd[k].dtype, k
        if k.endswith("relative_position_index"):
            assert torch.equal(v, tv_sd[k]), k
    if cfg["embed_dim"] == 96 and cfg["num_classes"] == 1000 and tuple(cfg["depths"]) == (2, 2, 6, 2):
        assert set(torchvision.models.swin_t().state_dict()) == set(tv_sd)
    tv.load_state_dict(tv_sd, strict=True)
    with torch.no_grad():
        diff = (tv(x224) - logits224).abs().max().item()
    log(f"torchvision forward at 224 vs timm: max |diff| {diff:.3g}")
    assert diff < 1e-4, diff
    return {"verified": True, "note": f"keys, shapes and index buffers equal torchvision {torchvision.__version__} "
                                      f"SwinTransformer state_dict; its forward at 224 matches timm ({diff:.2g})"}


def unfold_order(channels):
    """perm[n] = timm channel for mmdet channel n: mmdet n = c*4 + 2*dh + dw, timm (dh + 2*dw)*C + c."""
    perm = []
    for c in range(channels):
        for dh in range(2):
            for dw in range(2):
                perm.append((dh + 2 * dw) * channels + c)
    return torch.tensor(perm)


def to_mmdet(sd, cfg, norms):
    """mmdet / SparseViT backbone: stages, w_msa, ffn, unfold-ordered merges, norm0..3, no final norm/head."""
    out = {}
    for k, v in sd.items():
        p = k.split(".")
        if k.startswith("patch_embed.proj."):
            nk = "patch_embed.projection." + p[-1]
        elif k.startswith("patch_embed.norm."):
            nk = k
        elif k.startswith("layers.") and p[2] == "downsample":
            s = int(p[1])
            channels = v.shape[-1] // 4
            perm = unfold_order(channels)
            v = v[:, perm].contiguous() if p[3] == "reduction" else v[perm].contiguous()
            nk = f"stages.{s - 1}.downsample.{p[3]}.{p[4]}"
        elif k.startswith("layers."):
            rest = ".".join(p[4:])
            rest = rest.replace("attn.", "attn.w_msa.").replace("mlp.fc1.", "ffn.layers.0.0.")
            rest = rest.replace("mlp.fc2.", "ffn.layers.1.")
            nk = f"stages.{p[1]}.blocks.{p[3]}.{rest}"
        elif k.startswith("norm.") or k.startswith("head."):
            continue
        else:
            raise KeyError(k)
        out["backbone." + nk] = v
    idx = relative_position_index()
    for s, depth in enumerate(cfg["depths"]):
        for b in range(depth):
            out[f"backbone.stages.{s}.blocks.{b}.attn.w_msa.relative_position_index"] = idx.clone()
    for i, (w, b) in enumerate(norms):
        out[f"backbone.norm{i}.weight"] = w
        out[f"backbone.norm{i}.bias"] = b
    return out


def verify_mmdet_merge(mm_sd, model, x):
    """mmdet's merge (nn.Unfold order, its own norm/reduction) equals timm's PatchMerging on real inputs."""
    with torch.no_grad():
        h = model.patch_embed(x)
        for s, stage in enumerate(model.layers):
            if s > 0:
                B, H, W, C = h.shape
                padded = F.pad(h, (0, 0, 0, W % 2, 0, H % 2)).permute(0, 3, 1, 2)
                cols = F.unfold(padded, kernel_size=2, stride=2).transpose(1, 2)  # (B, L, 4C), c*4 + 2dh + dw
                pre = f"backbone.stages.{s - 1}.downsample."
                y = F.layer_norm(cols, (4 * C,), mm_sd[pre + "norm.weight"], mm_sd[pre + "norm.bias"], 1e-5)
                y = y @ mm_sd[pre + "reduction.weight"].t()
                ref = stage.downsample(h).reshape(B, -1, 2 * C)
                diff = (y - ref).abs().max().item()
                assert diff < 1e-5, (s, diff)
            h = stage(h)


def save_checkpoint(path, sd, dtype=None):
    tensors = {}
    for k, v in sd.items():
        v = v.detach().contiguous()
        if dtype is not None and v.is_floating_point():
            converted = v.to(dtype)
            assert torch.equal(converted.float(), v), f"{k} not exact in {dtype}"
            v = converted
        tensors[k] = v
    save_file(tensors, path)


# MARK: sparse reference


def stage_geometry(model):
    """Per stage: feature size, window size and the shifted blocks' shift size (timm clamps per axis)."""
    geo = []
    for stage in model.layers:
        blk0 = stage.blocks[0]
        shifted = stage.blocks[1] if len(stage.blocks) > 1 else blk0
        geo.append({"size": list(blk0.input_resolution), "window": list(blk0.window_size),
                    "shift": list(shifted.shift_size)})
    return geo


def pad_to_windows(x, window):
    """Zero-pad (B, H, W, C) bottom/right to window multiples."""
    H, W = x.shape[1], x.shape[2]
    ph = (window[0] - H % window[0]) % window[0]
    pw = (window[1] - W % window[1]) % window[1]
    return F.pad(x, (0, 0, 0, pw, 0, ph))


def window_scores(act, window, shift):
    """act (B, H, W): per-token mean |x|. Returns (B, nW) L2 norms over each window of the rolled, padded map."""
    a = torch.roll(act, (-shift[0], -shift[1]), (1, 2)) if any(shift) else act
    a = pad_to_windows(a.unsqueeze(-1), window)
    w = window_partition(a, tuple(window)).view(act.shape[0], -1, window[0] * window[1])
    return w.norm(dim=-1)


GapTooSmall = sref.GapTooSmall


def block_forward(blk, x, order, ratio, scores, record):
    """One Swin block with window pruning on timm semantics: roll, LN1, zero-pad, partition, run kept windows."""
    B, H, W, C = x.shape
    window, shift = tuple(blk.window_size), tuple(blk.shift_size)
    rolled = torch.roll(x, (-shift[0], -shift[1]), (1, 2)) if any(shift) else x
    normed = blk.norm1(rolled)  # on the unpadded map: padded tokens are zero AFTER LN1, as in timm
    xw = pad_to_windows(rolled, window)
    nw = pad_to_windows(normed, window)
    Hp, Wp = xw.shape[1], xw.shape[2]
    N = window[0] * window[1]
    win = window_partition(xw, window).view(B, -1, N, C)
    win_n = window_partition(nw, window).view(B, -1, N, C)
    num_windows = win.shape[1]
    mask = blk.get_attn_mask(xw) if any(shift) else None  # (nW, N, N), defined on the padded map
    if mask is not None:
        assert torch.equal(mask, blk.attn_mask)
    out = win.clone()
    kept_per_image = []
    for b in range(B):
        idx, kept = sref.kept_windows(order, scores, b, num_windows, ratio, record)
        kept_per_image.append(kept)
        if len(idx) == 0:
            continue
        m = None if mask is None else mask[idx]
        h = win[b, idx] + blk.attn(win_n[b, idx], mask=m)
        h = h + blk.mlp(blk.norm2(h))
        out[b, idx] = h
    record["kept"].append(kept_per_image)
    back = window_reverse(out.view(-1, window[0], window[1], C), window, Hp, Wp)[:, :H, :W, :]
    return torch.roll(back, shift, (1, 2)) if any(shift) else back


def prune_forward(model, x, ratios, record):
    """Returns (logits, stage outputs NHWC). record collects score gaps at every cut and kept windows."""
    h = model.patch_embed(x)
    stage_outs = []
    for si, stage in enumerate(model.layers):
        h = stage.downsample(h)
        assert all(a <= b for a, b in zip(ratios[si], ratios[si][1:])), "ratios must be non-decreasing"
        act = None
        rankings = {}
        for bi, blk in enumerate(stage.blocks):
            r = ratios[si][bi]
            if r > 0 and act is None:
                act = h.abs().mean(-1)
            order = scores = None
            if act is not None:
                key = tuple(blk.shift_size)
                if key not in rankings:
                    sc = window_scores(act, blk.window_size, key)
                    rankings[key] = (torch.argsort(sc, dim=1, descending=True, stable=True), sc)
                order, scores = rankings[key]
            h = block_forward(blk, h, order, r, scores, record)
        stage_outs.append(h)
    return model.forward_head(model.norm(h)), stage_outs


def dense_forward(model, x):
    h = model.patch_embed(x)
    stage_outs = []
    for stage in model.layers:
        h = stage(h)
        stage_outs.append(h)
    logits = model.forward_head(model.norm(h))
    assert torch.equal(logits, model(x))
    return logits, stage_outs


# MARK: inputs


NUM_TEXTURES = 6
INPUT_AMPLITUDE = 0.0063  # conv output std ~ sqrt(LayerNorm eps): the middle of the eps regime


def draw_input(seed, batch, height, width):
    """(B, 3, H, W) float32: regions of periodic 4x4 textures plus noise, times a log-normal contrast field.

    Textures give regions their own channel profile (deep-stage activity follows it through the
    log-normal LayerNorm gains); the contrast field, centred on the patch-embed LayerNorm's eps
    regime, makes stage-1 activity follow the local amplitude. Both vary smoothly and at several
    scales, so each window gets its own score.
    """
    g = torch.Generator().manual_seed(seed)

    def field(channels, cell, sigma):
        """Smooth random field: a coarse normal grid bilinearly upsampled by `cell` pixels."""
        ch, cw = -(-height // cell) + 1, -(-width // cell) + 1
        coarse = torch.randn(batch, channels, ch, cw, generator=g) * sigma
        fine = F.interpolate(coarse, size=(ch * cell, cw * cell), mode="bilinear", align_corners=False)
        return fine[:, :, :height, :width]

    noise = torch.randn(batch, 3, height, width, generator=g)
    tiles = torch.randn(NUM_TEXTURES, 3, PATCH, PATCH, generator=g)
    periodic = tiles.repeat(1, 1, -(-height // PATCH), -(-width // PATCH))[:, :, :height, :width]
    labels = torch.stack([field(1, 30, 1.0)[:, 0] for _ in range(NUM_TEXTURES)], 1).argmax(1)  # (B, H, W)
    texture = sum((labels == k).unsqueeze(1) * periodic[k] for k in range(NUM_TEXTURES))
    log_amp = field(1, 4, 0.5) + field(1, 20, 1.0) + field(1, 60, 1.0) + field(1, 150, 1.0)
    x = (texture + 0.3 * noise) * (math.log(INPUT_AMPLITUDE) + log_amp).exp()
    return x.to(torch.bfloat16).float().contiguous()  # bf16 values: the .npy files compress in git


# MARK: window semantics of other frameworks


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def torchvision_model(cfg, tv_sd):
    from torchvision.models.swin_transformer import SwinTransformer as TVSwin
    tv = TVSwin(patch_size=[PATCH, PATCH], embed_dim=cfg["embed_dim"], depths=list(cfg["depths"]),
                num_heads=list(cfg["num_heads"]), window_size=[WINDOW, WINDOW], num_classes=cfg["num_classes"])
    tv.load_state_dict(tv_sd, strict=True)
    return tv.eval()


def torchvision_forward(tv, x):
    """Logits and the four stage outputs (NHWC, after features[2s+1]) of torchvision's own forward."""
    h, stages = x, []
    for i, layer in enumerate(tv.features):
        h = layer(h)
        if i % 2 == 1:
            stages.append(h)
    logits = tv(x)
    assert torch.equal(tv.head(tv.flatten(tv.avgpool(tv.permute(tv.norm(h))))), logits)
    return logits, stages


def semantics_input(name, sem, size, batch, ratios, input_from, seed_base, by_name, run):
    """The input of a semantics case: the named case's when every cut has a clear score gap in this
    semantics, else a fresh draw (seed from seed_base on) that has them. Returns (x, seed, source)."""
    def clear(x):
        if ratios is None:
            return True
        try:
            run(x, {"gaps": [], "kept": [], "abort_below": MIN_GAP})
            return True
        except sref.GapTooSmall as e:
            log(f"{name}: gap {e.args[0]:.3g} < {MIN_GAP}")
            return False
    if input_from is not None:
        src = by_name[input_from]
        assert src["img_size"] == list(size) and src["batch"] == batch, name
        if clear(src["_x"]):
            return src["_x"], src["input_seed"], src
        log(f"{name}: input of {input_from} has too small score gaps in {sem} semantics, drawing its own")
    for attempt in range(2000):
        x = draw_input(seed_base + attempt, batch, *size)
        if clear(x):
            return x, seed_base + attempt, None
    raise AssertionError(f"{name}: no input with clear window-score gaps")


def make_semantics_cases(mode, cfg, model224, norms, tv_sd, by_name, get_model, outdir):
    """The `semantics_cases` of the manifest and the files they wrote (see SEMANTICS_CASES)."""
    tv = torchvision_model(cfg, tv_sd)
    entries, written = [], []
    for ci, (name, sem, size, batch, ratios, input_from) in enumerate(SEMANTICS_CASES[mode]):
        model = get_model(size)

        def run(x, record, model=model, sem=sem, ratios=ratios):
            with torch.no_grad():
                return sref.forward(model, model224, x, sem, ratios, record)

        x, seed, src = semantics_input(name, sem, size, batch, ratios, input_from, 100_000 + 1000 * ci, by_name, run)
        record = {"gaps": [], "kept": []}
        stages = run(x, record)
        with torch.no_grad():
            _, timm_stages = dense_forward(model, x)
        entry = dict(name=name, semantics=sem, img_size=list(size), batch=batch, pruning_ratios=ratios,
                     input_seed=seed, stages_geometry=[list(s.shape[1:3]) for s in stages])
        if src is not None:
            entry.update(input=src["input"], shares_input_with=src["name"])
        else:
            entry["input"] = to_npy(outdir, f"{name}.input.npy", x)
            written.append(entry["input"])
        if sem == "torchvision":
            with torch.no_grad():
                logits, expected = torchvision_forward(tv, x)
                ours = model.forward_head(model.norm(stages[-1]))
            diff = max((ours - logits).abs().max().item(), *[(a - b).abs().max().item() for a, b in zip(stages, expected)])
            log(f"{name}: semantics_reference.py vs torchvision's own forward max |diff| {diff:.3g}")
            assert diff < DENSE_ATOL, diff
            entry["reference"] = "torchvision SwinTransformer forward (logits; stages after features[2s+1])"
            entry["logits"] = to_npy(outdir, f"{name}.logits.npy", logits)
            entry["stages"] = [to_npy(outdir, f"{name}.stage{i}.npy", t) for i, t in enumerate(expected)]
            entry["normed_stages"] = None
        else:
            expected = stages
            entry["reference"] = "scripts/semantics_reference.py (mmdet backbone outputs: stage s through norm{s})"
            entry["logits"] = entry["stages"] = None
            entry["normed_stages"] = [
                to_npy(outdir, f"{name}.normed_stage{i}.npy", F.layer_norm(t, (t.shape[-1],), w, b, 1e-5))
                for i, (t, (w, b)) in enumerate(zip(stages, norms))]
        written += [f for f in [entry["logits"], *(entry["stages"] or []), *(entry["normed_stages"] or [])] if f]
        if ratios is None:
            entry["rel_l2_vs_timm"] = [relative_l2(a, b) for a, b in zip(expected, timm_stages)]
            log(f"{name}: stage rel L2 vs timm semantics {['%.2g' % d for d in entry['rel_l2_vs_timm']]}")
        if sem == "sparsevit" and ratios is None:
            # padded tokens hold LN1's bias instead of zero: the only difference from mmdet
            mmdet = run(x, {"gaps": [], "kept": []}, sem="mmdet")
            entry["rel_l2_vs_mmdet"] = [relative_l2(a, b) for a, b in zip(expected, mmdet)]
            log(f"{name}: stage rel L2 vs mmdet semantics {['%.2g' % d for d in entry['rel_l2_vs_mmdet']]}")
            padded = any(d % WINDOW for t in stages for d in t.shape[1:3])
            assert (max(entry["rel_l2_vs_mmdet"]) > 1e-4) == padded, entry["rel_l2_vs_mmdet"]
        if mode == "tiny" and ratios is None:
            # 224: only the last stage (7x7) may differ, and only where that map is shifted; padded
            # sizes must differ from timm somewhere, or the case tests nothing.
            if size == (224, 224):
                assert all(d < 1e-6 for d in entry["rel_l2_vs_timm"][:3]), entry["rel_l2_vs_timm"]
                assert (entry["rel_l2_vs_timm"][3] > 1e-3) == (sem != "torchvision"), entry["rel_l2_vs_timm"]
            else:
                assert max(entry["rel_l2_vs_timm"]) > 1e-3, entry["rel_l2_vs_timm"]
        gap = min(record["gaps"]) if record["gaps"] else None
        assert gap is None or gap >= MIN_GAP, (name, gap)
        entry.update(min_score_gap=gap, kept_windows=record["kept"] if ratios is not None else None)
        entries.append(entry)
    return entries, written


# MARK: main


def to_npy(outdir, name, t):
    arr = np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))
    np.save(os.path.join(outdir, name), arr)
    return name


def check_purpose(name, size, batch, geo, ratios, kept):
    """Asserts the geometric property a tiny case exists for (see PURPOSES)."""
    sizes = [g["size"] for g in geo]
    clamped = [any(g["window"][i] < WINDOW for i in range(2)) for g in geo]
    padded = [any(g["size"][i] % g["window"][i] for i in range(2)) for g in geo]
    one_axis = [any(g["size"][i] <= WINDOW and g["shift"][i] == 0 and g["size"][1 - i] > WINDOW
                    and g["shift"][1 - i] > 0 for i in range(2)) for g in geo]
    if name == "dense_224x224_b1":
        assert geo[-1]["size"] == [WINDOW, WINDOW] and geo[-1]["shift"] == [0, 0] and not any(padded), geo
    elif name.startswith("dense_75x100") or name.startswith("sparse_uniform50_75x100"):
        assert size[0] % PATCH and any(s[1] % 2 for s in sizes[:-1]) and any(padded[:2]) and any(clamped), geo
    elif name.startswith("dense_64x64") or name.startswith("dense_32x32"):
        assert any(g["shift"] != [0, 0] and p for g, p in zip(geo, padded)) and any(clamped), geo
    elif name.startswith("dense_56x80"):
        assert any(one_axis) and any(p and o for p, o in zip(padded, one_axis)), geo
    if name.startswith("sparse_mixed"):
        windows = [-(-geo[0]["size"][i] // geo[0]["window"][i]) for i in range(2)]
        assert windows[0] * windows[1] >= 16, geo
    if name.startswith("sparse_late"):
        first = [next((b for b, r in enumerate(stage) if r > 0), None) for stage in ratios]
        assert any(f is not None and f > 0 for f in first), ratios
        # some block under a one-axis shift prunes part of its windows
        blocks = [(si, bi) for si, stage in enumerate(ratios) for bi in range(len(stage))]
        assert any(one_axis[si] and bi % 2 == 1 and kept[k][0] is not None and len(kept[k][0]) > 0
                   and ratios[si][bi] > 0 for k, (si, bi) in enumerate(blocks)), (geo, kept)
    if name.startswith("sparse_k0"):
        assert all(k == [] for k in kept[0]) and all(k == [] for k in kept[1]), kept
    if name.startswith("dense_32x32"):
        assert batch == 3 and geo[-1]["size"] == [1, 1], geo


def kept_sets_differ(kept):
    return any(k[0] != k[1] for k in kept if k[0] is not None)


def find_input(name, size, batch, seed_base, sparse_members, model):
    """Draws inputs from seed_base on until every pruned case sharing this input has clear score gaps
    (and, for MUST_DIFFER cases, different kept windows in the two images)."""
    attempt = 0
    while True:
        seed = seed_base + attempt
        x = draw_input(seed, batch, *size)
        ok = True
        for member, ratios in sparse_members:
            record = {"gaps": [], "kept": [], "abort_below": MIN_GAP}
            try:
                with torch.no_grad():
                    prune_forward(model, x, ratios, record)
            except GapTooSmall as e:
                log(f"{member}: seed {seed} gap {e.args[0]:.3g} < {MIN_GAP} at cut {len(record['gaps'])}, redrawing")
                ok = False
                break
            if member.startswith(MUST_DIFFER) and not kept_sets_differ(record["kept"]):
                log(f"{member}: seed {seed} keeps the same windows in both images, redrawing")
                ok = False
                break
        if ok:
            return x, seed
        attempt += 1
        assert attempt < 2000, f"{name}: could not find an input with clear window-score gaps"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=sorted(CONFIGS))
    ap.add_argument("outdir", nargs="?")
    args = ap.parse_args()
    outdir = args.outdir or (os.path.join("Tests", "Fixtures", "tiny") if args.mode == "tiny" else None)
    if outdir is None:
        ap.error("full mode needs OUTDIR (it is large and not committed)")
    os.makedirs(outdir, exist_ok=True)

    torch.set_num_threads(2)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"timm\.layers\.interpolate")
    set_fused_attn(False)  # timm's default for Swin; explicit so TIMM_FUSED_ATTN cannot change the math
    cfg = CONFIGS[args.mode]
    gen = torch.Generator().manual_seed(SEED)

    # canonical checkpoint: made at 224, all bias tables 13x13 = 169 rows
    model224 = build_model(cfg, CANONICAL_IMG)
    randomize(model224, gen)
    canonical = {k: v.detach().clone() for k, v in model224.state_dict().items()}
    num_params = sum(p.numel() for p in model224.parameters())
    log(f"{args.mode}: {num_params} parameters")
    if args.mode == "full":
        assert num_params == 28_288_354, num_params
    norms = [layer_norm_params(cfg["embed_dim"] * 2 ** i, gen) for i in range(len(cfg["depths"]))]

    prefix = args.mode
    checkpoints = []
    written = []

    def add_ckpt(layout, sd, dtype_name, dtype=None, **extra):
        file = f"{prefix}.{layout}.{dtype_name.lower()}.safetensors"
        save_checkpoint(os.path.join(outdir, file), sd, dtype)
        checkpoints.append(dict(file=file, layout=layout, dtype=dtype_name, **extra))
        written.append(file)

    add_ckpt("timm", canonical, "F32")
    if args.mode == "tiny":
        add_ckpt("timm", canonical, "F16", torch.float16)
        add_ckpt("timm", canonical, "BF16", torch.bfloat16)
    alt_name, alt_dtype = ALT_LAYOUT_DTYPE[args.mode]

    with_mask = MICROSOFT_ATTN_MASK[args.mode]
    ms = to_microsoft(canonical, model224, attn_mask=with_mask)
    back = checkpoint_filter_fn(dict(ms), model224)  # timm's own converter must give the canonical dict back
    assert set(back) == set(canonical) and all(torch.equal(back[k], canonical[k]) for k in canonical)
    if with_mask:
        ms_note = ("original Swin names; relative_position_index and attn_mask buffers (made at 224) included "
                   "as in old checkpoints: ignore them")
    else:
        ms_note = ("original Swin names; relative_position_index buffers included as in old checkpoints (ignore "
                   "them). Old checkpoints may also carry attn_mask buffers of the shifted blocks: the loader "
                   "ignores them too (left out here for size; the Swift unit tests cover that case)")
    add_ckpt("microsoft", ms, alt_name, alt_dtype, note=ms_note)

    x224 = draw_input(SEED, 1, CANONICAL_IMG, CANONICAL_IMG)
    with torch.no_grad():
        logits224 = model224(x224)
    tv = to_torchvision(canonical, cfg)
    tv_check = verify_torchvision(tv, cfg, logits224, x224)
    add_ckpt("torchvision", tv, alt_name, alt_dtype, **tv_check)

    mm = to_mmdet(canonical, cfg, norms)
    verify_mmdet_merge(mm, model224, x224)
    add_ckpt("mmdet", mm, alt_name, alt_dtype,
             note="backbone only: no final norm and no head; backbone.norm0..3 are per-stage output norms (see "
                  "normed_stages); merges in nn.Unfold channel order c*4 + 2*dh + dw")

    models = {}
    resized_tables = []

    def get_model(size):
        if size not in models:
            m = model_at(cfg, canonical, size)
            models[size] = m
            for si, stage in enumerate(m.layers):
                for bi, blk in enumerate(stage.blocks):
                    key = f"layers.{si}.blocks.{bi}.attn.relative_position_bias_table"
                    table = blk.attn.relative_position_bias_table
                    if table.shape != canonical[key].shape or not torch.equal(table, canonical[key]):
                        resized_tables.append(dict(img_size=list(size), key=key, window_size=list(blk.window_size),
                                                   shape=list(table.shape)))
        return models[size]

    case_list = CASES[args.mode]
    cases = []
    by_name = {}
    for ci, (name, size, batch, ratios) in enumerate(case_list):
        model = get_model(size)
        geo = stage_geometry(model)
        entry = dict(name=name, purpose=PURPOSES.get(name), img_size=list(size), batch=batch, stages_geometry=geo)
        if name in SHARED_WITH:
            src = by_name[SHARED_WITH[name]]
            x = src["_x"]
            with torch.no_grad():
                record = {"gaps": [], "kept": []}
                logits, stages = prune_forward(model, x, ratios, record)
            diff = max((logits - src["_logits"]).abs().max().item(),
                       *[(a - b).abs().max().item() for a, b in zip(stages, src["_stages"])])
            log(f"{name}: all-zero ratios vs dense max |diff| {diff:.3g}")
            assert diff < DENSE_ATOL, diff
            entry.update(input=src["input"], logits=src["logits"], stages=src["stages"],
                         normed_stages=src["normed_stages"], pruning_ratios=ratios, min_score_gap=None,
                         input_seed=src["input_seed"], kept_windows=None, shares_files_with=src["name"])
            cases.append(entry)
            by_name[name] = entry
            continue

        if name in INPUT_FROM:
            src = by_name[INPUT_FROM[name]]
            assert src["img_size"] == list(size) and src["batch"] == batch, name
            x, seed = src["_x"], src["input_seed"]
            entry["shares_input_with"] = src["name"]
        else:
            members = [(n, r) for n, _, _, r in case_list
                       if (n == name or INPUT_FROM.get(n) == name) and r is not None and any(map(any, r))]
            x, seed = find_input(name, size, batch, 1000 * (ci + 1), members, model)

        with torch.no_grad():
            if ratios is None:
                logits, stages = dense_forward(model, x)
                record = {"gaps": [], "kept": []}
                zero = [[0.0] * len(s.blocks) for s in model.layers]
                plog, pst = prune_forward(model, x, zero, record)
                diff = max((plog - logits).abs().max().item(),
                           *[(a - b).abs().max().item() for a, b in zip(pst, stages)])
                log(f"{name}: pruning path with ratios 0 vs timm dense max |diff| {diff:.3g}")
                assert diff < DENSE_ATOL, diff
                gap = None
            else:
                record = {"gaps": [], "kept": []}
                logits, stages = prune_forward(model, x, ratios, record)
                gap = min(record["gaps"]) if record["gaps"] else None
                assert gap is None or gap >= MIN_GAP, (name, gap)

        if ratios is not None:
            log(f"{name}: seed {seed}, {len(record['gaps'])} cuts, min score gap {gap}")
            if batch > 1:
                differs = kept_sets_differ(record["kept"])
                log(f"{name}: kept sets differ between images: {differs}")
                if name.startswith(MUST_DIFFER):
                    assert differs
            if all(g["size"][i] % g["window"][i] == 0 and g["window"][0] == g["window"][1]
                   and g["shift"][0] == g["shift"][1] for g in geo for i in range(2)):
                if not os.path.exists(os.path.join(PEERS_DIR, "sparsevit_ref.py")):
                    sys.exit(f"error: {PEERS_DIR}/sparsevit_ref.py not found (set SPARSEVIT_PEERS)")
                sys.path.insert(0, PEERS_DIR)
                import sparsevit_ref
                ref_gaps = []
                with torch.no_grad():
                    rl, _, rs = sparsevit_ref.forward(model, x, ratios, ref_gaps)
                diff = max((rl - logits).abs().max().item(), *[(a - b).abs().max().item() for a, b in zip(rs, stages)])
                log(f"{name}: vs peers/sparsevit_ref.py max |diff| {diff:.3g}")
                assert diff < DENSE_ATOL and np.allclose(ref_gaps, record["gaps"], rtol=0, atol=1e-7)
                entry["checked_against_sparsevit_ref"] = True
        if args.mode == "tiny":
            check_purpose(name, size, batch, geo, ratios, record["kept"])

        if name in INPUT_FROM:
            entry["input"] = by_name[INPUT_FROM[name]]["input"]
        else:
            entry["input"] = to_npy(outdir, f"{name}.input.npy", x)
        entry["logits"] = to_npy(outdir, f"{name}.logits.npy", logits)
        entry["stages"] = [to_npy(outdir, f"{name}.stage{i}.npy", s) for i, s in enumerate(stages)]
        if args.mode == "full" or name in NORMED_IN_TINY:
            entry["normed_stages"] = [
                to_npy(outdir, f"{name}.normed_stage{i}.npy", F.layer_norm(s, (s.shape[-1],), w, b, 1e-5))
                for i, (s, (w, b)) in enumerate(zip(stages, norms))]
        else:
            entry["normed_stages"] = None
        entry.update(pruning_ratios=ratios, min_score_gap=gap, input_seed=seed,
                     kept_windows=record["kept"] if ratios is not None else None)
        entry["_x"], entry["_logits"], entry["_stages"] = x, logits, stages
        by_name[name] = entry
        cases.append(entry)

    if args.mode == "tiny":
        assert any(e["batch"] == 3 for e in cases)
    semantics_cases, semantics_files = make_semantics_cases(
        args.mode, cfg, model224, norms, tv, by_name, get_model, outdir)
    written.extend(semantics_files)
    for e in cases:
        for k in ("_x", "_logits", "_stages"):
            e.pop(k, None)
        written.extend([e["input"], e["logits"], *e["stages"], *(e["normed_stages"] or [])])
    manifest = {
        "generator": "scripts/make_fixtures.py",
        "command": "python " + shlex.join([sys.argv[0]] + sys.argv[1:]),
        "versions": {"torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__,
                     "safetensors": safetensors.__version__, "python": sys.version.split()[0]},
        "seed": SEED,
        "config": dict(embed_dim=cfg["embed_dim"], depths=list(cfg["depths"]), num_heads=list(cfg["num_heads"]),
                       window_size=WINDOW, num_classes=cfg["num_classes"], patch_size=PATCH, mlp_ratio=4,
                       layer_norm_eps=1e-5, num_params=num_params, canonical_img_size=CANONICAL_IMG),
        "notes": [
            "Arrays are float32 C-order .npy; inputs NCHW (B, 3, H, W); logits (B, classes); stages NHWC "
            "(B, H_s, W_s, C_s) = raw output of timm model.layers[s] (before the final norm).",
            "Reference at another size: fresh timm model at that img_size, canonical state dict through "
            "timm checkpoint_filter_fn, load_state_dict(strict=True); resized_tables lists the bias tables "
            "timm resized (stages whose window is clamped below 7), their values are not stored.",
            "Every parameter is exactly representable in float16 and bfloat16: all checkpoint dtypes hold "
            "identical values.",
            "relative_position_index buffers (int64) are kept where the layout has them; the Microsoft file "
            + ("carries attn_mask buffers too; the loader ignores both." if with_mask else
               "has no attn_mask buffers, which old checkpoints may carry and the loader ignores."),
            "Cases may share files: shares_input_with names the case whose input file is reused, "
            "shares_files_with the case whose every file is reused.",
            "kept_windows[block][image]: sorted kept window indices of that block (row-major over the rolled, "
            "padded map), null when the block runs dense.",
            "min_score_gap: smallest (s[k-1]-s[k])/s[k-1] over every block with 0 < k < nW (null: no cut).",
            "normed_stages: stage i output through mmdet backbone.norm{i} (LayerNorm, eps 1e-5).",
            "semantics_cases: the same weights run as torchvision, mmdet and the SparseViT repository run "
            "them (SPARSEVIT.md, 'Padding and shift'); torchvision's from its own forward, the others from "
            "scripts/semantics_reference.py; rel_l2_vs_timm: per stage, relative L2 distance to timm semantics.",
        ],
        "checkpoints": checkpoints,
        "resized_tables": resized_tables,
        "cases": cases,
        "semantics_cases": semantics_cases,
    }
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    written.append("manifest.json")
    stale = sorted(set(os.listdir(outdir)) - set(written))
    if stale:
        log(f"warning: {len(stale)} files in {outdir} are not in the manifest (stale?): {' '.join(stale)}")
    log(f"wrote {len(cases)} cases and {len(checkpoints)} checkpoints to {outdir}")


if __name__ == "__main__":
    main()
