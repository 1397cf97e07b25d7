"""Recurrence suite kernels: a gated linear recurrence h_t = a_t * h_(t-1) + x_t scanned step by
step over time (state-space / RG-LRU style, channels in the grid) and chunked causal linear
attention (a [D, D] state carried across sequence chunks; the chunk length is the tuned block
size of the sequential loop).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def linear_recurrence(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    # x, a [B, T, D]; a sequential loop over T, the state h lives in registers.
    b, t, d = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_d in hl.tile([b, d]):
        h = hl.zeros([tile_b, tile_d], dtype=torch.float32)
        for step in hl.grid(t):
            h = a[tile_b, step, tile_d].to(torch.float32) * h + x[tile_b, step, tile_d].to(
                torch.float32)
            out[tile_b, step, tile_d] = h.to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def chunked_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # q, k, v [BH, T, D]: out_t = sum_{s <= t} (q_t . k_s) v_s. Per chunk: the inter-chunk part
    # q @ state plus the causal intra-chunk part, then state += k^T v.
    bh, t, d = q.size()
    head_dim = hl.specialize(d)
    out = torch.empty_like(q)
    for tile_b in hl.tile(bh):
        state = hl.zeros([tile_b, head_dim, head_dim], dtype=torch.float32)
        for tile_t in hl.tile(t):
            qc = q[tile_b, tile_t, :]
            kc = k[tile_b, tile_t, :]
            vc = v[tile_b, tile_t, :]
            o = torch.bmm(qc.to(torch.float32), state)
            scores = torch.bmm(qc, kc.transpose(1, 2)).to(torch.float32)
            causal = (tile_t.index[None, :] <= tile_t.index[:, None])[None, :, :]
            scores = torch.where(causal, scores, 0.0)
            o = torch.baddbmm(o, scores.to(vc.dtype), vc)
            state = torch.baddbmm(state, kc.transpose(1, 2), vc)
            out[tile_b, tile_t, :] = o.to(q.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def linear_recurrence_ref(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    h = torch.zeros_like(x[:, 0], dtype=torch.float32)
    outs = []
    for step in range(x.size(1)):
        h = a[:, step].float() * h + x[:, step].float()
        outs.append(h)
    return torch.stack(outs, dim=1).to(x.dtype)


def chunked_linear_attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    scores = q.float() @ k.float().transpose(1, 2)
    t = q.size(1)
    scores = scores * torch.ones(t, t, device=q.device).tril()
    return (scores @ v.float()).to(q.dtype)
