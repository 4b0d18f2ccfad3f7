#!/usr/bin/env python3
"""Picture-like test images for `sparsevit eval`: a shaded background, soft-edged ellipses and
rectangles (flat, striped or checkered) and grain, so that window importance varies across the map.
Deterministic: the same arguments write the same bytes.

    PY=$(scripts/python_env.sh)                       # numpy + Pillow
    "$PY" scripts/make_eval_images.py fixtures Tests/Fixtures/eval      # the committed test images
    "$PY" scripts/make_eval_images.py folder /tmp/eval2000 --count 2000 # a flat folder (not committed)
    "$PY" scripts/make_eval_images.py folder /tmp/val200 --count 200 --classes 10 --size 500x375

`folder --classes K` writes ImageNet-style subfolders named by the first K ImageNet WordNet ids
(timm's imagenet_synsets.txt), images spread over them in turn; JPEG quality 90 unless --png.
"""
import argparse
import os

import numpy as np
from PIL import Image


def picture(width, height, seed):
    """One RGB picture as a uint8 array [height, width, 3]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    top, bottom = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    horizon = rng.uniform(0.3, 0.7) * height
    t = 1 / (1 + np.exp(-(y - horizon) / max(1.0, 0.06 * height)))
    canvas = top[None, None, :] * (1 - t[..., None]) + bottom[None, None, :] * t[..., None]
    side = min(width, height)
    for _ in range(3):
        wavelength = rng.uniform(0.3, 1.5) * side
        angle, phase = rng.uniform(0, 2 * np.pi, 2)
        wave = rng.uniform(10, 30) * np.cos(2 * np.pi / wavelength * (np.cos(angle) * x + np.sin(angle) * y) + phase)
        canvas += wave[..., None] * rng.uniform(0.5, 1.5, 3)[None, None, :]
    for _ in range(rng.integers(4, 10)):
        rx, ry = rng.uniform(0.05, 0.3, 2) * side
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        dx, dy = x + 0.5 - cx, y + 0.5 - cy
        if rng.integers(2):
            distance = (np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2) - 1) * min(rx, ry)
        else:
            distance = np.maximum(np.abs(dx) - rx, np.abs(dy) - ry)
        coverage = np.clip(0.5 - distance / 1.5, 0, 1)[..., None]
        color = rng.uniform(30, 225, 3)
        period, angle, contrast = rng.uniform(3, 12), rng.uniform(0, np.pi), rng.uniform(20, 60)
        u = dx * np.cos(angle) + dy * np.sin(angle)
        pattern = rng.integers(3)
        if pattern == 1:
            texture = contrast * np.sin(2 * np.pi * u / period)
        elif pattern == 2:
            v = -dx * np.sin(angle) + dy * np.cos(angle)
            texture = contrast * (((np.floor(u / period) + np.floor(v / period)) % 2) - 0.5)
        else:
            texture = np.zeros_like(u)
        canvas = canvas * (1 - coverage) + (color[None, None, :] + texture[..., None]) * coverage
    canvas += rng.normal(0, rng.uniform(0, 12), canvas.shape)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def save(array, path, png, quality=90):
    image = Image.fromarray(array, "RGB")
    if png:
        image.save(path, optimize=True)
    else:
        image.save(path, quality=quality)


def fixtures(outdir):
    """Six small images (three PNG, three JPEG) of different sizes and aspect ratios."""
    os.makedirs(outdir, exist_ok=True)
    sizes = [(64, 48), (48, 64), (56, 56), (72, 40), (40, 40), (60, 52)]
    for index, (width, height) in enumerate(sizes):
        png = index % 2 == 0
        save(picture(width, height, 1000 + index), os.path.join(outdir, f"picture{index}.{'png' if png else 'jpg'}"), png, 85)


def wordnet_ids(count):
    import timm.data  # only for the class folder names

    path = os.path.join(os.path.dirname(timm.data.__file__), "_info", "imagenet_synsets.txt")
    with open(path) as handle:
        return [line.strip() for line in handle][:count]


def folder(outdir, count, classes, width, height, png, seed):
    os.makedirs(outdir, exist_ok=True)
    names = wordnet_ids(classes) if classes else []
    for name in names:
        os.makedirs(os.path.join(outdir, name), exist_ok=True)
    for index in range(count):
        directory = os.path.join(outdir, names[index % len(names)]) if names else outdir
        path = os.path.join(directory, f"image{index:06d}.{'png' if png else 'jpg'}")
        save(picture(width, height, seed + index), path, png)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["fixtures", "folder"])
    parser.add_argument("outdir")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--classes", type=int, default=0, help="ImageNet-style class subfolders (0: a flat folder)")
    parser.add_argument("--size", default="320x240", help="WxH of each image (default 320x240)")
    parser.add_argument("--png", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.mode == "fixtures":
        fixtures(args.outdir)
    else:
        width, height = (int(v) for v in args.size.lower().split("x"))
        folder(args.outdir, args.count, args.classes, width, height, args.png, args.seed)


if __name__ == "__main__":
    main()
