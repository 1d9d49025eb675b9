"""Channel-wise topology refinement graph convolution (CTR-GC), two implementations of one function.

Source: Chen, Zhang, Yuan, Li, Deng, Hu, "Channel-wise Topology Refinement Graph Convolution for
Skeleton-Based Action Recognition", ICCV 2021 (arXiv 2107.12213), Sec. 3.3 "Channel-wise Topology
Refinement Graph Convolution". Written from the paper; no code taken from its repository.

For each of the K adjacency subsets k (identity, inward, outward), with input x (N, C_in, T, V):

* correlation modelling:  x1 = mean_T(phi_k(x)),  x2 = mean_T(psi_k(x))          (N, R, V)
                          M_k[n, r, u, v] = tanh(x1[n, r, u] - x2[n, r, v])       (N, R, V, V)
* channel-wise topology:  Q_k = xi_k(M_k)       (1x1 conv R -> C_out)             (N, C_out, V, V)
* refinement:             R_k = A_k + alpha * Q_k   (A_k shared, trainable)
* feature transformation: x3_k = T_k(x)         (1x1 conv C_in -> C_out)          (N, C_out, T, V)
* channel-wise aggregation: Z = sum_k sum_v R_k[n, c, u, v] * x3_k[n, c, t, v]    (N, C_out, T, V)

:func:`ctrgc_reference` computes this the direct way (per subset, 1x1 convolutions, an (N, C, V, V)
map per subset, an einsum) and is kept as the ground truth for the tests. :func:`ctrgc_fast`
computes the same function with fewer, larger kernels; see its docstring for the algebra used.
Both take the same :class:`CTRGCParams`, so one checkpoint runs under either implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMPLEMENTATIONS = ("fast", "reference")


@dataclass(frozen=True)
class CTRGCParams:
    """The parameter tensors of one CTR-GC layer (shapes for K subsets, R relation channels).

    Attributes:
        weight_a: (K, R, C_in) phi (first correlation branch), bias_a: (K, R).
        weight_b: (K, R, C_in) psi (second correlation branch), bias_b: (K, R).
        weight_c: (K, C_out, R) xi (relation -> channel map), bias_c: (K, C_out).
        weight_d: (K, C_out, C_in) feature transformation T, bias_d: (K, C_out).
        alpha: (1,) refinement scale (shared by all subsets).
        adjacency: (K, V, V) shared topology A_k (row u aggregates from column v).
    """

    weight_a: Tensor
    bias_a: Tensor
    weight_b: Tensor
    bias_b: Tensor
    weight_c: Tensor
    bias_c: Tensor
    weight_d: Tensor
    bias_d: Tensor
    alpha: Tensor
    adjacency: Tensor


def ctrgc_reference(x: Tensor, p: CTRGCParams) -> Tensor:
    """CTR-GC written the direct way (paper Sec. 3.3): the ground truth for :func:`ctrgc_fast`.

    Args:
        x: (N, C_in, T, V) input features.
        p: the layer's parameters.

    Returns:
        (N, C_out, T, V): sum over subsets of the channel-wise aggregation.
    """
    num_subsets = p.adjacency.shape[0]
    out: Tensor | None = None
    for k in range(num_subsets):
        x1 = F.conv2d(x, p.weight_a[k][:, :, None, None], p.bias_a[k]).mean(2)  # (N, R, V)
        x2 = F.conv2d(x, p.weight_b[k][:, :, None, None], p.bias_b[k]).mean(2)  # (N, R, V)
        m = torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))  # (N, R, V, V)
        q = F.conv2d(m, p.weight_c[k][:, :, None, None], p.bias_c[k])  # (N, C_out, V, V)
        refined = p.alpha * q + p.adjacency[k]  # (N, C_out, V, V)
        x3 = F.conv2d(x, p.weight_d[k][:, :, None, None], p.bias_d[k])  # (N, C_out, T, V)
        z = torch.einsum("ncuv,nctv->nctu", refined, x3)  # (N, C_out, T, V)
        out = z if out is None else out + z
    assert out is not None
    return out


# Work is done per chunk of the batch small enough to stay in the CPU caches: several whole samples when
# one sample's (C_out, V, V) refined maps fit, else one sample and a block of output channels. Bytes per
# chunk by element size, tuned on a 2-core Xeon with AMX (2 MiB L2 per core; bench/bench_ctrgc.py):
# float32/float64 4 MiB, bf16/fp16 8 MiB (their GEMMs favour larger tiles). On GPU the batch is one chunk.
CPU_CHUNK_BYTES = {8: 1 << 22, 4: 1 << 22, 2: 1 << 23}


def _plan(n: int, c: int, v: int, dtype: torch.dtype, device: torch.device) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Sample ranges and output-channel blocks of the chunked loop.

    Either several samples with all channels (then every slice below is a view), or one sample with
    channel blocks; never both, so no slice needs a copy.
    """
    if device.type != "cpu":
        return [(0, n)], [(0, c)]
    size = torch.empty((), dtype=dtype).element_size()
    elems = CPU_CHUNK_BYTES.get(size, 1 << 22) // size  # elements of refined maps per chunk
    per_sample = c * v * v
    if per_sample <= elems:
        nb = max(1, elems // per_sample)
        return [(i, min(n, i + nb)) for i in range(0, n, nb)], [(0, c)]
    cb = max(1, elems // (v * v))
    return [(i, i + 1) for i in range(n)], [(c0, min(c, c0 + cb)) for c0 in range(0, c, cb)]


def _left(w: Tensor, mats: Tensor) -> Tensor:
    """w (P, Q) @ mats (nb, Q, S) -> (nb, P, S); a plain GEMM for one matrix (matmul's 2-D x 3-D
    broadcast copies its operands, which cost more than the product here)."""
    if mats.shape[0] == 1:
        return torch.mm(w, mats[0]).unsqueeze(0)
    return torch.bmm(w.unsqueeze(0).expand(mats.shape[0], *w.shape), mats)


class _FusedCTRGC(torch.autograd.Function):
    """The CTR-GC layer after the correlation vectors, with a hand-written backward (see :func:`ctrgc_fast`).

    Inputs (compute dtype ``x.dtype`` for the big tensors; the small parameters in their own dtype):
        x: (N, C_in, T, V); a, b: (K, N, R, V) correlation vectors phi(mean_T x), psi(mean_T x);
        wd: (K, C, C_in), bd: (K, C) feature transformation T_k; w_aug: (K, C, R+1) = [alpha W_c | alpha b_c];
        adj: (K, V, V) shared topologies A_k.
    Output: (N, C, T, V).
    """

    @staticmethod
    def forward(ctx, x: Tensor, a: Tensor, b: Tensor, wd: Tensor, bd: Tensor, w_aug: Tensor, adj: Tensor) -> Tensor:  # type: ignore[override]
        n, c_in, t, v = x.shape
        k_sub, c, r1 = w_aug.shape
        r = r1 - 1
        dt, dev = x.dtype, x.device
        wd_, bd_, w_, adj_ = wd.to(dt), bd.to(dt), w_aug.to(dt), adj.to(dt)
        xf = x.reshape(n, c_in, t * v)  # (N, C_in, T*V)
        # feature transformation, all samples at once: x3[k, n] = W_d,k x[n] + b_d,k
        x3 = torch.empty(k_sub, n, c, t * v, dtype=dt, device=dev)  # (K, N, C, T*V)
        for k in range(k_sub):
            torch.bmm(wd_[k].expand(n, c, c_in), xf, out=x3[k])
        x3.add_(bd_.view(k_sub, 1, c, 1))
        # shared topology part as K large GEMMs over all (n, c, t) rows: out = sum_k x3_k A_k^T
        out = torch.empty(n, c, t, v, dtype=dt, device=dev)  # (N, C, T, U)
        o2 = out.view(n * c * t, v)
        for k in range(k_sub):
            xk2 = x3[k].view(n * c * t, v)
            if k == 0:
                torch.mm(xk2, adj_[k].t(), out=o2)
            else:
                o2.addmm_(xk2, adj_[k].t())
        # M_k (with a row of ones that carries alpha b_c), built and used chunk by chunk, kept for backward
        m = torch.empty(k_sub, n, r1, v, v, dtype=dt, device=dev)  # (K, N, R+1, U, V)
        m[:, :, r] = 1.0
        samples, blocks = _plan(n, c, v, dt, dev)
        for n0, n1 in samples:
            nb = n1 - n0
            for k in range(k_sub):
                mt = m[k, n0:n1, :r]  # (nb, R, U, V)
                torch.sub(a[k, n0:n1].unsqueeze(-1), b[k, n0:n1].unsqueeze(-2), out=mt)
                mt.tanh_()
                mflat = m[k, n0:n1].view(nb, r1, v * v)
                for c0, c1 in blocks:
                    cb = c1 - c0
                    q = _left(w_[k, c0:c1], mflat).view(nb * cb, v, v)  # (nb*cb, U, V) alpha Q_k + alpha b_c
                    xk = x3[k, n0:n1, c0:c1].reshape(nb * cb, t, v)  # a view (see _plan)
                    out[n0:n1, c0:c1].view(nb * cb, t, v).baddbmm_(xk, q.transpose(1, 2))
        ctx.save_for_backward(x, x3, m, wd, w_aug, adj)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        x, x3, m, wd, w_aug, adj = ctx.saved_tensors
        n, c_in, t, v = x.shape
        k_sub, c, r1 = w_aug.shape
        r = r1 - 1
        dt, dev = x.dtype, x.device
        wd_, w_, adj_ = wd.to(dt), w_aug.to(dt), adj.to(dt)
        g = g.to(dt).contiguous()  # (N, C, T, U)
        xf = x.reshape(n, c_in, t * v)
        g2 = g.view(n * c * t, v)
        gx3 = torch.empty_like(x3)  # (K, N, C, T*V)
        grad_adj = torch.empty(adj.shape, dtype=torch.promote_types(adj.dtype, torch.float32), device=dev)
        for k in range(k_sub):
            torch.mm(g2, adj_[k], out=gx3[k].view(n * c * t, v))
            grad_adj[k] = torch.mm(g2.t(), x3[k].view(n * c * t, v))  # (U, V)
        grad_a = torch.empty(k_sub, n, r, v, dtype=dt, device=dev)
        grad_b = torch.empty_like(grad_a)
        # small weight gradients accumulate in float32 (or float64) across chunks, whatever dt is
        grad_w = torch.zeros(w_aug.shape, dtype=torch.promote_types(w_aug.dtype, torch.float32), device=dev)
        samples, blocks = _plan(n, c, v, dt, dev)
        for n0, n1 in samples:
            nb = n1 - n0
            for k in range(k_sub):
                mflat = m[k, n0:n1].view(nb, r1, v * v)  # (nb, R+1, U*V)
                gm: Tensor | None = None
                for c0, c1 in blocks:
                    cb = c1 - c0
                    q = _left(w_[k, c0:c1], mflat).view(nb * cb, v, v)  # rebuilt, (nb*cb, U, V)
                    gb = g[n0:n1, c0:c1].reshape(nb * cb, t, v)  # (nb*cb, T, U)
                    xk = x3[k, n0:n1, c0:c1].reshape(nb * cb, t, v)  # (nb*cb, T, V)
                    # out[t, u] = sum_v x[t, v] q[u, v]  =>  dx = g q,  dq = g^T x
                    gx3[k, n0:n1, c0:c1].view(nb * cb, t, v).baddbmm_(gb, q)
                    gq = torch.bmm(gb.transpose(1, 2), xk).view(nb, cb, v * v)  # (nb, cb, U*V)
                    grad_w[k, c0:c1] += torch.bmm(gq, mflat.transpose(1, 2)).sum(0)  # (cb, R+1)
                    part = _left(w_[k, c0:c1, :r].t(), gq)  # (nb, R, U*V)
                    gm = part if gm is None else gm.add_(part)
                assert gm is not None
                gp = torch.ops.aten.tanh_backward(gm, mflat[:, :r]).view(nb, r, v, v)  # d/d(a_u - b_v)
                torch.sum(gp, -1, out=grad_a[k, n0:n1])
                torch.sum(gp, -2, out=grad_b[k, n0:n1])
        grad_b.neg_()
        grad_bd = gx3.sum((1, 3))  # (K, C)
        grad_wd = torch.empty(wd.shape, dtype=torch.promote_types(wd.dtype, torch.float32), device=dev)
        grad_x: Tensor | None = None
        for k in range(k_sub):
            grad_wd[k] = torch.bmm(gx3[k], xf.transpose(1, 2)).sum(0)  # (C, C_in)
            wt = wd_[k].t().expand(n, c_in, c)
            grad_x = torch.bmm(wt, gx3[k]) if grad_x is None else grad_x.baddbmm_(wt, gx3[k])
        assert grad_x is not None
        return (
            grad_x.view(n, c_in, t, v),
            grad_a,
            grad_b,
            grad_wd.to(wd.dtype),
            grad_bd.to(wd.dtype),
            grad_w.to(w_aug.dtype),
            grad_adj.to(adj.dtype),
        )


def ctrgc_fast(x: Tensor, p: CTRGCParams) -> Tensor:
    """CTR-GC (paper Sec. 3.3), the same function as :func:`ctrgc_reference` computed with less memory traffic.

    What changes (all exact algebra, no approximation):

    * ``mean_T`` commutes with a 1x1 convolution, so phi and psi of all K subsets run as ONE linear
      map on the time-pooled input (N, C_in, V) instead of 2K convolutions over (N, C_in, T, V).
    * the refinement splits: R_k = A_k + alpha b_c + alpha W_c M_k. The shared part A_k needs no
      per-sample map at all: sum_v A_k[u, v] x3_k[., v] is K large GEMMs over all N*C*T rows. The
      bias alpha b_c rides in the xi GEMM as a row of ones appended to M_k (inner dimension R+1).
    * the per-sample part, alpha W_c M_k, (N, C_out, V, V) per subset and the dominant memory cost of
      the direct form, is never stored: it is built chunk by chunk (a few whole samples, or one sample
      and a block of channels, sized to the CPU caches; the whole batch on GPU), used at once by a
      batched matmul, and rebuilt in the backward pass, which is written by hand (a custom autograd
      function) so that the tanh derivative and the reductions to d a, d b also run on the in-cache
      chunk. The tests check outputs and every gradient against autograd through the reference.
    * under autocast the layer runs in the autocast dtype (bf16 on CPUs with AVX512-BF16/AMX);
      its small weight gradients are accumulated in float32.

    Contracting xi after the V-sum (sum_r W[c, r] sum_v M[r, u, v] x3[c, t, v]) is exact too but costs
    R*C*T*V^2 multiply-adds against C*(R+T)*V^2 here, so it is not used. When tracing (ONNX/TorchScript
    export) the reference formulation is recorded instead: same function, plain traceable ops.

    Args:
        x: (N, C_in, T, V) input features.
        p: the layer's parameters.

    Returns:
        (N, C_out, T, V), in the autocast dtype under autocast, else in x's dtype.
    """
    if torch.jit.is_tracing():
        return ctrgc_reference(x, p)
    n, c_in, t, v = x.shape
    k_sub, c_out, r = p.weight_c.shape
    device = x.device.type
    dt = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
    with torch.autocast(device, enabled=False):
        xd = x.to(dt).contiguous()
        pooled = xd.mean(2)  # (N, C_in, V)
        w_ab = torch.cat([p.weight_a, p.weight_b], 0).reshape(2 * k_sub * r, c_in).to(dt)  # (2KR, C_in)
        b_ab = torch.cat([p.bias_a, p.bias_b], 0).reshape(2 * k_sub * r, 1).to(dt)  # (2KR, 1)
        ab = torch.matmul(w_ab, pooled) + b_ab  # (N, 2KR, V)
        ab = ab.reshape(n, 2, k_sub, r, v).permute(1, 2, 0, 3, 4).contiguous()  # (2, K, N, R, V)
        w_aug = torch.cat([p.alpha * p.weight_c, (p.alpha * p.bias_c).unsqueeze(-1)], -1)  # (K, C_out, R+1)
        return _FusedCTRGC.apply(xd, ab[0], ab[1], p.weight_d, p.bias_d, w_aug, p.adjacency)


def relation_channels(in_channels: int, reduction: int = 8, minimum: int = 8) -> int:
    """R, the width of the correlation branches: C_in / reduction, at least ``minimum`` (3-channel input)."""
    return max(in_channels // reduction, minimum)


class CTRGC(nn.Module):
    """One CTR-GC layer over K adjacency subsets (paper Sec. 3.3); ``impl`` picks the kernel.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        adjacency: (K, V, V) initial shared topologies A_k.
        learn_adjacency: A_k trainable (as in CTR-GCN) or a fixed buffer.
        rel_reduction: R = max(C_in // rel_reduction, 8).
        impl: "fast" (:func:`ctrgc_fast`) or "reference" (:func:`ctrgc_reference`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: Tensor,
        learn_adjacency: bool = True,
        rel_reduction: int = 8,
        impl: str = "fast",
    ) -> None:
        super().__init__()
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"unknown CTR-GC implementation {impl!r}; choose one of {IMPLEMENTATIONS}")
        if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
            raise ValueError(f"adjacency must be (K, V, V), got {tuple(adjacency.shape)}")
        self.impl = impl
        k_sub = adjacency.shape[0]
        r = relation_channels(in_channels, rel_reduction)
        self.in_channels, self.out_channels, self.rel_channels = in_channels, out_channels, r
        self.weight_a = nn.Parameter(torch.empty(k_sub, r, in_channels))
        self.bias_a = nn.Parameter(torch.zeros(k_sub, r))
        self.weight_b = nn.Parameter(torch.empty(k_sub, r, in_channels))
        self.bias_b = nn.Parameter(torch.zeros(k_sub, r))
        self.weight_c = nn.Parameter(torch.empty(k_sub, out_channels, r))
        self.bias_c = nn.Parameter(torch.zeros(k_sub, out_channels))
        self.weight_d = nn.Parameter(torch.empty(k_sub, out_channels, in_channels))
        self.bias_d = nn.Parameter(torch.zeros(k_sub, out_channels))
        self.alpha = nn.Parameter(torch.zeros(1))  # starts at A_k alone, refinement learned
        adj = adjacency.detach().clone().float()
        if learn_adjacency:
            self.adjacency = nn.Parameter(adj)
        else:
            self.register_buffer("adjacency", adj)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan-out) 1x1 conv weights, zero biases, alpha = 0."""
        for w in (self.weight_a, self.weight_b, self.weight_c, self.weight_d):
            fan_out = w.shape[1]  # a 1x1 conv's fan-out is its number of output channels
            nn.init.normal_(w, 0.0, math.sqrt(2.0 / fan_out))
        for b in (self.bias_a, self.bias_b, self.bias_c, self.bias_d):
            nn.init.zeros_(b)
        nn.init.zeros_(self.alpha)

    def params(self) -> CTRGCParams:
        """The parameter tensors as one :class:`CTRGCParams`."""
        return CTRGCParams(
            self.weight_a,
            self.bias_a,
            self.weight_b,
            self.bias_b,
            self.weight_c,
            self.bias_c,
            self.weight_d,
            self.bias_d,
            self.alpha,
            self.adjacency,
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, T, V) -> (N, C_out, T, V)."""
        fn = ctrgc_fast if self.impl == "fast" else ctrgc_reference
        return fn(x, self.params())

    def extra_repr(self) -> str:
        k, v = self.adjacency.shape[0], self.adjacency.shape[1]
        return (
            f"{self.in_channels}->{self.out_channels}, R={self.rel_channels}, K={k}, V={v}, impl={self.impl}"
        )
