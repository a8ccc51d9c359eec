# Independent PyTorch reference for hyperlm's training step (test/train-torch-parity.test.ts): the dense GPT
# of src/model (pre-norm blocks, GPT-NeoX rotate-half rotary or learned positions, tanh GELU, LayerNorm
# eps from the config, tied or untied head, weights stored [in, out]) written functionally over hyperlm's
# parameter names, trained with torch.optim.AdamW + clip_grad_norm_ on batches dumped from hyperlm's loader.
# After nanoGPT's model.py/train.py; differs in taking its weights, batches and schedule from hyperlm, and
# in computing the loss as Σ w·nll / Σ w (CM3 sentinel weights). Dense models only (no MoE, no dropout).
# Usage: torch_train.py CASE_DIR [--steps N] [--double] [--grads-out FILE] [--threads N]
#   CASE_DIR holds config.json (a RunConfig), init.safetensors (F32) and batches.bin + batches.json.
# Prints one JSON line per step: {"step": 1, "loss": ..., "gradNorm": ..., "lr": ...}.
import argparse, json, math, struct, sys
import torch
import torch.nn.functional as F


def read_safetensors(path, dtype):
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        if h['dtype'] != 'F32':
            sys.exit(f'{path}: {name} is {h["dtype"]}, expected F32')
        s, e = h['data_offsets']
        t = torch.frombuffer(bytearray(raw[base + s:base + e]), dtype=torch.float32).reshape(h['shape'])
        out[name] = t.to(dtype).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def read_batches(case):
    meta = json.load(open(f'{case}/batches.json'))
    B, T, n = meta['rows'], meta['blockSize'], meta['count']
    raw = open(f'{case}/batches.bin', 'rb').read()
    per = B * T * 4
    out = []
    for i in range(n):
        o = i * 3 * per
        ids = torch.frombuffer(bytearray(raw[o:o + per]), dtype=torch.int32).reshape(B, T).long()
        tgt = torch.frombuffer(bytearray(raw[o + per:o + 2 * per]), dtype=torch.int32).reshape(B, T).long()
        w = torch.frombuffer(bytearray(raw[o + 2 * per:o + 3 * per]), dtype=torch.float32).reshape(B, T)
        out.append((ids, tgt, w))
    return out


class Reference:
    def __init__(self, c, P, dtype):
        self.c, self.P, self.dtype = c, P, dtype
        d, H = c['dModel'], c['nHead']
        self.hd = d // H
        if c['moe']['every'] > 0 or c['dropout'] > 0:
            sys.exit('torch_train.py covers dense models without dropout')

    def ln(self, x, prefix):
        return F.layer_norm(x, (x.shape[-1],), self.P[prefix + '.weight'], self.P[prefix + '.bias'], self.c['normEps'])

    def rope(self, x):  # x: [B, H, T, hd]; rotate half: [x1, x2] -> [-x2, x1]
        T, hd = x.shape[2], self.hd
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        full = torch.cat([ang, ang], -1)
        cos, sin = full.cos().to(self.dtype), full.sin().to(self.dtype)
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def loss(self, ids, tgt, w):
        c, P = self.c, self.P
        B, T = ids.shape
        d, H, hd = c['dModel'], c['nHead'], self.hd
        x = F.embedding(ids, P['transformer.wte.weight'])
        if c['positions'] == 'learned':
            x = x + P['transformer.wpe.weight'][:T][None]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        for i in range(c['nLayer']):
            p = f'transformer.h.{i}'
            h = self.ln(x, p + '.ln_1')
            qkv = h @ P[p + '.attn.c_attn.weight'] + P[p + '.attn.c_attn.bias']
            q, k, v = (t.reshape(B, T, H, hd).transpose(1, 2) for t in qkv.split(d, -1))
            if c['positions'] == 'rotary':
                q, k = self.rope(q), self.rope(k)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            att = att.masked_fill(~causal, float('-inf')).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, d)
            x = x + y @ P[p + '.attn.c_proj.weight'] + P[p + '.attn.c_proj.bias']
            h = self.ln(x, p + '.ln_2')
            h = F.gelu(h @ P[p + '.mlp.c_fc.weight'] + P[p + '.mlp.c_fc.bias'], approximate='tanh')
            x = x + h @ P[p + '.mlp.c_proj.weight'] + P[p + '.mlp.c_proj.bias']
        x = self.ln(x, 'transformer.ln_f')
        head = P['transformer.wte.weight'] if c['tieEmbeddings'] else P['lm_head.weight']
        logits = x @ head.T
        nll = F.cross_entropy(logits.reshape(B * T, -1), tgt.reshape(-1), reduction='none')
        wf = w.reshape(-1).to(self.dtype)
        return (nll * wf).sum() / torch.clamp(wf.sum(), min=1e-9)


def lr_at(step, total, o):  # 0-based step: linear warmup to lr, cosine to minLr (nanoGPT's get_lr)
    if o['warmupSteps'] > 0 and step < o['warmupSteps']:
        return o['lr'] * (step + 1) / o['warmupSteps']
    progress = min(1.0, (step - o['warmupSteps']) / max(1, total - o['warmupSteps']))
    return o['minLr'] + 0.5 * (1 + math.cos(math.pi * progress)) * (o['lr'] - o['minLr'])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('case')
    ap.add_argument('--steps', type=int, default=None, help='optimizer steps (default: every dumped batch)')
    ap.add_argument('--double', action='store_true', help='float64 throughout (a tighter reference for gradients)')
    ap.add_argument('--grads-out', default=None, help='write the first step\'s gradients (before clipping) here')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.double else torch.float32
    run = json.load(open(f'{a.case}/config.json'))
    c, tc = run['model'], run['train']
    o = tc['optim']
    P = read_safetensors(f'{a.case}/init.safetensors', dtype)
    for t in P.values():
        t.requires_grad_(True)
    ref = Reference(c, P, dtype)
    batches = read_batches(a.case)
    steps = a.steps if a.steps is not None else len(batches)
    # hyperlm's decay rule (src/train/optimizer.ts `decays`): matrices only, not the token/position tables
    decay = [t for n, t in P.items() if t.dim() >= 2 and not (n.endswith('.wte.weight') or n.endswith('.wpe.weight'))]
    rest = [t for n, t in P.items() if not (t.dim() >= 2 and not (n.endswith('.wte.weight') or n.endswith('.wpe.weight')))]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': o['weightDecay']}, {'params': rest, 'weight_decay': 0.0}],
                            lr=o['lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'])
    params = list(P.values())
    for s in range(steps):
        ids, tgt, w = batches[s]
        for g in opt.param_groups:
            g['lr'] = lr_at(s, tc['steps'], o)
        opt.zero_grad(set_to_none=True)
        loss = ref.loss(ids, tgt, w)
        loss.backward()
        if s == 0 and a.grads_out:
            write_safetensors(a.grads_out, {n: t.grad for n, t in P.items()})
        norm = math.sqrt(sum(float((t.grad.double() ** 2).sum()) for t in params))
        if o['clipNorm'] > 0 and norm > o['clipNorm']:
            for t in params:
                t.grad.mul_(o['clipNorm'] / norm)
        opt.step()
        print(json.dumps({'step': s + 1, 'loss': float(loss), 'gradNorm': norm, 'lr': lr_at(s, tc['steps'], o)}), flush=True)


if __name__ == '__main__':
    main()
