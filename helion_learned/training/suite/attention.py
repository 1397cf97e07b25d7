"""Attention suite kernels: non-causal flash attention (online softmax), causal flash attention
(key tiles masked against the query tile) and single-query decode attention over a KV cache
(a GEMV-shaped online softmax: no dot, one query row per batch-head).
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
