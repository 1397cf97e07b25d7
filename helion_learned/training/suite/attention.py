"""Attention suite kernels: non-causal flash attention (online softmax), causal flash attention
(key tiles masked against the query tile) and single-query decode attention over a KV cache
(a GEMV-shaped online softmax: no dot, one query row per batch-head), and the FlashAttention-2
backward pass as its two kernels: dK/dV (a grid over key tiles looping over queries) and dQ (a
grid over query tiles looping over keys), both recomputing P from the saved logsumexp.
"""

from __future__ import annotations

import math

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def attention(q_in: torch.Tensor, k_in: torch.Tensor, v_in: torch.Tensor) -> torch.Tensor:
    # [B, H, S, D] flash-style attention, adapted from Helion's examples/attention.py.
    m_dim = q_in.size(-2)
    n_dim = k_in.size(-2)
    head_dim = hl.specialize(q_in.size(-1))
    q_view = q_in.reshape([-1, m_dim, head_dim])
    k_view = k_in.reshape([-1, n_dim, head_dim])
    v_view = v_in.reshape([-1, n_dim, head_dim])
    out = torch.empty_like(q_view)
    qk_scale = 1.0 / math.sqrt(head_dim) * 1.44269504  # fold 1/ln(2) in: exp2 below
    for tile_b, tile_m in hl.tile([q_view.size(0), m_dim]):
        m_i = hl.full([tile_b, tile_m], float("-inf"), dtype=torch.float32)
        l_i = hl.zeros([tile_b, tile_m], dtype=torch.float32)
        acc = hl.zeros([tile_b, tile_m, head_dim], dtype=torch.float32)
        q = q_view[tile_b, tile_m, :]
        for tile_n in hl.tile(v_view.size(1)):
            k = k_view[tile_b, tile_n, :]
            qk = hl.dot(q, k.transpose(1, 2), out_dtype=torch.float32) * qk_scale
            m_ij = torch.maximum(m_i, torch.amax(qk, -1))
            p = torch.exp2(qk - m_ij[:, :, None])
            alpha = torch.exp2(m_i - m_ij)
            l_i = l_i * alpha + torch.sum(p, -1)
            acc = acc * alpha[:, :, None]
            v = v_view[tile_b, tile_n, :]
            acc = torch.baddbmm(acc, p.to(v.dtype), v)
            m_i = m_ij
        acc = acc / l_i[:, :, None]
        out[tile_b, tile_m, :] = acc.to(out.dtype)
    return out.view(q_in.size())


@helion.kernel(static_shapes=True)
def causal_attention(q_in: torch.Tensor, k_in: torch.Tensor, v_in: torch.Tensor) -> torch.Tensor:
    # [B, H, S, D] causal attention; key positions after the query are masked to -inf.
    m_dim = q_in.size(-2)
    n_dim = k_in.size(-2)
    head_dim = hl.specialize(q_in.size(-1))
    q_view = q_in.reshape([-1, m_dim, head_dim])
    k_view = k_in.reshape([-1, n_dim, head_dim])
    v_view = v_in.reshape([-1, n_dim, head_dim])
    out = torch.empty_like(q_view)
    qk_scale = 1.0 / math.sqrt(head_dim) * 1.44269504  # exp2 below
    for tile_b, tile_m in hl.tile([q_view.size(0), m_dim]):
        m_i = hl.full([tile_b, tile_m], float("-inf"), dtype=torch.float32)
        l_i = hl.zeros([tile_b, tile_m], dtype=torch.float32)
        acc = hl.zeros([tile_b, tile_m, head_dim], dtype=torch.float32)
        q = q_view[tile_b, tile_m, :]
        for tile_n in hl.tile(n_dim):
            k = k_view[tile_b, tile_n, :]
            qk = hl.dot(q, k.transpose(1, 2), out_dtype=torch.float32) * qk_scale
            causal = (tile_n.index[None, :] <= tile_m.index[:, None])[None, :, :]
            qk = torch.where(causal, qk, float("-inf"))
            m_ij = torch.maximum(m_i, torch.amax(qk, -1))
            p = torch.exp2(qk - m_ij[:, :, None])
            alpha = torch.exp2(m_i - m_ij)
            l_i = l_i * alpha + torch.sum(p, -1)
            acc = acc * alpha[:, :, None]
            v = v_view[tile_b, tile_n, :]
            acc = torch.baddbmm(acc, p.to(v.dtype), v)
            m_i = m_ij
        acc = acc / l_i[:, :, None]
        out[tile_b, tile_m, :] = acc.to(out.dtype)
    return out.view(q_in.size())


