"""PyTorch peer for `crsc bench`: the same BERT-base-shaped classifier
(embeddings, 12 post-LN encoder layers with exact GELU, pooler, classifier),
timed for one training step (forward + cross-entropy + backward, no optimizer)
on the CPU with the same threads. Prints one JSON line like `crsc bench --json`.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/torch_bert_step.py --batch 8 --seq 128
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
        x = s.ln(s.word(ids) + s.tok_type(types) + s.pos(torch.arange(t))[None])
        m = (1.0 - mask[:, None, None, :].float()) * -10000.0
        for layer in s.layers:
            x = layer(x, m)
        return s.cls(torch.tanh(s.pool(x[:, 0])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", default="train")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(a.threads)
    model = Bert()
    ids = torch.randint(0, 30522, (a.batch, a.seq))
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    labels = torch.arange(a.batch) % 2
    times = []
    for step in range(a.steps + 1):
        start = time.perf_counter()
        if a.mode == "train":
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(ids, mask, types), labels).backward()
        else:
            with torch.no_grad():
                model(ids, mask, types)
        if step > 0:
            times.append(time.perf_counter() - start)
    times.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peer": "pytorch " + torch.__version__, "mode": a.mode, "batch": a.batch, "seq": a.seq,
                      "threads": a.threads, "median_ms": times[len(times) // 2] * 1000, "peak_rss_bytes": peak}))


if __name__ == "__main__":
    main()
