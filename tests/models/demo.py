#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Input and output helpers for scripts/demo.sh (run by the venv's python).

    demo.py fetch-ocr DIR          get PP-OCRv4's text recogniser (a real,
                                   pretrained ONNX model shipped inside the
                                   rapidocr-onnxruntime wheel on PyPI) into
                                   DIR/ocr_rec.onnx; exit 1 if unavailable
    demo.py ocr-input TEXT OUT.npy render TEXT as a 48-pixel-high text line
                                   (DejaVu Sans), normalised as PP-OCR wants
    demo.py ocr-decode MODEL OUT.npy   greedy CTC decode of the recogniser's
                                   output with the model's own dictionary
    demo.py image-input OUT.npy    a deterministic 224x224 picture (sky, sun,
                                   hills), ImageNet mean/std normalised
    demo.py top5 OUT.npy           top-5 classes of a 1x1000 logits tensor
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

OCR_WHEEL = "rapidocr-onnxruntime==1.4.4"
OCR_MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
OCR_HEIGHT, OCR_WIDTH = 48, 320


def fetch_ocr(outdir):
    dst = os.path.join(outdir, "ocr_rec.onnx")
    if os.path.exists(dst):
        print(f"demo: cached {dst}")
        return 0
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # pip by package name: the one way to reach PyPI here.
        p = subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                            "--no-deps", "--disable-pip-version-check",
                            OCR_WHEEL, "-d", tmp],
                           capture_output=True, text=True, timeout=300)
        wheels = glob.glob(os.path.join(tmp, "*.whl"))
        if p.returncode or not wheels:
            print(f"demo: cannot download {OCR_WHEEL}: "
                  f"{p.stderr.strip()[-200:]}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheels[0]) as z, open(dst + ".tmp", "wb") as f:
            f.write(z.read(OCR_MEMBER))
    os.replace(dst + ".tmp", dst)
    print(f"demo: wrote {dst}")
    return 0


def ocr_input(text, out):
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.truetype(FONT, 32)
    w = int(font.getlength(text)) + 16
    img = Image.new("RGB", (w, OCR_HEIGHT), (255, 255, 255))
    ImageDraw.Draw(img).text((8, 6), text, fill=(0, 0, 0), font=font)
    if w > OCR_WIDTH:  # keep the height, squeeze the line into the width
        img = img.resize((OCR_WIDTH, OCR_HEIGHT))
    img.save(os.path.splitext(out)[0] + ".png")
    a = (np.asarray(img, np.float32) / 255.0 - 0.5) / 0.5
    x = np.zeros((1, 3, OCR_HEIGHT, OCR_WIDTH), np.float32)
    x[0, :, :, :a.shape[1]] = a.transpose(2, 0, 1)
    np.save(out, x)
    print(f"demo: rendered {text!r} into {out} (picture: "
          f"{os.path.splitext(out)[0]}.png)")
    return 0


def ocr_decode(model, out):
    import onnx
    m = onnx.load(model, load_external_data=False)
    chars = [p.value for p in m.metadata_props if p.key == "character"]
    if not chars:
        print(f"demo: {model} has no 'character' dictionary", file=sys.stderr)
        return 1
    # Index 0 is the CTC blank; the model appends a space at the end.
    keys = ["<blank>"] + chars[0].split("\n") + [" "]
    probs = np.load(out)[0]
    best, prev, text, conf = probs.argmax(-1), 0, [], []
    for t, i in enumerate(best):
        if i != prev and i != 0 and i < len(keys):
            text.append(keys[i])
            conf.append(float(probs[t, i]))
        prev = i
    print("".join(text))
    print(f"demo: mean confidence {np.mean(conf) if conf else 0:.3f}",
          file=sys.stderr)
    return 0


def image_input(out):
    """Blue sky, a sun and green hills: deterministic, no download."""
    h = w = 224
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    sky = 1.0 - y / h
    img[..., 0], img[..., 1], img[..., 2] = 0.35 * sky, 0.55 * sky, 0.95
    sun = (x - 160) ** 2 + (y - 60) ** 2 < 24 ** 2
    img[sun] = (1.0, 0.85, 0.3)
    hill = y > 150 + 20 * np.sin(x / 30.0)
    img[hill] = np.stack([0.2 + 0 * x, 0.55 - 0.2 * (y - 150) / 74,
                          0.2 + 0 * x], -1)[hill]
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    norm = ((img - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
    np.save(out, norm)
    ppm = os.path.splitext(out)[0] + ".ppm"
    with open(ppm, "wb") as f:
        f.write(b"P6 224 224 255\n")
        f.write((img * 255).clip(0, 255).astype(np.uint8).tobytes())
    print(f"demo: wrote {out} (picture: {ppm})")
    return 0


def top5(out):
    logits = np.load(out).reshape(-1).astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    for rank, i in enumerate(np.argsort(-p)[:5], 1):
        print(f"  #{rank}: class {i:4d}  p={p[i]:.4f}  logit={logits[i]:+.4f}")
    return 0


def main(argv):
    cmds = {"fetch-ocr": (fetch_ocr, 1), "ocr-input": (ocr_input, 2),
            "ocr-decode": (ocr_decode, 2), "image-input": (image_input, 1),
            "top5": (top5, 1)}
    if len(argv) < 2 or argv[1] not in cmds or \
            len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