@helion.kernel(static_shapes=True)
def decode_attention(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor) -> torch.Tensor:
    # q [B, H, D] (one new token), caches [B, H, S, D]: scores are row-vector products.
    b, h, d = q.size()
    s = k_cache.size(2)
    head_dim = hl.specialize(d)
    q_view = q.reshape([b * h, head_dim])
    k_view = k_cache.reshape([b * h, s, head_dim])
    v_view = v_cache.reshape([b * h, s, head_dim])
    out = torch.empty_like(q_view)
    scale = 1.0 / math.sqrt(head_dim)
    for tile_bh in hl.tile(b * h):
        qv = q_view[tile_bh, :].to(torch.float32)
        m_i = hl.full([tile_bh], float("-inf"), dtype=torch.float32)
        l_i = hl.zeros([tile_bh], dtype=torch.float32)
        acc = hl.zeros([tile_bh, head_dim], dtype=torch.float32)
        for tile_s in hl.tile(s):
            k = k_view[tile_bh, tile_s, :].to(torch.float32)
            scores = torch.sum(qv[:, None, :] * k, dim=-1) * scale
            m_new = torch.maximum(m_i, torch.amax(scores, dim=-1))
            p = torch.exp(scores - m_new[:, None])
            alpha = torch.exp(m_i - m_new)
            l_i = l_i * alpha + torch.sum(p, dim=-1)
            v = v_view[tile_bh, tile_s, :].to(torch.float32)
            acc = acc * alpha[:, None] + torch.sum(p[:, :, None] * v, dim=1)
            m_i = m_new
        out[tile_bh, :] = (acc / l_i[:, None]).to(q.dtype)
    return out.view(b, h, d)


@helion.kernel(static_shapes=True)
def attention_backward_dkdv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                            d_out: torch.Tensor, lse: torch.Tensor,
                            delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # q, k, v, d_out [BH, S, D]; lse (forward logsumexp of the scaled scores) and
    # delta = rowsum(d_out * out) are [BH, S] fp32. Non-causal.
    bh, s, d = q.size()
    head_dim = hl.specialize(d)
    dk = torch.empty_like(k)
    dv = torch.empty_like(v)
    scale = 1.0 / math.sqrt(head_dim)
    for tile_b, tile_n in hl.tile([bh, s]):
        k_t = k[tile_b, tile_n, :]
        v_t = v[tile_b, tile_n, :]
        dk_acc = hl.zeros([tile_b, tile_n, head_dim], dtype=torch.float32)
        dv_acc = hl.zeros([tile_b, tile_n, head_dim], dtype=torch.float32)
        for tile_m in hl.tile(s):
            q_t = q[tile_b, tile_m, :]
            do_t = d_out[tile_b, tile_m, :]
            qk = hl.dot(q_t, k_t.transpose(1, 2), out_dtype=torch.float32) * scale
            p = torch.exp(qk - lse[tile_b, tile_m][:, :, None])
            dv_acc = torch.baddbmm(dv_acc, p.transpose(1, 2).to(do_t.dtype), do_t)
            dp = hl.dot(do_t, v_t.transpose(1, 2), out_dtype=torch.float32)
            ds = p * (dp - delta[tile_b, tile_m][:, :, None])
            dk_acc = torch.baddbmm(dk_acc, ds.transpose(1, 2).to(q_t.dtype), q_t)
        dk[tile_b, tile_n, :] = (dk_acc * scale).to(k.dtype)
        dv[tile_b, tile_n, :] = dv_acc.to(v.dtype)
    return dk, dv


@helion.kernel(static_shapes=True)
def attention_backward_dq(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, d_out: torch.Tensor,
                          lse: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    bh, s, d = q.size()
    head_dim = hl.specialize(d)
    dq = torch.empty_like(q)
    scale = 1.0 / math.sqrt(head_dim)
    for tile_b, tile_m in hl.tile([bh, s]):
        q_t = q[tile_b, tile_m, :]
        do_t = d_out[tile_b, tile_m, :]
        lse_t = lse[tile_b, tile_m][:, :, None]
        delta_t = delta[tile_b, tile_m][:, :, None]
        dq_acc = hl.zeros([tile_b, tile_m, head_dim], dtype=torch.float32)
        for tile_n in hl.tile(s):
            k_t = k[tile_b, tile_n, :]
            qk = hl.dot(q_t, k_t.transpose(1, 2), out_dtype=torch.float32) * scale
            p = torch.exp(qk - lse_t)
            dp = hl.dot(do_t, v[tile_b, tile_n, :].transpose(1, 2), out_dtype=torch.float32)
            ds = p * (dp - delta_t)
            dq_acc = torch.baddbmm(dq_acc, ds.to(k_t.dtype), k_t)
        dq[tile_b, tile_m, :] = (dq_acc * scale).to(q.dtype)
    return dq


# -- references ---------------------------------------------------------------------------------
def attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(q.float(), k.float(), v.float()).to(q.dtype)


def causal_attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(
        q.float(), k.float(), v.float(), is_causal=True).to(q.dtype)


def decode_attention_ref(q: torch.Tensor, k_cache: torch.Tensor,
                         v_cache: torch.Tensor) -> torch.Tensor:
    out = torch.nn.functional.scaled_dot_product_attention(
        q.float()[:, :, None, :], k_cache.float(), v_cache.float())
    return out[:, :, 0, :].to(q.dtype)


def _attention_grads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     d_out: torch.Tensor) -> tuple[torch.Tensor, ...]:
    qf, kf, vf = (t.float().requires_grad_(True) for t in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(qf, kf, vf)
    return torch.autograd.grad(out, (qf, kf, vf), d_out.float())


def attention_backward_dkdv_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                d_out: torch.Tensor, lse: torch.Tensor,
                                delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    _, dk, dv = _attention_grads(q, k, v, d_out)
    return dk.to(k.dtype), dv.to(v.dtype)


def attention_backward_dq_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                              d_out: torch.Tensor, lse: torch.Tensor,
                              delta: torch.Tensor) -> torch.Tensor:
    dq, _, _ = _attention_grads(q, k, v, d_out)
    return dq.to(q.dtype)
