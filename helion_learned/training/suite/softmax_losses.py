"""Softmax and loss suite kernels: softmax (2-D and batched 3-D), log-softmax, cross-entropy,
logsumexp, causal (masked) softmax with a looped online max/sum, KL divergence,
Jensen-Shannon divergence and sigmoid focal loss (per-row losses, reduction over the vocabulary
or class axis).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def softmax(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        out[tile_n, :] = torch.nn.functional.softmax(x[tile_n, :], dim=1)
    return out

@helion.kernel(static_shapes=True)
def batch_softmax(x: torch.Tensor) -> torch.Tensor:
    b, m, _ = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_m in hl.tile([b, m]):
        out[tile_b, tile_m, :] = torch.nn.functional.softmax(x[tile_b, tile_m, :], dim=-1)
    return out

@helion.kernel(static_shapes=True)
def log_softmax(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        shifted = v - torch.amax(v, dim=-1, keepdim=True)
        lse = torch.log(torch.sum(torch.exp(shifted), dim=-1, keepdim=True))
        out[tile_m, :] = (shifted - lse).to(x.dtype)
    return out

@helion.kernel(static_shapes=True)
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # Per-row loss (reduction="none"); the target logit is a gather through a flat view.
    n, v = logits.size()
    losses = torch.empty([n], dtype=torch.float32, device=logits.device)
    logits_flat = logits.view(-1)
    for tile_n in hl.tile(n):
        flat_idx = tile_n.index * v + labels[tile_n]
        target = hl.load(logits_flat, [flat_idx]).to(torch.float32)
        rows = logits[tile_n, :].to(torch.float32)
        row_max = torch.amax(rows, dim=-1, keepdim=True)
        sum_exp = torch.sum(torch.exp(rows - row_max), dim=-1)
        losses[tile_n] = row_max.squeeze(-1) + torch.log(sum_exp) - target
    return losses


@helion.kernel(static_shapes=True)
def logsumexp(x: torch.Tensor) -> torch.Tensor:
    m, _ = x.size()
    out = torch.empty([m], dtype=torch.float32, device=x.device)
    for tile_m in hl.tile(m):
        v = x[tile_m, :].to(torch.float32)
        row_max = torch.amax(v, dim=-1, keepdim=True)
        out[tile_m] = (row_max + torch.log(torch.sum(torch.exp(v - row_max), dim=-1,
                                                      keepdim=True))).squeeze(-1)
    return out


@helion.kernel(static_shapes=True)
def causal_softmax(x: torch.Tensor) -> torch.Tensor:
    # x [B, S, S] attention scores; key j > query i is masked. Two passes over key tiles
    # (online max/sum, then normalize) instead of a full-row slice.
    b, s, _ = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_m in hl.tile([b, s]):
        m_i = hl.full([tile_b, tile_m], float("-inf"), dtype=torch.float32)
        l_i = hl.zeros([tile_b, tile_m], dtype=torch.float32)
        for tile_n in hl.tile(s):
            keep = (tile_n.index[None, :] <= tile_m.index[:, None])[None, :, :]
            v = torch.where(keep, x[tile_b, tile_m, tile_n].to(torch.float32), float("-inf"))
            m_new = torch.maximum(m_i, torch.amax(v, dim=-1))
            l_i = l_i * torch.exp(m_i - m_new) + torch.sum(torch.exp(v - m_new[:, :, None]), dim=-1)
            m_i = m_new
        for tile_n in hl.tile(s):
            keep = (tile_n.index[None, :] <= tile_m.index[:, None])[None, :, :]
            v = torch.where(keep, x[tile_b, tile_m, tile_n].to(torch.float32), float("-inf"))
            out[tile_b, tile_m, tile_n] = (torch.exp(v - m_i[:, :, None])
                                           / l_i[:, :, None]).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def kl_div(log_q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    # Per-row KL(p || q) from log-probabilities of q (distillation losses).
    m, _ = p.size()
    out = torch.empty([m], dtype=torch.float32, device=p.device)
    for tile_m in hl.tile(m):
        pv = p[tile_m, :].to(torch.float32)
        terms = torch.where(pv > 0, pv * (torch.log(pv) - log_q[tile_m, :].to(torch.float32)), 0.0)
        out[tile_m] = torch.sum(terms, dim=-1)
    return out


@helion.kernel(static_shapes=True)
def jsd(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    # Per-row Jensen-Shannon divergence (beta = 0.5) of two log-probability rows.
    m, _ = log_p.size()
    out = torch.empty([m], dtype=torch.float32, device=log_p.device)
    for tile_m in hl.tile(m):
        lp = log_p[tile_m, :].to(torch.float32)
        lq = log_q[tile_m, :].to(torch.float32)
        pv = torch.exp(lp)
        qv = torch.exp(lq)
        log_mix = torch.log(0.5 * (pv + qv))
        out[tile_m] = 0.5 * torch.sum(pv * (lp - log_mix) + qv * (lq - log_mix), dim=-1)
    return out


@helion.kernel(static_shapes=True)
def focal_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # Sigmoid focal loss (alpha 0.25, gamma 2) per element, averaged over classes per row.
    m, _ = logits.size()
    out = torch.empty([m], dtype=torch.float32, device=logits.device)
    for tile_m in hl.tile(m):
        x = logits[tile_m, :].to(torch.float32)
        t = targets[tile_m, :].to(torch.float32)
        p = torch.sigmoid(x)
        ce = torch.clamp(x, min=0.0) - x * t + torch.log(1.0 + torch.exp(-torch.abs(x)))
        p_t = p * t + (1.0 - p) * (1.0 - t)
        alpha_t = 0.25 * t + 0.75 * (1.0 - t)
        out[tile_m] = torch.mean(alpha_t * ce * (1.0 - p_t) * (1.0 - p_t), dim=-1)
    return out


# -- references ---------------------------------------------------------------------------------
def softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x.float(), dim=-1).to(x.dtype)

def log_softmax_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(x.float(), dim=-1).to(x.dtype)

def cross_entropy_ref(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")


def logsumexp_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(x.float(), dim=-1)


def causal_softmax_ref(x: torch.Tensor) -> torch.Tensor:
    s = x.size(-1)
    mask = torch.ones(s, s, dtype=torch.bool, device=x.device).tril()
    return torch.softmax(x.float().masked_fill(~mask, float("-inf")), dim=-1).to(x.dtype)


def kl_div_ref(log_q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.kl_div(log_q.float(), p.float(), reduction="none").sum(-1)


def jsd_ref(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    lp, lq = log_p.float(), log_q.float()
    log_mix = torch.log(0.5 * (lp.exp() + lq.exp()))
    return 0.5 * (lp.exp() * (lp - log_mix) + lq.exp() * (lq - log_mix)).sum(-1)


def focal_loss_ref(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    x, t = logits.float(), targets.float()
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    alpha_t = 0.25 * t + 0.75 * (1 - t)
    return (alpha_t * ce * (1 - p_t) ** 2).mean(-1)
