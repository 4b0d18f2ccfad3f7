#!/usr/bin/env python3
"""Image fixtures for sparsevit-swift: small PNG/JPEG photos in every layout the decoder must handle,
broken files it must reject, the PIL decodings they must match, and timm/torchvision preprocessing
references (Tests/Fixtures/images/README.md). Also writes the embedding example's sample photo and
the ImageNet-1k class names (weights/imagenet_classes.txt, from torchvision's `_IMAGENET_CATEGORIES`,
BSD-3-Clause; the ClassNamesPlugin build tool compiles them into the Models target).

    PY=$(scripts/python_env.sh)
    "$PY" scripts/make_image_fixtures.py [--skimage-data DIR]

The photos are scikit-image's CC0 sample images `chelsea.png` (Stefan van der Walt) and
`coffee.png` (Rachel Michetti). Without --skimage-data the scikit-image wheel is fetched with
`pip download --no-deps` into a temporary directory and the two files are read from it.
Deterministic: rerunning rewrites the same bytes (same Pillow/libjpeg versions).
"""
import argparse
import glob
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import numpy as np
import PIL
import timm
import torch
import torchvision
from PIL import Image
from timm.data import create_transform
from torchvision import transforms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "images")
EXAMPLE_SAMPLE = os.path.join(ROOT, "Examples", "sample.jpg")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def skimage_photos(data_dir):
    """chelsea.png and coffee.png as PIL RGB images, from DIR or a downloaded scikit-image wheel."""
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="skimage-wheel-")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", temporary, "scikit-image==0.26.0"],
            check=True)
        wheel = glob.glob(os.path.join(temporary, "scikit_image-*.whl"))[0]
        with zipfile.ZipFile(wheel) as archive:
            for name in ("chelsea.png", "coffee.png"):
                archive.extract("skimage/data/" + name, temporary)
        data_dir = os.path.join(temporary, "skimage", "data")
    return tuple(Image.open(os.path.join(data_dir, name)).convert("RGB") for name in ("chelsea.png", "coffee.png"))


def save(image, name, **options):
    path = os.path.join(OUT, name)
    image.save(path, **options)
    return path


def write_bytes(name, data):
    with open(os.path.join(OUT, name), "wb") as file:
        file.write(data)


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_rgb16(pixels):
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one) from a uint16 [h, w, 3] array."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b"")


def expected_rgb(path, name):
    """What PIL decodes `path` to (`Image.open(path).convert("RGB")`, as timm's loader does), as RGB8 PNG."""
    Image.open(path).convert("RGB").save(os.path.join(OUT, name))


