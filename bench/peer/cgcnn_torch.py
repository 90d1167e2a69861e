#!/usr/bin/env python3
"""CGCNN and FACGCNN in PyTorch: the peer of `bench/gpu_throughput.ts`.

Usage: python3 bench/peer/cgcnn_torch.py BATCHES.bin [--json] [--device cuda|cpu]
                                           [--variant concat|split] [--resident]

BATCHES.bin is written by `exportForPeer` in bench/gpu_throughput.ts: b"FACGPEER", a u32 LE
header length, the JSON header, zero padding to 64 bytes, then raw little-endian arrays at the
header's offsets (relative to the start of that data section).

The model is CGCNN as in the reference `model.py` (Xie & Grossman, PRL 120, 145301 (2018)) in the
usual fast PyTorch edge-list form: embedding Linear(92(+3) -> A); n_conv ConvLayers with
fc_full = Linear(2A + 41(+3) -> 2A) on concat(v_i, v_j, u_ij) per edge, BN1 over the edge rows,
sigmoid(f) * softplus(c), sum aggregation per centre atom with index_add_, BN2, softplus of the
residual; mean pooling per crystal with index_add_; softplus -> Linear(A -> H) -> softplus ->
Linear(H -> 1). FACGCNN adds the 3 frame coordinates to the node inputs and the 3 frame relative
vector components to the edge inputs (exported, one stochastic frame draw per batch). The 41
Gaussians exp(-(d - mu_k)^2 / sigma^2) are computed on the device inside each step.
`--variant split` uses W_a v_i + W_b v_j + W_u u_ij (the same maths, node parts per atom).

Optimizer: Schedule-Free AdamW (Defazio et al. 2024, the reference `adamw_schedulefree.py`
update) written inline with torch._foreach ops, so the `schedulefree` package is not needed.

Timing: per model, `warmup` steps, then one pass over the batches (one training step each:
forward, MSE, backward, optimizer step; no per-step `.item()`), torch.cuda.synchronize() before
each clock read; inference the same in eval mode under torch.inference_mode(). Batches live in
pinned host memory and are copied to the device each step (non_blocking), as a DataLoader
feeds them (`--resident` keeps them on the device instead). Peak memory:
torch.cuda.max_memory_allocated / max_memory_reserved over the timed training steps.
"""

import argparse
import json
import math
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"FACGPEER":
        raise SystemExit(f"{path}: not a FACGPEER file")
    (n,) = struct.unpack_from("<I", raw, 8)
    header = json.loads(raw[12 : 12 + n].decode("utf-8"))
    start = 12 + n
    start += (64 - start % 64) % 64
    buf = bytearray(raw[start:])
    del raw

    def array(entry):
        dtype = torch.float32 if entry["dtype"] == "float32" else torch.int32
        count = math.prod(entry["shape"])
        t = torch.frombuffer(buf, dtype=dtype, count=count, offset=entry["offset"])
        return t.reshape(entry["shape"]).clone()

    table = array(header["atomTable"])
    batches = []
    for b in header["batches"]:
        a = {k: array(v) for k, v in b["arrays"].items()}
        for k in ("numbers", "centre", "neighbor", "crystal"):
            a[k] = a[k].long()
        a["nCrystals"] = b["nCrystals"]
        batches.append(a)
    return header, table, batches


class ConvLayer(nn.Module):
    def __init__(self, A, n_edge, split):
        super().__init__()
        self.A = A
        self.split = split
        self.fc_full = nn.Linear(2 * A + n_edge, 2 * A)
        self.bn1 = nn.BatchNorm1d(2 * A)
        self.bn2 = nn.BatchNorm1d(A)

    def forward(self, v, e, centre, neighbor):
        A = self.A
        if self.split:
            w = self.fc_full.weight
            z = (v @ w[:, :A].t())[centre] + (v @ w[:, A : 2 * A].t())[neighbor]
            z = z + F.linear(e, w[:, 2 * A :], self.fc_full.bias)
        else:
            z = self.fc_full(torch.cat([v[centre], v[neighbor], e], dim=1))
        f, c = self.bn1(z).chunk(2, dim=1)
        m = torch.sigmoid(f) * F.softplus(c)
        s = torch.zeros_like(v).index_add_(0, centre, m)
        return F.softplus(v + self.bn2(s))


