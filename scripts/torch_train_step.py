"""PyTorch peer of `crsc train` (scripts/train-vs-torch.sh, gpu-check.sh's
train part): testdata/onnx/gen.py's Hugging-Face-structured
BertForSequenceClassification (Dropout 0.1) at --shape.

--export PATH writes it as a training-mode ONNX model (opset 14, TorchScript
exporter), the file crsc train reads. Otherwise it times full training
steps of the same model — forward, cross-entropy, backward, clipping to norm
1, AdamW — and prints one JSON line: the median ms per step (the first two
left out) and the process's peak RSS.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/torch_train_step.py --batch 8 --seq 128 --threads 2
"""
import argparse, inspect, json, os, resource, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "onnx"))
import torch
import torch.nn.functional as F
import gen  # testdata/onnx/gen.py: HF-like BERT in plain torch

ap = argparse.ArgumentParser()
ap.add_argument("--shape", default="768,12,12,3072", help="hidden,layers,heads,ffn")
ap.add_argument("--export")
ap.add_argument("--device", default="cpu")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--steps", type=int, default=12)
ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
a = ap.parse_args()
h, layers, heads, ffn = map(int, a.shape.split(","))

class Config(gen.BertConfig):
    vocab_size, max_position_embeddings = 30522, 512
    hidden_size, num_hidden_layers, num_attention_heads, intermediate_size = h, layers, heads, ffn

torch.manual_seed(1)
if a.threads > 0:
    torch.set_num_threads(a.threads)
model = gen.BertForSequenceClassification(Config)
names = ["input_ids", "attention_mask", "token_type_ids"]
if a.export:
    ids = torch.randint(5, 500, (2, 16))
    kw = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False  # the TorchScript exporter, as gen.py uses
    model.train()
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), a.export, export_params=True,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False, opset_version=14,
                      input_names=names, output_names=["logits"],
                      dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "logits": {0: "batch"}}, **kw)
    print(json.dumps({"exported": a.export, "params": sum(p.numel() for p in model.parameters()), "bytes": os.path.getsize(a.export)}))
    sys.exit()

dev = torch.device(a.device)
if dev.type == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
model.to(dev).train()
opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
ids = torch.randint(5, 500, (a.batch, a.seq), device=dev)
mask, types, labels = torch.ones_like(ids), torch.zeros_like(ids), torch.arange(a.batch, device=dev) % 2
times = []
for i in range(a.steps):
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(ids, mask, types), labels).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    times.append(time.perf_counter() - start)
steady = sorted(times[2:] or times)
out = {"peer": "pytorch " + torch.__version__, "device": a.device, "batch": a.batch, "seq": a.seq, "steps": a.steps,
       "threads": torch.get_num_threads(), "ms_per_step": steady[len(steady) // 2] * 1000, "first_step_ms": times[0] * 1000,
       "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
if dev.type == "cuda":
    out["device_peak_bytes"] = torch.cuda.max_memory_allocated()
print(json.dumps(out))
