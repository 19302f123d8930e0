#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Export the whole-model test set to ONNX with Debian's torch.

    /usr/bin/python3 tests/models/export.py OUTDIR [--models a,b] [--force]

Models (random weights, torch.manual_seed(0): no download is possible here;
BatchNorm statistics calibrated on random batches so activations keep their
scale):
  resnet18      torchvision, input "input" 1x3x224x224, output "output"
  mobilenet_v2  torchvision, same input/output
  transformer   2-layer nn.TransformerEncoder (d_model 256, 4 heads, ff 512,
                batch_first) with a token embedding and a classifier head;
                input "tokens" int64 1x32, output "logits" 1x32x1000
  mobilenet_v3_small  torchvision: squeeze-excite blocks, HardSwish and
                HardSigmoid; input "input" 1x3x224x224, output "output"
  efficientnet_b0     torchvision: squeeze-excite blocks, SiLU; same I/O
  resnet18_dyn, mobilenet_v2_dyn  the same two CNNs exported with a
                dynamic batch dimension ("batch") on input and output, for
                dynamic batching (tests/bench/batch_bench.c); exported
                only when named in --models
  encoder6      BERT-small-like encoder: 6 nn.TransformerEncoderLayer
                (d_model 384, 6 heads, ff 1536, GELU, batch_first), float
                input "x" 1x128x384, output "y" 1x128x384. At opset 13
                LayerNorm and GELU export decomposed (ReduceMean/Pow/Sqrt,
                Erf): the graph optimiser's fusion targets.

Models already in OUTDIR are skipped unless --force. Prints one line per
model. Must run under /usr/bin/python3 (the venv has no working torch).
"""
import argparse
import os
import sys

OPSET = 13


def build_resnet18(torch):
    import torchvision
    return torchvision.models.resnet18(weights=None), \
        torch.randn(1, 3, 224, 224), ["input"], ["output"]


def build_mobilenet_v2(torch):
    import torchvision
    return torchvision.models.mobilenet_v2(weights=None), \
        torch.randn(1, 3, 224, 224), ["input"], ["output"]


def build_transformer(torch):
    nn = torch.nn

    class TinyEncoder(nn.Module):
        """Embedding + positional table + encoder + per-token classifier."""

        def __init__(self, vocab=1000, d_model=256, heads=4, layers=2,
                     ff=512, seq=32):
            super().__init__()
            self.embed = nn.Embedding(vocab, d_model)
            self.pos = nn.Parameter(torch.randn(1, seq, d_model) * 0.02)
            layer = nn.TransformerEncoderLayer(d_model, heads, ff,
                                               dropout=0.0, batch_first=True)
            # enable_nested_tensor=False: keep the plain (exportable) path.
            self.encoder = nn.TransformerEncoder(layer, layers,
                                                 enable_nested_tensor=False)
            self.head = nn.Linear(d_model, vocab)

        def forward(self, tokens):
            x = self.embed(tokens) + self.pos
            return self.head(self.encoder(x))

    tokens = torch.randint(0, 1000, (1, 32), dtype=torch.int64)
    return TinyEncoder(), tokens, ["tokens"], ["logits"]


def build_mobilenet_v3_small(torch):
    import torchvision
    return torchvision.models.mobilenet_v3_small(weights=None), \
        torch.randn(1, 3, 224, 224), ["input"], ["output"]


def build_efficientnet_b0(torch):
    import torchvision
    return torchvision.models.efficientnet_b0(weights=None), \
        torch.randn(1, 3, 224, 224), ["input"], ["output"]


def build_encoder6(torch):
    nn = torch.nn

    class Encoder(nn.Module):
        """The encoder stack alone, on float activations: what a BERT-small
        spends its time in (no embedding gather, no head)."""

        def __init__(self, d_model=384, heads=6, layers=6, ff=1536):
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model, heads, ff,
                                               dropout=0.0,
                                               activation="gelu",
                                               batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers,
                                                 enable_nested_tensor=False)
            # TransformerEncoder deep-copies one layer: every layer would
            # share its weights, and the exporter would store them once (a
            # 7 MB model that stays cache-resident). Give each layer its
            # own weights, and LayerNorm a non-trivial affine, so the model
            # streams 42 MB of weights like a real one.
            for lay in self.encoder.layers:
                lay.self_attn._reset_parameters()
                lay.linear1.reset_parameters()
                lay.linear2.reset_parameters()
                for norm in (lay.norm1, lay.norm2):
                    nn.init.normal_(norm.weight, 1.0, 0.1)
                    nn.init.normal_(norm.bias, 0.0, 0.1)

        def forward(self, x):
            return self.encoder(x)

    return Encoder(), torch.randn(1, 128, 384), ["x"], ["y"]


BUILDERS = {
    "resnet18": build_resnet18,
    "mobilenet_v2": build_mobilenet_v2,
    "resnet18_dyn": build_resnet18,
    "mobilenet_v2_dyn": build_mobilenet_v2,
    "transformer": build_transformer,
    "mobilenet_v3_small": build_mobilenet_v3_small,
    "efficientnet_b0": build_efficientnet_b0,
    "encoder6": build_encoder6,
}


def calibrate_bn(model, example, torch):
    """Random weights make activations vanish through deep CNNs (MobileNet's
    logits come out near 1e-10). Set BatchNorm's running statistics from a
    few random batches, as training would, so every layer sees unit-scale
    data and the comparison exercises realistic magnitudes."""
    bns = [m for m in model.modules()
           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, *example.shape[1:]))


def export(name, path, torch):
    torch.manual_seed(0)
    model, example, inputs, outputs = BUILDERS[name](torch)
    calibrate_bn(model, example, torch)
    model.eval()
    tmp = path + ".tmp"
    # "_dyn" variants: axis 0 of every input and output is "batch".
    dynamic = {n: {0: "batch"} for n in inputs + outputs} \
        if name.endswith("_dyn") else None
    # Grad stays enabled: under no_grad, torch 1.13's TransformerEncoderLayer
    # takes a fused "fast path" that has no ONNX export.
    torch.onnx.export(model, (example,), tmp, opset_version=OPSET,
                      do_constant_folding=True, input_names=inputs,
                      output_names=outputs, dynamic_axes=dynamic)
    os.replace(tmp, path)  # never leave a half-written model behind


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    # The "_dyn" variants are exported only when named.
    ap.add_argument("--models",
                    default=",".join(n for n in BUILDERS
                                     if not n.endswith("_dyn")),
                    help="comma-separated subset of: " + ", ".join(BUILDERS))
    ap.add_argument("--force", action="store_true",
                    help="re-export models that already exist")
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in BUILDERS:
            ap.error(f"unknown model '{n}' (known: {', '.join(BUILDERS)})")
    os.makedirs(args.outdir, exist_ok=True)
    torch = None
    for n in names:
        path = os.path.join(args.outdir, n + ".onnx")
        if os.path.exists(path) and not args.force:
            print(f"export: {n}: cached {path}")
            continue
        if torch is None:
            import torch as torch_mod  # slow import: only when needed
            torch = torch_mod
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        export(n, path, torch)
        print(f"export: {n}: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
