"""Window semantics of torchvision, mmdet and the SparseViT repository, for make_fixtures.py.

Written from /work/shared/SPARSEVIT.md ("Padding and shift: four frameworks, four answers" and "Window
activation pruning"): the window is never clamped (a small map is padded to one window), padding comes
before the roll (the roll wraps around the padded map), and
- torchvision: LN1 -> pad -> roll; no shift on an axis whose padded map is one window;
- mmdet:       LN1 -> pad -> roll; always shifts by 3 in shifted blocks, with the -100 mask;
- sparsevit:   pad -> roll -> windows -> LN1 per window, so padded tokens enter attention as LN1's
               bias; shifts like mmdet; prunes windows: importance mean |x|, zero-padded then rolled,
               L2 per window, top-k once per stage and block parity, unkept windows pass through.
Block weights come from a timm block built at 224 (window 7, 13x13 tables, never resized).
The torchvision variant is checked against torchvision's own forward by the generator.
"""
import torch
import torch.nn.functional as F
from timm.models.swin_transformer import window_partition, window_reverse

WINDOW = 7
SHIFT = WINDOW // 2


class GapTooSmall(Exception):
    pass


def kept_windows(order, scores, b, num_windows, ratio, record):
    """Image b's kept window indices (all when order is None) and the sorted list to report (None
    for all). Records the relative score gap at the cut; GapTooSmall when it is under
    record["abort_below"], so a case whose cut rounding could flip is drawn again."""
    if order is None:
        return torch.arange(num_windows), None
    keep = int(num_windows * (1 - ratio))
    idx = order[b][:keep]
    if 0 < keep < num_windows:
        s = scores[b][order[b]]
        gap = ((s[keep - 1] - s[keep]) / s[keep - 1]).item()
        record["gaps"].append(gap)
        if gap < record.get("abort_below", -1.0):
            raise GapTooSmall(gap)
    return idx, sorted(int(i) for i in idx)


def geometry(height, width, semantics, shifted):
    """Padded size and per-axis shift of one block: no clamp; torchvision drops the shift of an axis
    whose padded map is one window, mmdet and sparsevit keep it."""
    hp = -(-height // WINDOW) * WINDOW
    wp = -(-width // WINDOW) * WINDOW
    if not shifted:
        return hp, wp, (0, 0)
    if semantics == "torchvision":
        return hp, wp, (SHIFT if hp > WINDOW else 0, SHIFT if wp > WINDOW else 0)
    return hp, wp, (SHIFT, SHIFT)


def shift_mask(hp, wp, shift):
    """(nW, N, N) additive mask of the padded, rolled map: regions [0, Hp-7), [Hp-7, Hp-s), [Hp-s, Hp)
    per axis (slices as torchvision and mmdet write them; s = 0 leaves one region), 0 or -100."""
    img = torch.zeros(1, hp, wp, 1)
    count = 0
    for h in (slice(0, -WINDOW), slice(-WINDOW, -shift[0]), slice(-shift[0], None)):
        for w in (slice(0, -WINDOW), slice(-WINDOW, -shift[1]), slice(-shift[1], None)):
            img[:, h, w, :] = count
            count += 1
    labels = window_partition(img, (WINDOW, WINDOW)).view(-1, WINDOW * WINDOW)
    diff = labels.unsqueeze(1) - labels.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def pad_roll(x, hp, wp, shift):
    """(B, H, W, C) zero-padded bottom/right to (hp, wp), then rolled by (-shift) on the padded map."""
    padded = F.pad(x, (0, 0, 0, wp - x.shape[2], 0, hp - x.shape[1]))
    return torch.roll(padded, (-shift[0], -shift[1]), (1, 2)) if any(shift) else padded


def window_scores(act, semantics, shifted):
    """act (B, H, W) per-token mean |x| -> (B, nW) L2 norms of its windows, zero-padded then rolled."""
    hp, wp, shift = geometry(act.shape[1], act.shape[2], semantics, shifted)
    a = pad_roll(act.unsqueeze(-1), hp, wp, shift)
    return window_partition(a, (WINDOW, WINDOW)).view(act.shape[0], -1, WINDOW * WINDOW).norm(dim=-1)


def block_forward(blk, x, semantics, shifted, order=None, ratio=0.0, scores=None, record=None):
    """One block in `semantics`; order[b] ranks image b's windows (None: every window runs)."""
    B, H, W, C = x.shape
    hp, wp, shift = geometry(H, W, semantics, shifted)
    N = WINDOW * WINDOW
    residual = window_partition(pad_roll(x, hp, wp, shift), (WINDOW, WINDOW)).view(B, -1, N, C)
    if semantics == "sparsevit":
        attn_in = residual  # LN1 runs per window, on padded zeros too
    else:
        attn_in = window_partition(pad_roll(blk.norm1(x), hp, wp, shift), (WINDOW, WINDOW)).view(B, -1, N, C)
    mask = shift_mask(hp, wp, shift) if any(shift) else None
    num_windows = residual.shape[1]
    out = residual.clone()  # unkept windows pass through as their input
    kept_per_image = []
    for b in range(B):
        idx, kept = kept_windows(order, scores, b, num_windows, ratio, record)
        kept_per_image.append(kept)
        if len(idx) == 0:
            continue
        h_in = attn_in[b, idx]
        if semantics == "sparsevit":
            h_in = blk.norm1(h_in)
        h = residual[b, idx] + blk.attn(h_in, mask=None if mask is None else mask[idx])
        h = h + blk.mlp(blk.norm2(h))
        out[b, idx] = h
    if record is not None:
        record["kept"].append(kept_per_image)
    back = window_reverse(out.view(-1, WINDOW, WINDOW, C), (WINDOW, WINDOW), hp, wp)
    if any(shift):
        back = torch.roll(back, shift, (1, 2))
    return back[:, :H, :W, :]


def forward(sized_model, model224, x, semantics, ratios=None, record=None):
    """Stage outputs (NHWC, raw) of the backbone in `semantics`. Patch embed and merges come from the
    timm model built at x's size; blocks from the one built at 224 (window 7, original tables).
    Pruning (ratios not None): importance once per stage at its first block with ratio > 0, one
    ranking per block parity (stable descending sort), keep int(nW * (1 - r))."""
    record = record if record is not None else {"gaps": [], "kept": []}
    h = sized_model.patch_embed(x)
    outs = []
    for si, (stage, stage224) in enumerate(zip(sized_model.layers, model224.layers)):
        h = stage.downsample(h)
        act = None
        rankings = {}
        for bi, blk in enumerate(stage224.blocks):
            shifted = bi % 2 == 1
            r = 0.0 if ratios is None else ratios[si][bi]
            if ratios is not None and r > 0 and act is None:
                act = h.abs().mean(-1)
            order = scores = None
            if act is not None:
                if shifted not in rankings:
                    sc = window_scores(act, semantics, shifted)
                    rankings[shifted] = (torch.argsort(sc, dim=1, descending=True, stable=True), sc)
                order, scores = rankings[shifted]
            h = block_forward(blk, h, semantics, shifted, order, r, scores, record)
        outs.append(h)
    return outs
