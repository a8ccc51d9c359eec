# PyTorch counterpart of scripts/bench-train.ts: the same GPT shape (pre-norm blocks, GELU MLP, tied
# embeddings, Switch top-1 MoE every `moe.every` layers, AdamW), CPU, random tokens. Prints training
# tokens/s only. Usage: bench_train_torch.py CONFIG_JSON ROWS STEPS   (CONFIG_JSON = a resolved ModelConfig)
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

c = json.loads(sys.argv[1]); rows = int(sys.argv[2]); steps = int(sys.argv[3])
d, T, V = c['dModel'], c['blockSize'], c['vocabSize']
torch.manual_seed(0)

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
    def forward(self, x):
        B, T_, _ = x.shape; H = c['nHead']
        q, k, v = self.attn(self.ln1(x)).split(d, -1)
        q, k, v = (t.view(B, T_, H, d // H).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T_, d)
        x = x + self.proj(a)
        return x + self.mlp(self.ln2(x))

every = c['moe']['every']
blocks = nn.ModuleList(Block(every > 0 and (i + 1) % every == 0) for i in range(c['nLayer']))
wte = nn.Embedding(V, d); wpe = nn.Embedding(T, d); lnf = nn.LayerNorm(d)
params = [*wte.parameters(), *wpe.parameters(), *lnf.parameters(), *blocks.parameters()]
opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)

def step():
    ids = torch.randint(0, V, (rows, T)); tgt = torch.randint(0, V, (rows, T))
    x = wte(ids) + wpe(torch.arange(T))
    for b in blocks: x = b(x)
    loss = F.cross_entropy((lnf(x) @ wte.weight.T).view(-1, V), tgt.view(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step()

step()
t0 = time.perf_counter()
for _ in range(steps): step()
print(rows * T * steps / (time.perf_counter() - t0))
