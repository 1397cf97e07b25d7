"""Families of the row/column-reduction kernels: softmax and norm backward passes, norms,
losses, statistics and scans."""

from __future__ import annotations

import torch

from .. import backward as bw
from .. import norm_backward as nb
from .. import norms as nm
from .. import scans as sc
from .. import softmax_losses as sl
from .. import statistics as st
from ..base import BF16
from ..base import F16
from ..base import F32
from ..base import Shape
from ..base import family
from ..base import randn
from .elementwise import same_shape


def _softmax_bwd_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N)
    y = torch.softmax(torch.randn(shape, device=device), dim=-1).to(dtype)
    return randn(shape, dtype, device), y


def _labels_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, V)
    n, v = shape
    return randn((n, v), dtype, device), torch.randint(0, v, (n,), dtype=torch.int64, device=device)


def _rows_weight(n_params: int):
    def make(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N): x, dy, params [N]
        m, n = shape
        return (randn((m, n), dtype, device), randn((m, n), dtype, device),
                *(randn((n,), dtype, device) for _ in range(n_params)))

    return make


def _dwb_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N)
    x = randn(shape, dtype, device)
    var, mean = torch.var_mean(x.float(), dim=-1, correction=0)
    return randn(shape, dtype, device), x, mean, torch.rsqrt(var + 1e-5)


def _add_rms_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N)
    m, n = shape
    return randn((m, n), dtype, device), randn((m, n), dtype, device), randn((n,), dtype, device)


