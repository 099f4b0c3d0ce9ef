"""PyTorch peer for `crsc bench`: the same BERT-base-shaped classifier
(embeddings, 12 post-LN encoder layers with exact GELU, pooler, classifier),
timed for one training step (forward + cross-entropy + backward, no optimizer)
on the CPU with the same threads, or on a GPU (--device cuda: plain FP32, TF32
off, as crsc computes; peak = torch.cuda.max_memory_allocated). Prints one JSON
line like `crsc bench --json`. --max-batch searches the largest batch that
fits on the GPU (doubling, then bisecting on out-of-memory).

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/torch_bert_step.py --batch 8 --seq 128
    python3 scripts/torch_bert_step.py --device cuda --batch 32 --seq 128 --steps 10
"""
import argparse, json, math, resource, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(s, h, heads, ffn):
        super().__init__()
        s.heads, s.dh = heads, h // heads
        s.q, s.k, s.v, s.o = (nn.Linear(h, h) for _ in range(4))
        s.ln1, s.ln2 = nn.LayerNorm(h, eps=1e-12), nn.LayerNorm(h, eps=1e-12)
        s.i, s.out = nn.Linear(h, ffn), nn.Linear(ffn, h)

    def forward(s, x, mask):
        b, t, h = x.shape
        split = lambda y: y.view(b, t, s.heads, s.dh).transpose(1, 2)
        q, k, v = split(s.q(x)), split(s.k(x)), split(s.v(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(s.dh) + mask, dim=-1)
        ctx = (p @ v).transpose(1, 2).reshape(b, t, h)
        x = s.ln1(s.o(ctx) + x)
        return s.ln2(s.out(F.gelu(s.i(x))) + x)


class Bert(nn.Module):
    def __init__(s, vocab=30522, pos=512, h=768, layers=12, heads=12, ffn=3072, labels=2):
        super().__init__()
        s.word, s.pos, s.tok_type = nn.Embedding(vocab, h), nn.Embedding(pos, h), nn.Embedding(2, h)
        s.ln = nn.LayerNorm(h, eps=1e-12)
        s.layers = nn.ModuleList(Layer(h, heads, ffn) for _ in range(layers))
        s.pool, s.cls = nn.Linear(h, h), nn.Linear(h, labels)

    def forward(s, ids, mask, types):
        t = ids.shape[1]
        x = s.ln(s.word(ids) + s.tok_type(types) + s.pos(torch.arange(t, device=ids.device))[None])
        m = (1.0 - mask[:, None, None, :].float()) * -10000.0
        for layer in s.layers:
            x = layer(x, m)
        return s.cls(torch.tanh(s.pool(x[:, 0])))


def step(model, ids, mask, types, labels, mode):
    if mode == "train":
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids, mask, types), labels).backward()
    else:
        with torch.no_grad():
            model(ids, mask, types)


def inputs(batch, seq, dev):
    ids = torch.randint(0, 30522, (batch, seq), device=dev)
    return ids, torch.ones_like(ids), torch.zeros_like(ids), torch.arange(batch, device=dev) % 2


def fits(model, batch, seq, dev, mode):
    """One step at batch: True if it ran, False on out-of-memory."""
    try:
        step(model, *inputs(batch, seq, dev), mode)
        torch.cuda.synchronize()
        return True
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", default="train")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-batch", action="store_true", help="find the largest batch that fits (GPU)")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = Bert().to(dev)
    if a.max_batch:
        lo, hi = 0, a.batch
        while fits(model, hi, a.seq, dev, a.mode):
            lo, hi = hi, hi * 2
        while hi - lo > max(1, lo // 64):
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(model, mid, a.seq, dev, a.mode) else (lo, mid)
        print(json.dumps({"peer": "pytorch " + torch.__version__, "device": a.device, "mode": a.mode, "seq": a.seq, "max_batch": lo}))
        return
    batch = inputs(a.batch, a.seq, dev)
    times = []
    for i in range(a.steps + 1):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step(model, *batch, a.mode)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i > 0:
            times.append(time.perf_counter() - start)
    times.sort()
    out = {"peer": "pytorch " + torch.__version__, "device": a.device, "mode": a.mode, "batch": a.batch, "seq": a.seq,
           "threads": a.threads, "median_ms": times[len(times) // 2] * 1000,
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if dev.type == "cuda":
        out["device_name"] = torch.cuda.get_device_name()
        out["device_peak_bytes"] = torch.cuda.max_memory_allocated()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
