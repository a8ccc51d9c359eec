# PyTorch counterpart of scripts/bench-train.ts: the same GPT shape (pre-norm blocks, rotary attention,
# tanh-GELU MLP, tied embeddings, Switch top-1 MoE every `moe.every` layers, AdamW with global-norm clip),
# CPU, random tokens. Measures training tokens/s (each step timed after WARMUP untimed ones: median and
# range, like bench-train's) and KV-cached greedy decode ms per step for each {ctx, batch} case (a prompt
# of ctx − 64 tokens in `batch` rows, 64 new tokens, the prefill timed apart and subtracted; median of 3). Written for
# PyTorch 1.13 (Debian's python3-torch): attention is spelled out, since F.scaled_dot_product_attention
# arrived in 2.0.
# Usage: bench_train_torch.py CONFIG_JSON ROWS STEPS [THREADS [WARMUP [DECODE_CASES_JSON]]]
# Prints one JSON line: {"tokPerSec", "tokPerSecRange", "cpuPerStep", "decode": [{ctx, batch, ms}], "threads", "torch"}
import json, math, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

c = json.loads(sys.argv[1]); rows = int(sys.argv[2]); steps = int(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 1
cases = json.loads(sys.argv[6]) if len(sys.argv) > 6 else [{'ctx': c['blockSize'], 'batch': 1}]
torch.set_num_threads(threads)
d, T, V, H = c['dModel'], c['blockSize'], c['vocabSize'], c['nHead']
hd = d // H
torch.manual_seed(0)

inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
ang = torch.arange(max([T] + [k['ctx'] for k in cases])).float()[:, None] * inv[None, :]
COS, SIN = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()  # [T, hd]

def rope(x, start):  # x: [B, H, t, hd], GPT-NeoX rotate-half layout like src/model/attention.ts
    t = x.shape[2]; cos, sin = COS[start:start + t], SIN[start:start + t]
    x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin

class Mlp(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(d, c['dFF']); self.proj = nn.Linear(c['dFF'], d)
    def forward(self, x): return self.proj(F.gelu(self.fc(x), approximate='tanh'))

class Switch(nn.Module):
    def __init__(self, E):
        super().__init__(); self.router = nn.Linear(d, E, bias=False); self.experts = nn.ModuleList(Mlp() for _ in range(E))
    def forward(self, x):
        B, T_, _ = x.shape; h = x.reshape(-1, d); p = F.softmax(self.router(h), -1); g, e = p.max(-1)
        y = torch.zeros_like(h)
        for k, ex in enumerate(self.experts):
            idx = (e == k).nonzero(as_tuple=True)[0]
            if idx.numel(): y.index_add_(0, idx, ex(h[idx]) * g[idx, None])
        return y.reshape(B, T_, d)

class Block(nn.Module):
    def __init__(self, moe):
        super().__init__(); self.ln1 = nn.LayerNorm(d); self.ln2 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d); self.proj = nn.Linear(d, d)
        self.mlp = Switch(c['moe']['experts']) if moe else Mlp()
    def forward(self, x, cache=None):
        B, T_, _ = x.shape; start = 0 if cache is None or cache[0] is None else cache[0].shape[2]
        q, k, v = self.attn(self.ln1(x)).split(d, -1)
        q, k, v = (t.view(B, T_, H, hd).transpose(1, 2) for t in (q, k, v))  # [B, H, t, hd]
        q, k = rope(q, start), rope(k, start)
        if cache is not None:
            if cache[0] is not None: k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)  # [B, H, t, S]
        if T_ > 1:
            S = k.shape[2]
            mask = torch.ones(T_, S, dtype=torch.bool).tril(S - T_)
            att = att.masked_fill(~mask, float('-inf'))
        a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T_, d)
        x = x + self.proj(a)
        return x + self.mlp(self.ln2(x))

every = c['moe']['every']
blocks = nn.ModuleList(Block(every > 0 and (i + 1) % every == 0) for i in range(c['nLayer']))
wte = nn.Embedding(V, d); wte.weight.data.normal_(0, 0.02); lnf = nn.LayerNorm(d)
params = [*wte.parameters(), *lnf.parameters(), *blocks.parameters()]
opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)

def logits(ids, caches=None):
    x = wte(ids)
    for i, b in enumerate(blocks): x = b(x, caches[i] if caches else None)
    return lnf(x) @ wte.weight.T

def step():
    ids = torch.randint(0, V, (rows, T)); tgt = torch.randint(0, V, (rows, T))
    loss = F.cross_entropy(logits(ids).view(-1, V), tgt.view(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step()

for _ in range(warmup): step()
walls = []
c0 = time.process_time()
for _ in range(steps):
    t0 = time.perf_counter(); step(); walls.append(time.perf_counter() - t0)
cpu_per_step = (time.process_time() - c0) / steps  # all threads of the process
tok = rows * T
median = sorted(walls)[len(walls) // 2] if len(walls) % 2 else sum(sorted(walls)[len(walls) // 2 - 1:len(walls) // 2 + 1]) / 2

@torch.no_grad()
def decode(new, ctx, batch):
    caches = [[None, None] for _ in blocks]
    prompt = torch.stack([(torch.arange(ctx - 64) * 7 + b).remainder(V) for b in range(batch)])
    nxt = logits(prompt, caches)[:, -1].argmax(-1)
    for _ in range(new - 1): nxt = logits(nxt[:, None], caches)[:, -1].argmax(-1)

def decode_ms(ctx, batch):
    # the median of 3 (prefill, decode) pairs, as the hyperlm side: one noisy prefill shifts every token's share
    decode(2, ctx, batch)
    per = []
    for _ in range(3):
        t0 = time.perf_counter(); decode(1, ctx, batch); prefill = time.perf_counter() - t0
        t0 = time.perf_counter(); decode(64, ctx, batch)
        per.append((time.perf_counter() - t0 - prefill) / 63 * 1000)
    return sorted(per)[1]

print(json.dumps({'tokPerSec': tok / median, 'tokPerSecRange': [tok / max(walls), tok / min(walls)],
                  'cpuPerStep': cpu_per_step, 'decode': [dict(k, ms=decode_ms(k['ctx'], k['batch'])) for k in cases],
                  'threads': threads, 'torch': torch.__version__}))
