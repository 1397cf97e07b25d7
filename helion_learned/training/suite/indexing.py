"""Indexing suite kernels (indirect loads and stores): embedding lookup, per-row gather
(``torch.gather`` along the last dim), scatter-add of rows (``index_add_``, atomics), jagged
segment sums over sorted segments given by offsets, and mean-pooled embedding bags.
"""

from __future__ import annotations

import helion
import helion.language as hl
import torch


@helion.kernel(static_shapes=True)
def embedding(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    (t,) = ids.size()
    _, dim = weight.size()
    out = torch.empty([t, dim], dtype=weight.dtype, device=weight.device)
    for tile_t, tile_d in hl.tile([t, dim]):
        out[tile_t, tile_d] = weight[ids[tile_t], tile_d]
    return out


@helion.kernel(static_shapes=True)
def gather_cols(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    # out[m, k] = x[m, index[m, k]]: a data-dependent column per element, through a flat view.
    m, n = x.size()
    _, k = index.size()
    out = torch.empty([m, k], dtype=x.dtype, device=x.device)
    x_flat = x.view(-1)
    for tile_m, tile_k in hl.tile([m, k]):
        flat_idx = tile_m.index[:, None] * n + index[tile_m, tile_k]
        out[tile_m, tile_k] = hl.load(x_flat, [flat_idx])
    return out


@helion.kernel(static_shapes=True)
def scatter_add(src: torch.Tensor, index: torch.Tensor, out_rows: torch.Tensor) -> torch.Tensor:
    # out[index[t], :] += src[t, :] (gradient of an embedding lookup); colliding rows need
    # atomics. out_rows is a [V] tensor that only carries the output row count.
    t, d = src.size()
    (v,) = out_rows.size()
    out = torch.zeros([v, d], dtype=torch.float32, device=src.device)
    for tile_t, tile_d in hl.tile([t, d]):
        hl.atomic_add(out, [index[tile_t], tile_d], src[tile_t, tile_d].to(torch.float32))
    return out


@helion.kernel(static_shapes=True)
def segment_sum(data: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    # Jagged rows: segment s is data[offsets[s]:offsets[s + 1]]; each tile of segments loops up
    # to its longest member and masks the rest (TorchRec-style jagged sum).
    _, d = data.size()
    s = offsets.size(0) - 1
    out = torch.empty([s, d], dtype=data.dtype, device=data.device)
    data_flat = data.view(-1)
    for tile_s, tile_d in hl.tile([s, d]):
        starts = offsets[tile_s]
        lengths = offsets[tile_s.index + 1] - starts
        max_len = lengths.amax()
        acc = hl.zeros([tile_s, tile_d], dtype=torch.float32)
        for tile_k in hl.tile(0, max_len):
            rows = starts[:, None] + tile_k.index[None, :]
            flat_idx = rows[:, :, None] * d + tile_d.index[None, None, :]
            valid = (tile_k.index[None, :] < lengths[:, None])[:, :, None] & (
                tile_d.index < d)[None, None, :]
            vals = hl.load(data_flat, [flat_idx], extra_mask=valid)
            acc = acc + torch.sum(vals.to(torch.float32), dim=1)
        out[tile_s, tile_d] = acc.to(data.dtype)
    return out


@helion.kernel(static_shapes=True)
def embedding_bag(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # Mean of a fixed-size bag of embedding rows per sample: ids [B, L], weight [V, D].
    b, bag = ids.size()
    _, d = weight.size()
    out = torch.empty([b, d], dtype=weight.dtype, device=weight.device)
    weight_flat = weight.view(-1)
    for tile_b, tile_d in hl.tile([b, d]):
        acc = hl.zeros([tile_b, tile_d], dtype=torch.float32)
        for tile_l in hl.tile(bag):
            flat_idx = ids[tile_b, tile_l][:, :, None] * d + tile_d.index[None, None, :]
            valid = (tile_d.index < d)[None, None, :] & (tile_l.index < bag)[None, :, None]
            rows = hl.load(weight_flat, [flat_idx], extra_mask=valid)
            acc = acc + torch.sum(rows.to(torch.float32), dim=1)
        out[tile_b, tile_d] = (acc / bag).to(weight.dtype)
    return out


# -- references ---------------------------------------------------------------------------------
def embedding_ref(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.embedding(ids, weight)


def gather_cols_ref(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, 1, index)


def scatter_add_ref(src: torch.Tensor, index: torch.Tensor, out_rows: torch.Tensor) -> torch.Tensor:
    out = torch.zeros(out_rows.size(0), src.size(1), dtype=torch.float32, device=src.device)
    return out.index_add_(0, index, src.float())


def segment_sum_ref(data: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    lengths = (offsets[1:] - offsets[:-1]).long()
    seg = torch.repeat_interleave(torch.arange(lengths.numel(), device=data.device), lengths)
    out = torch.zeros(lengths.numel(), data.size(1), dtype=torch.float32, device=data.device)
    return out.index_add_(0, seg, data[: int(offsets[-1])].float()).to(data.dtype)


def embedding_bag_ref(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.embedding_bag(ids, weight.float(), mode="mean").to(weight.dtype)
