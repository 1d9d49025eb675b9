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


# Per block of output channels, the (block, N, V, V) refined maps are built, used and dropped; this many
# elements (~8 MiB in float32) keeps them cache-resident on CPU. On GPU all channels form one block.
CPU_CHUNK_ELEMENTS = 1 << 21


def _channel_block(c_out: int, n: int, v: int, device: torch.device) -> int:
    if device.type != "cpu" or torch.jit.is_tracing():
        return c_out
    return max(1, min(c_out, CPU_CHUNK_ELEMENTS // max(1, n * v * v)))


def _aggregate_forward(m: Tensor, x3: Tensor, w_c: Tensor, shift: Tensor, block: int) -> Tensor:
    """Channel-wise aggregation with the refined topologies built on the fly, channel block by block.

    Args:
        m: (K, R, N, V, V) correlation maps tanh(x1_u - x2_v).
        x3: (K, C, N, T, V) transformed features.
        w_c: (K, C, R) alpha * xi weight.
        shift: (K, C, V*V) alpha * xi bias + A_k.
        block: output channels per block.

    Returns:
        (C, N, T, V): sum_k sum_v (shift_k + w_c,k M_k)[c, n, u, v] * x3_k[c, n, t, v].
    """
    k_sub, r, n, v, _ = m.shape
    c, t = x3.shape[1], x3.shape[3]
    outs = []
    for c0 in range(0, c, block):
        cb = min(block, c - c0)
        out: Tensor | None = None
        for k in range(k_sub):
            refined = torch.mm(w_c[k, c0 : c0 + cb], m[k].reshape(r, n * v * v))  # (cb, N*V*V)
            refined = (refined.reshape(cb, n, v * v) + shift[k, c0 : c0 + cb].unsqueeze(1)).reshape(
                cb * n, v, v
            )  # (cb*N, U, V)
            xk = x3[k, c0 : c0 + cb].reshape(cb * n, t, v)  # (cb*N, T, V)
            if out is None:
                out = torch.bmm(xk, refined.transpose(1, 2))  # (cb*N, T, U)
            else:
                out = torch.baddbmm(out, xk, refined.transpose(1, 2))  # (cb*N, T, U)
        assert out is not None
        outs.append(out.reshape(cb, n, t, v))  # (cb, N, T, V)
    return outs[0] if len(outs) == 1 else torch.cat(outs, 0)


class _Aggregate(torch.autograd.Function):
    """:func:`_aggregate_forward` with a backward that rebuilds the refined maps block by block,
    so neither pass stores (K, C, N, V, V) tensors."""

    @staticmethod
    def forward(ctx, m: Tensor, x3: Tensor, w_c: Tensor, shift: Tensor, block: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(m, x3, w_c, shift)
        ctx.block = block
        return _aggregate_forward(m, x3, w_c, shift, block)

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        m, x3, w_c, shift = ctx.saved_tensors
        block = ctx.block
        k_sub, r, n, v, _ = m.shape
        c, t = x3.shape[1], x3.shape[3]
        grad_out = grad_out.contiguous()  # (C, N, T, U)
        grad_m = torch.zeros_like(m, memory_format=torch.contiguous_format)  # (K, R, N, V, V)
        grad_x3 = torch.empty_like(x3, memory_format=torch.contiguous_format)  # (K, C, N, T, V)
        grad_w = torch.empty_like(w_c, memory_format=torch.contiguous_format)  # (K, C, R)
        grad_shift = torch.empty_like(shift, memory_format=torch.contiguous_format)  # (K, C, V*V)
        for c0 in range(0, c, block):
            cb = min(block, c - c0)
            g = grad_out[c0 : c0 + cb].reshape(cb * n, t, v)  # (cb*N, T, U)
            for k in range(k_sub):
                mk = m[k].reshape(r, n * v * v)  # (R, N*V*V)
                refined = torch.mm(w_c[k, c0 : c0 + cb], mk)  # (cb, N*V*V)
                refined = (refined.reshape(cb, n, v * v) + shift[k, c0 : c0 + cb].unsqueeze(1)).reshape(
                    cb * n, v, v
                )  # (cb*N, U, V)
                xk = x3[k, c0 : c0 + cb].reshape(cb * n, t, v)  # (cb*N, T, V)
                # out[t, u] = sum_v x[t, v] R[u, v]  =>  dx = g @ R,  dR = g^T @ x
                torch.bmm(g, refined, out=grad_x3[k, c0 : c0 + cb].view(cb * n, t, v))
                g_ref = torch.bmm(g.transpose(1, 2), xk).reshape(cb, n * v * v)  # (cb, N*V*V)
                grad_shift[k, c0 : c0 + cb] = g_ref.reshape(cb, n, v * v).sum(1)
                torch.mm(g_ref, mk.t(), out=grad_w[k, c0 : c0 + cb])  # (cb, R)
                grad_m[k].view(r, n * v * v).addmm_(w_c[k, c0 : c0 + cb].t(), g_ref)  # (R, N*V*V)
        return grad_m, grad_x3, grad_w, grad_shift, None


def ctrgc_fast(x: Tensor, p: CTRGCParams) -> Tensor:
    """CTR-GC (paper Sec. 3.3), the same function as :func:`ctrgc_reference` computed with less memory traffic.

    What changes (all exact algebra, no approximation):

    * ``mean_T`` commutes with a 1x1 convolution, so phi and psi of all K subsets run as ONE linear
      map on the time-pooled input (N, C_in, V) instead of 2K convolutions over (N, C_in, T, V).
    * alpha is folded into xi: R_k = (alpha * b_c + A_k) + (alpha * W_c) M_k.
    * channel-major layouts: the K feature transformations are ONE GEMM (K*C_out, C_in) x (C_in, N*T*V)
      giving (K, C_out, N, T, V), and M_k is stored (R, N, V, V), so xi for a block of output channels is
      one plain GEMM (cb, R) x (R, N*V*V) and every slice below is contiguous (no copies).
    * the refined maps R_k, (N, C_out, V, V) per subset and the dominant memory cost of the direct form,
      are never stored: they are built per block of output channels (cache-sized on CPU, all channels
      at once on GPU), used by the aggregation's batched matmul, and rebuilt in the backward pass (a
      custom autograd function; the tests check its gradients against autograd through the reference).

    Contracting xi after the V-sum (sum_r W[c, r] sum_v M[r, u, v] x3[c, t, v]) is exact too but costs
    R*C*T*V^2 multiply-adds against C*(R+T)*V^2 here, so it is not used.

    Args:
        x: (N, C_in, T, V) input features.
        p: the layer's parameters.

    Returns:
        (N, C_out, T, V).
    """
    n, c_in, t, v = x.shape
    k_sub, c_out, r = p.weight_c.shape
    # correlation branches of all subsets at once, on the time-pooled input
    pooled = x.mean(2)  # (N, C_in, V)
    w_ab = torch.cat([p.weight_a, p.weight_b], 0).reshape(2 * k_sub * r, c_in)  # (2KR, C_in)
    b_ab = torch.cat([p.bias_a, p.bias_b], 0).reshape(2 * k_sub * r, 1)  # (2KR, 1)
    ab = torch.matmul(w_ab, pooled) + b_ab  # (N, 2KR, V)
    ab = ab.reshape(n, 2, k_sub, r, v).permute(1, 2, 3, 0, 4).contiguous()  # (2, K, R, N, V)
    m = torch.tanh(ab[0].unsqueeze(-1) - ab[1].unsqueeze(-2))  # (K, R, N, V, V)
    w_c = p.alpha * p.weight_c  # (K, C_out, R)
    shift = (p.alpha * p.bias_c).unsqueeze(-1) + p.adjacency.reshape(k_sub, 1, v * v)  # (K, C_out, V*V)
    # feature transformation of all subsets in one GEMM, channel-major layout
    xt = x.transpose(0, 1).reshape(c_in, n * t * v)  # (C_in, N*T*V)
    x3 = torch.addmm(p.bias_d.reshape(k_sub * c_out, 1), p.weight_d.reshape(k_sub * c_out, c_in), xt)
    x3 = x3.reshape(k_sub, c_out, n, t, v)  # (K, C_out, N, T, V)
    # a common dtype for the aggregation (matters under autocast, where the GEMMs above give bf16/fp16)
    m, w_c, shift = m.to(x3.dtype).contiguous(), w_c.to(x3.dtype), shift.to(x3.dtype)
    block = _channel_block(c_out, n, v, x.device)
    if torch.jit.is_tracing() or not torch.is_grad_enabled():
        out = _aggregate_forward(m, x3, w_c, shift, block)
    else:
        with torch.autocast(x.device.type, enabled=False):
            out = _Aggregate.apply(m, x3, w_c, shift, block)
    return out.transpose(0, 1).contiguous()  # (N, C_out, T, V)


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
