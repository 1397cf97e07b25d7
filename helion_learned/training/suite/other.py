"""Other suite kernels: attention (non-causal, online softmax), rotary embedding, embedding
lookup and concatenation along the last dim.
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
def rotary_embedding(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x [T, H, D], cos/sin [T, D/2] (fp32); NeoX-style rotate-half over the two halves of D.
    t, h, d = x.size()
    half = d // 2
    x_view = x.reshape([t, h, 2, half])
    out = torch.empty_like(x)
    out_view = out.view([t, h, 2, half])
    for tile_t, tile_h in hl.tile([t, h]):
        x1 = x_view[tile_t, tile_h, 0, :].to(torch.float32)
        x2 = x_view[tile_t, tile_h, 1, :].to(torch.float32)
        c = cos[tile_t, :][:, None, :]
        s = sin[tile_t, :][:, None, :]
        out_view[tile_t, tile_h, 0, :] = (x1 * c - x2 * s).to(x.dtype)
        out_view[tile_t, tile_h, 1, :] = (x2 * c + x1 * s).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def embedding(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    (t,) = ids.size()
    _, dim = weight.size()
    out = torch.empty([t, dim], dtype=weight.dtype, device=weight.device)
    for tile_t, tile_d in hl.tile([t, dim]):
        out[tile_t, tile_d] = weight[ids[tile_t], tile_d]
    return out


@helion.kernel(static_shapes=True)
def concat(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # torch.cat([x, y], dim=-1) for 2-D inputs; the column tile straddles both sources.
    m, n1 = x.size()
    _, n2 = y.size()
    out = torch.empty([m, n1 + n2], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile(out.size()):
        cols = tile_n.index
        in_x = (cols < n1)[None, :]
        x_part = hl.load(x, [tile_m, tile_n], extra_mask=in_x)
        y_part = hl.load(y, [tile_m, cols - n1], extra_mask=(cols >= n1)[None, :])
        out[tile_m, tile_n] = torch.where(in_x, x_part, y_part)
    return out


# -- references ---------------------------------------------------------------------------------
def attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(q.float(), k.float(), v.float()).to(q.dtype)


def rotary_embedding_ref(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.size(-1) // 2
    v = x.float()
    x1, x2 = v[..., :half], v[..., half:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).to(x.dtype)


def embedding_ref(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.embedding(ids, weight)


def concat_ref(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, y], dim=-1)
