"""Backward-pass suite kernels of activations and softmax-style ops: SiLU, GELU (tanh), SwiGLU
(two gradients), softmax (row dot of the upstream gradient with the output) and cross-entropy
(mean loss; two passes over the vocabulary with an online max/sum, then the one-hot difference).
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def silu_backward(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile].to(torch.float32)
        s = torch.sigmoid(v)
        out[tile] = (grad[tile].to(torch.float32) * s * (1.0 + v * (1.0 - s))).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def gelu_backward(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile].to(torch.float32)
        t = torch.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))
        d_inner = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v)
        d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner
        out[tile] = (grad[tile].to(torch.float32) * d).to(x.dtype)
    return out


@helion.kernel(static_shapes=True)
def swiglu_backward(grad: torch.Tensor, gate: torch.Tensor,
                    up: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # out = silu(gate) * up: two outputs from one pass over three inputs.
    d_gate = torch.empty_like(gate)
    d_up = torch.empty_like(up)
    for tile in hl.tile(gate.size()):
        g = gate[tile].to(torch.float32)
        dy = grad[tile].to(torch.float32)
        s = torch.sigmoid(g)
        d_up[tile] = (dy * g * s).to(up.dtype)
        d_gate[tile] = (dy * up[tile].to(torch.float32) * s * (1.0 + g * (1.0 - s))).to(gate.dtype)
    return d_gate, d_up


@helion.kernel(static_shapes=True)
def softmax_backward(grad: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # dx = y * (dy - sum(dy * y)) per row, y the softmax output.
    m, _ = y.size()
    out = torch.empty_like(y)
    for tile_m in hl.tile(m):
        dy = grad[tile_m, :].to(torch.float32)
        yv = y[tile_m, :].to(torch.float32)
        dot = torch.sum(dy * yv, dim=-1, keepdim=True)
        out[tile_m, :] = (yv * (dy - dot)).to(y.dtype)
    return out


@helion.kernel(static_shapes=True)
def cross_entropy_backward(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # d(mean CE)/d logits = (softmax - onehot) / N, vocabulary tiled: pass 1 online max/sum,
    # pass 2 writes the gradient (Liger-style, never holding a whole row).
    n, v = logits.size()
    grad = torch.empty_like(logits)
    inv_n = 1.0 / n
    for tile_n in hl.tile(n):
        target = labels[tile_n]
        m_i = hl.full([tile_n], float("-inf"), dtype=torch.float32)
        l_i = hl.zeros([tile_n], dtype=torch.float32)
        for tile_v in hl.tile(v):
            x = logits[tile_n, tile_v].to(torch.float32)
            m_new = torch.maximum(m_i, torch.amax(x, dim=-1))
            l_i = l_i * torch.exp(m_i - m_new) + torch.sum(torch.exp(x - m_new[:, None]), dim=-1)
            m_i = m_new
        for tile_v in hl.tile(v):
            x = logits[tile_n, tile_v].to(torch.float32)
            p = torch.exp(x - m_i[:, None]) / l_i[:, None]
            onehot = (tile_v.index[None, :] == target[:, None]).to(torch.float32)
            grad[tile_n, tile_v] = ((p - onehot) * inv_n).to(logits.dtype)
    return grad


# -- references ---------------------------------------------------------------------------------
def silu_backward_ref(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    v = x.float()
    s = torch.sigmoid(v)
    return (grad.float() * s * (1 + v * (1 - s))).to(x.dtype)


def gelu_backward_ref(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    v = x.float().requires_grad_(True)
    y = torch.nn.functional.gelu(v, approximate="tanh")
    (dx,) = torch.autograd.grad(y, v, grad.float())
    return dx.to(x.dtype)


def swiglu_backward_ref(grad: torch.Tensor, gate: torch.Tensor,
                        up: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    g = gate.float().requires_grad_(True)
    u = up.float().requires_grad_(True)
    dg, du = torch.autograd.grad(torch.nn.functional.silu(g) * u, (g, u), grad.float())
    return dg.to(gate.dtype), du.to(up.dtype)


def softmax_backward_ref(grad: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    yv = y.float()
    return (yv * (grad.float() - (grad.float() * yv).sum(-1, keepdim=True))).to(y.dtype)


def cross_entropy_backward_ref(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    x = logits.float().requires_grad_(True)
    (dx,) = torch.autograd.grad(torch.nn.functional.cross_entropy(x, labels), x)
    return dx.to(logits.dtype)