def with_declared_size(png, width, height):
    """`png` with its IHDR width/height replaced (CRC recomputed): a header that lies about its size."""
    assert png[12:16] == b"IHDR"
    ihdr = bytearray(png[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    return png[:8] + png_chunk(b"IHDR", bytes(ihdr)) + png[33:]


def jpeg_with_declared_size(jpeg, width, height):
    """`jpeg` with the height/width of its SOF0 frame header replaced."""
    data = bytearray(jpeg)
    index = data.index(b"\xff\xc0")
    data[index + 5:index + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def write_class_names():
    """The 1000 ImageNet-1k names, index = class id, one per line (the build compiles them in)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES as names
    assert len(names) == 1000 and all("\n" not in n for n in names)
    os.makedirs(os.path.join(ROOT, "weights"), exist_ok=True)
    with open(os.path.join(ROOT, "weights", "imagenet_classes.txt"), "w") as file:
        file.write("".join(name + "\n" for name in names))


def reference(image, transform, name):
    tensor = transform(image).unsqueeze(0).contiguous()
    assert tensor.dtype == torch.float32
    np.save(os.path.join(OUT, name), tensor.numpy())
    return tensor.shape


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skimage-data", help="directory holding scikit-image's chelsea.png and coffee.png")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    write_class_names()
    chelsea, coffee = skimage_photos(args.skimage_data)

    # The example's sample: the whole cat photo (451×300), and for the tests smaller photos.
    chelsea.save(EXAMPLE_SAMPLE, quality=85)
    cat = chelsea.resize((150, 100), Image.LANCZOS)
    cup = coffee.resize((120, 80), Image.LANCZOS)
    small = coffee.resize((48, 32), Image.LANCZOS)

    # Decodable photos and their PIL decodings.
    expected_rgb(save(cat, "cat.jpg", quality=90), "cat.jpg.expected.png")
    expected_rgb(save(cat, "cat_progressive.jpg", quality=90, progressive=True), "cat_progressive.jpg.expected.png")
    expected_rgb(save(cat.convert("L"), "cat_gray.jpg", quality=90), "cat_gray.jpg.expected.png")
    save(cup, "coffee.png")
    expected_rgb(save(small.convert("L"), "gray8.png"), "gray8.png.expected.png")
    expected_rgb(save(small.convert("1"), "gray1.png"), "gray1.png.expected.png")
    expected_rgb(save(small.convert("LA"), "gray_alpha.png"), "gray_alpha.png.expected.png")
    expected_rgb(save(small.quantize(colors=32), "palette.png"), "palette.png.expected.png")
    rgba = small.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(small.size))
    expected_rgb(save(rgba, "rgba.png"), "rgba.png.expected.png")
    wide = np.asarray(small, dtype=np.uint16) * 257 + np.arange(48, dtype=np.uint16)[None, :, None]
    write_bytes("rgb16.png", png_rgb16(wide))
    expected_rgb(os.path.join(OUT, "rgb16.png"), "rgb16.png.expected.png")

    # Files that must be rejected with a clear error.
    cmyk = save(cat.convert("CMYK"), "cat_cmyk.jpg", quality=90)
    with open(os.path.join(OUT, "coffee.png"), "rb") as file:
        png = file.read()
    with open(os.path.join(OUT, "cat.jpg"), "rb") as file:
        jpeg = file.read()
    write_bytes("truncated.png", png[: len(png) // 2])
    write_bytes("truncated.jpg", jpeg[: len(jpeg) // 2])
    idat = png.index(b"IDAT")
    idat_length = struct.unpack(">I", png[idat - 4:idat])[0]
    flipped_crc = bytearray(png)
    flipped_crc[idat + 4 + idat_length] ^= 0xFF
    write_bytes("bad_crc.png", bytes(flipped_crc))
    flipped_data = bytearray(png)
    flipped_data[idat + 100] ^= 0xFF
    write_bytes("bad_data.png", bytes(flipped_data))
    garbage = bytes((i * 37 + 11) % 256 for i in range(600))
    write_bytes("bad.jpg", jpeg[:4] + garbage)
    scan = jpeg.index(b"\xff\xda")
    scan_end = scan + 2 + struct.unpack(">H", jpeg[scan + 2:scan + 4])[0]
    write_bytes("bad_scan.jpg", jpeg[:scan_end] + garbage.replace(b"\xff", b"\x00") + b"\xff\xd9")
    write_bytes("not_an_image.png", b"This is a text file, not a PNG image.\n")
    write_bytes("huge.png", with_declared_size(png, 100_000, 100_000))
    write_bytes("huge.jpg", jpeg_with_declared_size(jpeg, 60_000, 60_000))

    # Preprocessing references: timm's eval transform (resize the shorter side to floor(size / 0.875),
    # centre crop) and a direct resize, on the PNG photo (lossless, so decoders cannot differ).
    shapes = {}
    shapes["coffee.crop56.bicubic.npy"] = reference(
        cup, create_transform(input_size=(3, 56, 56), interpolation="bicubic", crop_pct=0.875),
        "coffee.crop56.bicubic.npy")
    shapes["coffee.crop56.bilinear.npy"] = reference(
        cup, create_transform(input_size=(3, 56, 56), interpolation="bilinear", crop_pct=0.875),
        "coffee.crop56.bilinear.npy")
    direct = transforms.Compose([
        transforms.Resize((56, 56), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    shapes["coffee.direct56.bicubic.npy"] = reference(cup, direct, "coffee.direct56.bicubic.npy")
    # Upsampling: the 48×32 photo grows to a shorter side of floor(40 / 0.875) = 45, crop 40.
    shapes["small.crop40.bicubic.npy"] = reference(
        small, create_transform(input_size=(3, 40, 40), interpolation="bicubic", crop_pct=0.875),
        "small.crop40.bicubic.npy")
    save(small, "small.png")

    versions = (f"Python {sys.version.split()[0]}, Pillow {PIL.__version__}, torch {torch.__version__}, "
                f"torchvision {torchvision.__version__}, timm {timm.__version__}, numpy {np.__version__}")
    print("command:", " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, ROOT)] + sys.argv[1:]))
    print("versions:", versions)
    for name, shape in shapes.items():
        print(f"{name}: {tuple(shape)}")
    for path in sorted(glob.glob(os.path.join(OUT, "*"))) + [EXAMPLE_SAMPLE]:
        print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