class CrystalGraphNetwork(nn.Module):
    def __init__(self, n_node, n_edge, A, H, n_conv, split):
        super().__init__()
        self.embedding = nn.Linear(n_node, A)
        self.convs = nn.ModuleList([ConvLayer(A, n_edge, split) for _ in range(n_conv)])
        self.conv_to_fc = nn.Linear(A, H)
        self.fc_out = nn.Linear(H, 1)

    def forward(self, node_in, edge_in, centre, neighbor, crystal, n_crystals):
        v = self.embedding(node_in)
        for conv in self.convs:
            v = conv(v, edge_in, centre, neighbor)
        pooled = torch.zeros(n_crystals, v.shape[1], device=v.device, dtype=v.dtype)
        pooled.index_add_(0, crystal, v)
        counts = torch.zeros(n_crystals, device=v.device, dtype=v.dtype)
        counts.index_add_(0, crystal, torch.ones_like(crystal, dtype=v.dtype))
        pooled = pooled / counts.clamp_min(1).unsqueeze(1)
        h = F.softplus(self.conv_to_fc(F.softplus(pooled)))
        return self.fc_out(h)


class ScheduleFreeAdamW:
    """Schedule-Free AdamW, one parameter group (Defazio et al. 2024); parameters hold y."""

    def __init__(self, params, lr, betas, eps, weight_decay, warmup_steps=0, r=0.0, weight_lr_power=2.0):
        self.params = [p for p in params if p.requires_grad]
        self.lr, (self.beta1, self.beta2), self.eps, self.wd = lr, betas, eps, weight_decay
        self.warmup, self.r, self.wlp = warmup_steps, r, weight_lr_power
        self.z = [p.detach().clone() for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.k, self.lr_max, self.weight_sum = 0, 0.0, 0.0

    @torch.no_grad()
    def step(self):
        k = self.k
        lr = self.lr * min(1.0, (k + 1) / self.warmup) if self.warmup else self.lr
        self.lr_max = max(self.lr_max, lr)
        w = (k + 1) ** self.r * self.lr_max**self.wlp
        self.weight_sum += w
        c = w / self.weight_sum if self.weight_sum else 0.0
        ys = [p for p in self.params if p.grad is not None]
        gs = [p.grad for p in ys]
        zs = [z for p, z in zip(self.params, self.z) if p.grad is not None]
        vs = [v for p, v in zip(self.params, self.v) if p.grad is not None]
        torch._foreach_mul_(vs, self.beta2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - self.beta2)
        denom = torch._foreach_div(vs, 1 - self.beta2 ** (k + 1))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, self.eps)
        ghat = torch._foreach_div(gs, denom)
        if self.wd:
            torch._foreach_add_(ghat, ys, alpha=self.wd)
        # y + c (z - y), with z before its update (as _foreach_mul_/add_: older torch lacks lerp).
        torch._foreach_mul_(ys, 1 - c)
        torch._foreach_add_(ys, zs, alpha=c)
        torch._foreach_add_(ys, ghat, alpha=lr * (self.beta1 * (1 - c) - 1))
        torch._foreach_add_(zs, ghat, alpha=-lr)
        self.k = k + 1

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--json", action="store_true", help="print one JSON line last")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--variant", choices=["concat", "split"], default="concat")
    ap.add_argument("--resident", action="store_true", help="keep the batches on the device")
    ap.add_argument("--models", default="cgcnn,facgcnn")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("torch.cuda is not available")
    torch.manual_seed(0)
    header, table, batches = load(args.file)
    s = header["settings"]
    g = s["gaussian"]
    table = table.to(dev)
    mu = (g["start"] + g["step"] * torch.arange(g["count"], dtype=torch.float32)).to(dev)
    inv_sigma2 = 1.0 / (g["sigma"] ** 2)

    keys = ("numbers", "centre", "neighbor", "distance", "crystal", "target", "coords", "rel")
    if cuda and not args.resident:
        for b in batches:
            for k in keys:
                b[k] = b[k].pin_memory()
    elif args.resident:
        for b in batches:
            for k in keys:
                b[k] = b[k].to(dev)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def inputs(b, fa):
        d = {k: b[k].to(dev, non_blocking=True) for k in keys}
        gauss = torch.exp(-((d["distance"].unsqueeze(1) - mu) ** 2) * inv_sigma2)
        node = table[d["numbers"]]
        if fa:
            node = torch.cat([node, d["coords"]], dim=1)
            gauss = torch.cat([gauss, d["rel"]], dim=1)
        return node, gauss, d

    results = {}
    for kind in args.models.split(","):
        fa = kind == "facgcnn"
        model = CrystalGraphNetwork(
            table.shape[1] + (3 if fa else 0),
            g["count"] + (3 if fa else 0),
            s["atomFeaLen"],
            s["hFeaLen"],
            s["nConv"],
            args.variant == "split",
        ).to(dev)
        opt = ScheduleFreeAdamW(
            model.parameters(), s["lr"], tuple(s["betas"]), s["eps"], s["weightDecay"]
        )

        def train_step(b):
            node, edge, d = inputs(b, fa)
            out = model(node, edge, d["centre"], d["neighbor"], d["crystal"], b["nCrystals"])
            loss = F.mse_loss(out.squeeze(1), d["target"])
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss.detach()

        model.train()
        for i in range(s["warmup"]):
            train_step(batches[i % len(batches)])
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        losses = []
        t0 = time.perf_counter()
        for b in batches:
            losses.append(train_step(b))
        sync()
        train_s = time.perf_counter() - t0
        peak_alloc = torch.cuda.max_memory_allocated() if cuda else None
        peak_res = torch.cuda.max_memory_reserved() if cuda else None

        model.eval()
        with torch.inference_mode():
            def infer(b):
                node, edge, d = inputs(b, fa)
                return model(node, edge, d["centre"], d["neighbor"], d["crystal"], b["nCrystals"]).cpu()

            for i in range(s["warmup"]):
                infer(batches[i % len(batches)])
            sync()
            t1 = time.perf_counter()
            for b in batches:
                infer(b)
            sync()
            infer_s = time.perf_counter() - t1

        crystals = sum(b["nCrystals"] for b in batches)
        results[kind] = {
            "train_crystals_per_s": crystals / train_s,
            "infer_crystals_per_s": crystals / infer_s,
            "train_step_ms": 1000 * train_s / len(batches),
            "infer_batch_ms": 1000 * infer_s / len(batches),
            "peak_allocated_bytes": peak_alloc,
            "peak_reserved_bytes": peak_res,
            "losses": [float(x) for x in losses],
        }
        print(
            f"{kind}: train {results[kind]['train_crystals_per_s']:.0f} crystals/s "
            f"({results[kind]['train_step_ms']:.1f} ms/step), inference "
            f"{results[kind]['infer_crystals_per_s']:.0f} crystals/s",
            file=sys.stderr,
        )
        del model, opt
        if cuda:
            torch.cuda.empty_cache()

    device_name = torch.cuda.get_device_name(dev) if cuda else f"cpu ({torch.get_num_threads()} threads)"
    out = {
        "device": device_name,
        "torch_version": torch.__version__,
        "note": (
            f"variant {args.variant}, batches "
            f"{'on the device' if args.resident or not cuda else 'pinned host → device per step'}, "
            "Gaussians on the device, inline SF-AdamW (foreach), no torch.compile"
        ),
        "settings": s,
        "models": results,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