def _group_norm_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, C, HW, G)
    n, c, hw, g = shape
    return (randn((n, c, hw), dtype, device), randn((g, c // g), dtype, device),
            randn((g, c // g), dtype, device))


def _two_log_probs(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, V)
    return tuple(torch.log_softmax(torch.randn(shape, device=device), dim=-1).to(dtype)
                 for _ in range(2))


def _kl_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, V)
    log_q = torch.log_softmax(torch.randn(shape, device=device), dim=-1).to(dtype)
    return log_q, torch.softmax(torch.randn(shape, device=device), dim=-1).to(dtype)


def _topk_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (M, N, k)
    m, n, k = shape
    # k rides on the length of an int8 tensor (not floating: no dummy data to check).
    return randn((m, n), dtype, device), torch.zeros((k,), dtype=torch.int8, device=device)


def _focal_args(shape: Shape, dtype: torch.dtype, device: str) -> tuple:  # (N, C)
    targets = (torch.rand(shape, device=device) < 0.1).to(dtype)  # sparse positives
    return randn(shape, dtype, device), targets


# -- shapes -------------------------------------------------------------------------------------
_SOFTMAX = ((1, 32000), (256, 32000), (1024, 32000), (32, 128256), (4096, 4096), (1000, 3000),
            (2048, 11008), (16384, 1024), (8192, 512), (64, 65536))
_SOFTMAX_ONLINE = ((300, 32000), (8192, 2048))
_VOCAB = ((1, 32000), (64, 32000), (512, 32000), (4096, 32000), (16, 128256), (256, 128256),
          (1024, 128256), (1000, 50257), (4097, 32000), (2048, 65536))
_VOCAB_ONLINE = ((2000, 32000), (512, 151936))
_NORM = ((1, 4096), (128, 4096), (2048, 4096), (4096, 8192), (16384, 4096), (4097, 11008),
         (1000, 3000), (256, 14336), (12544, 768), (65536, 1024))
_NORM_ONLINE = ((8192, 4096), (3072, 12288))
# (N, C, HW, groups): SD-UNet / ResNet GroupNorm(32) activations.
_GROUP_NORM = ((1, 64, 3136, 32), (8, 128, 3136, 32), (16, 256, 784, 32), (32, 512, 196, 32),
               (4, 320, 4096, 32), (2, 640, 1024, 32), (8, 1280, 256, 32), (64, 64, 1024, 32),
               (1, 960, 4096, 32), (16, 96, 3025, 32))
_GROUP_NORM_ONLINE = ((4, 512, 1024, 32), (8, 192, 784, 32))
_EMBED_ROWS = ((1, 768), (128, 1024), (4096, 768), (16384, 1024), (65536, 256), (1000, 3000),
               (2048, 4096), (8192, 128), (4097, 1536), (32768, 512))
_EMBED_ROWS_ONLINE = ((10000, 768), (2048, 2048))
_SCORES = ((32, 512), (8, 1024), (64, 128), (16, 2048), (4, 4096), (128, 197), (12, 4097),
           (96, 256), (48, 1000), (2, 8192))  # (B*H, S): a [B*H, S, S] score tensor
_SCORES_ONLINE = ((16, 1536), (40, 300))
_DETECTION = ((1024, 80), (16384, 80), (65536, 80), (100000, 91), (8192, 1000), (4096, 21843),
              (256, 1203), (32768, 365), (1000, 3000), (2048, 128))
_DETECTION_ONLINE = ((50000, 80), (4000, 1203))
_ROWS = ((1, 4096), (32, 4096), (1000, 3000), (4096, 4096), (4097, 8192), (16384, 4096),
         (2048, 11008), (8192, 1000), (128, 32000), (256, 65536))
_ROWS_ONLINE = ((1024, 14336), (3000, 4000))
_ARGMAX = ((1, 32000), (8, 128256), (64, 32000), (256, 50257), (1024, 32000), (32, 151936),
           (4096, 4096), (1000, 3000), (128, 65536), (2048, 128256))
_ARGMAX_ONLINE = ((16, 128256), (512, 32000))
# (rows, candidates, k): top-k sampling over vocabularies, MoE top-k over experts.
_TOPK = ((1, 32000, 50), (64, 32000, 50), (256, 128256, 40), (1024, 32000, 8), (8192, 64, 6),
         (16384, 8, 2), (4096, 128, 8), (32, 151936, 20), (1000, 3000, 10), (2048, 256, 8))
_TOPK_ONLINE = ((512, 50257, 50), (4096, 160, 6))
_SCAN = ((1, 4096), (32, 4096), (1000, 3000), (4096, 4096), (4097, 1024), (16384, 512),
         (2048, 2048), (8192, 128), (256, 32000), (64, 65536))
_SCAN_ONLINE = ((1024, 8192), (3000, 1000))
_SEQ = ((1, 4096, 128), (8, 2048, 256), (32, 512, 1024), (4, 8192, 64), (16, 1024, 768),
        (2, 4097, 512), (64, 256, 256), (1, 32768, 64), (8, 1000, 300), (128, 128, 1024))
_SEQ_ONLINE = ((4, 2048, 512), (12, 777, 384))

_T = ((8, 40),)
_T_VOCAB = ((8, 50),)
FAMILIES = (
    # softmax / cross-entropy backward
    family("softmax_backward_bf16", bw.softmax_backward, _softmax_bwd_args,
           bw.softmax_backward_ref, _SOFTMAX, _SOFTMAX_ONLINE, _T, BF16),
    family("softmax_backward_fp32", bw.softmax_backward, _softmax_bwd_args,
           bw.softmax_backward_ref, _SOFTMAX, _SOFTMAX_ONLINE, _T, F32),
    family("cross_entropy_backward_bf16", bw.cross_entropy_backward, _labels_args,
           bw.cross_entropy_backward_ref, _VOCAB, _VOCAB_ONLINE, _T_VOCAB, BF16),
    family("cross_entropy_backward_fp32", bw.cross_entropy_backward, _labels_args,
           bw.cross_entropy_backward_ref, _VOCAB, _VOCAB_ONLINE, _T_VOCAB, F32),
    # norm backward
    family("layer_norm_backward_dx_bf16", nb.layer_norm_backward_dx, _rows_weight(1),
           nb.layer_norm_backward_dx_ref, _NORM, _NORM_ONLINE, _T, BF16),
    family("layer_norm_backward_dx_fp32", nb.layer_norm_backward_dx, _rows_weight(1),
           nb.layer_norm_backward_dx_ref, _NORM, _NORM_ONLINE, _T, F32),
    family("rms_norm_backward_dx_bf16", nb.rms_norm_backward_dx, _rows_weight(1),
           nb.rms_norm_backward_dx_ref, _NORM, _NORM_ONLINE, _T, BF16),
    family("rms_norm_backward_dx_fp16", nb.rms_norm_backward_dx, _rows_weight(1),
           nb.rms_norm_backward_dx_ref, _NORM, _NORM_ONLINE, _T, F16),
    family("layer_norm_backward_dwb_bf16", nb.layer_norm_backward_dwb, _dwb_args,
           nb.layer_norm_backward_dwb_ref, _NORM, _NORM_ONLINE, ((40, 24),), BF16),
    # norms
    family("fused_add_rms_norm_bf16", nm.fused_add_rms_norm, _add_rms_args,
           nm.fused_add_rms_norm_ref, _NORM, _NORM_ONLINE, _T, BF16),
    family("fused_add_rms_norm_fp16", nm.fused_add_rms_norm, _add_rms_args,
           nm.fused_add_rms_norm_ref, _NORM, _NORM_ONLINE, _T, F16),
    family("group_norm_bf16", nm.group_norm, _group_norm_args, nm.group_norm_ref, _GROUP_NORM,
           _GROUP_NORM_ONLINE, ((2, 8, 12, 4),), BF16),
    family("l2_normalize_fp32", nm.l2_normalize, same_shape(1), nm.l2_normalize_ref, _EMBED_ROWS,
           _EMBED_ROWS_ONLINE, _T, F32),
    family("l2_normalize_bf16", nm.l2_normalize, same_shape(1), nm.l2_normalize_ref, _EMBED_ROWS,
           _EMBED_ROWS_ONLINE, _T, BF16),
    # softmax variants and losses
    family("logsumexp_fp32", sl.logsumexp, same_shape(1), sl.logsumexp_ref, _SOFTMAX,
           _SOFTMAX_ONLINE, _T, F32),
    family("logsumexp_bf16", sl.logsumexp, same_shape(1), sl.logsumexp_ref, _SOFTMAX,
           _SOFTMAX_ONLINE, _T, BF16),
    family("causal_softmax_bf16", sl.causal_softmax,
           lambda shape, dtype, device: (randn((shape[0], shape[1], shape[1]), dtype, device),),
           sl.causal_softmax_ref, _SCORES, _SCORES_ONLINE, ((2, 40),), BF16),
    family("kl_div_bf16", sl.kl_div, _kl_args, sl.kl_div_ref, _VOCAB, _VOCAB_ONLINE, _T_VOCAB,
           BF16),
    family("kl_div_fp32", sl.kl_div, _kl_args, sl.kl_div_ref, _VOCAB, _VOCAB_ONLINE, _T_VOCAB,
           F32),
    family("jsd_bf16", sl.jsd, _two_log_probs, sl.jsd_ref, _VOCAB, _VOCAB_ONLINE, _T_VOCAB, BF16),
    family("focal_loss_fp32", sl.focal_loss, _focal_args, sl.focal_loss_ref, _DETECTION,
           _DETECTION_ONLINE, ((8, 20),), F32),
    # statistics
    family("row_var_fp32", st.row_var, same_shape(1), st.row_var_ref, _ROWS, _ROWS_ONLINE, _T,
           F32),
    family("row_var_bf16", st.row_var, same_shape(1), st.row_var_ref, _ROWS, _ROWS_ONLINE, _T,
           BF16),
    family("welford_fp32", st.welford, same_shape(1), st.welford_ref, _ROWS, _ROWS_ONLINE,
           ((8, 70),), F32),
    family("row_argmax_bf16", st.row_argmax, same_shape(1), st.row_argmax_ref, _ARGMAX,
           _ARGMAX_ONLINE, _T_VOCAB, BF16),
    family("row_argmax_fp32", st.row_argmax, same_shape(1), st.row_argmax_ref, _ARGMAX,
           _ARGMAX_ONLINE, _T_VOCAB, F32),
    # fp32 only: bf16 rows tie often, and tie order across looped-reduction chunks is not
    # something the suite should test.
    family("row_topk_fp32", st.row_topk, _topk_args, st.row_topk_ref, _TOPK, _TOPK_ONLINE,
           ((8, 50, 4),), F32),
    # scans
    family("cumsum_fp32", sc.cumsum, same_shape(1), sc.cumsum_ref, _SCAN, _SCAN_ONLINE, _T, F32),
    family("cumsum_bf16", sc.cumsum, same_shape(1), sc.cumsum_ref, _SCAN, _SCAN_ONLINE, _T, BF16,
           tol=(2e-2, 5e-2)),
    family("seq_cumsum_fp32", sc.seq_cumsum, same_shape(1), sc.seq_cumsum_ref, _SEQ, _SEQ_ONLINE,
           ((2, 12, 24),), F32),
    family("cummax_fp32", sc.cummax, same_shape(1), sc.cummax_ref, _SCAN, _SCAN_ONLINE, _T, F32),
)
