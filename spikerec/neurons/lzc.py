"""Lempel-Ziv complexity (LZ76) of binary spike trains, and the SNN+LZC classification path.

LZ76 (Lempel & Ziv 1976, counted as in Kaspar & Schuster 1987) parses a sequence left to right into
phrases; each new phrase is the longest prefix of the rest that already occurs starting at an
earlier position (overlap allowed), plus one symbol. The complexity ``c`` is the number of
phrases; ``c * log2(T) / T`` normalises it so that a random binary sequence scores about 1.

Vectorised over all trains at once, without a per-train Python loop:

1. For every shift ``d`` the matches ``x[p] == x[p-d]`` give, by a reverse running minimum, the run
   length of agreement starting at each ``p``: the longest copy of ``x[p:]`` from source ``p-d``.
   The maximum over ``d`` is the longest earlier match ``M[p]`` (T-1 shifts, tensor ops each).
2. Walking the phrases is then pointer jumping, ``p <- p + M[p] + 1``, in lock-step for all trains
   (as many iterations as the largest phrase count).

Trains of different lengths (a padded batch) are parsed up to their own length ``L``: a match is
cut at ``L - p`` (its earlier source then also lies inside the train) and the walk stops at ``L``,
which is exactly the parse of ``x[:L]``.

The SNN+LZC path of Rudnicka, Szczepanski & Pregowska (arXiv 2508.11674) classifies from the LZC of
the output spike trains: :class:`LZCClassifier` computes those features and applies a small
trainable classifier (logistic regression, or an MLP with ``hidden``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spikerec.errors import ShapeError

__all__ = ["lempel_ziv_complexity", "lzc_reference", "LZCClassifier"]


def lzc_reference(bits) -> int:
    """Plain LZ76 phrase count of one sequence (Kaspar & Schuster's algorithm); for tests and checks."""
    s = [int(b) for b in bits]
    n = len(s)
    if n == 0:
        return 0
    if n == 1:
        return 1
    c, l, i, k, k_max = 1, 1, 0, 1, 1
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:
                c += 1
                break
        else:
            k_max = max(k, k_max)
            i += 1
            if i == l:
                c += 1
                l += k_max
                if l + 1 > n:
                    break
                i, k, k_max = 0, 1, 1
            else:
                k = 1
    return c


def _longest_earlier_match(x: torch.Tensor) -> torch.Tensor:
    """``M[s, p]`` = longest ``L`` with ``x[s, p:p+L] == x[s, j:j+L]`` for some ``j < p`` (``x`` ``[S, T]``)."""
    S, T = x.shape
    best = torch.zeros(S, T + 1, dtype=torch.long, device=x.device)  # column T: sentinel for the walk
    for d in range(1, T):
        L = T - d
        eq = x[:, d:] == x[:, :L]
        pos = torch.arange(L, device=x.device)
        # index of the first mismatch at or after m (L if none), by a reverse running minimum
        first_bad = torch.where(eq, torch.full_like(pos, L), pos).flip(1).cummin(1).values.flip(1)
        run = first_bad - pos
        torch.maximum(best[:, d:T], run, out=best[:, d:T])
    return best


def lempel_ziv_complexity(spikes: torch.Tensor, normalize: bool = True, time_dim: int = 0,
                          lengths: torch.Tensor | None = None) -> torch.Tensor:
    """LZ76 complexity of binary spike trains along ``time_dim`` (default: time-major ``[T, B, N]``).

    Any value > 0 counts as a spike. Returns float32 of the input shape without the time dimension:
    phrase counts, or ``c * log2(L) / L`` with ``normalize`` (for ``L >= 2``). ``lengths`` (optional,
    integers in ``[1, T]``) gives each train's own length ``L`` for the leading output dimensions, e.g.
    ``[B]`` per sample of a padded ``[T, B, N]`` batch; steps from ``L`` on are ignored.
    """
    if spikes.dim() < 1 or spikes.shape[time_dim] == 0:
        raise ShapeError(f"lempel_ziv_complexity needs a non-empty time dimension {time_dim}, got {list(spikes.shape)}")
    x = spikes.movedim(time_dim, -1)
    out_shape = x.shape[:-1]
    T = x.shape[-1]
    x = (x.reshape(-1, T) > 0)
    S = x.shape[0]
    L = _train_lengths(lengths, out_shape, T, x.device)
    if T == 1:
        c = torch.ones(S, dtype=torch.long, device=x.device)
    else:
        M = torch.minimum(_longest_earlier_match(x), (L[:, None] - torch.arange(T + 1, device=x.device)).clamp_min(0))
        c = torch.ones(S, dtype=torch.long, device=x.device)  # first phrase: the first symbol
        p = torch.ones(S, dtype=torch.long, device=x.device)
        while True:
            active = p < L
            if not bool(active.any()):
                break
            m = M.gather(1, p.clamp(max=T).unsqueeze(1)).squeeze(1)
            c += active.long()
            # a phrase whose copy reaches the end is the (incomplete) last one
            p = torch.where(active & (p + m < L), p + m + 1, torch.maximum(p, L))
    c = c.to(torch.float32)
    if normalize:
        Lf = L.to(torch.float32)
        c = torch.where(L >= 2, c * torch.log2(Lf.clamp_min(2)) / Lf, c)
    return c.reshape(out_shape)


def _train_lengths(lengths, out_shape: torch.Size, T: int, device) -> torch.Tensor:
    """Per-train lengths [S] (long) from ``lengths`` over the leading output dims (default: all ``T``)."""
    if lengths is None:
        return torch.full((math.prod(out_shape),), T, dtype=torch.long, device=device)
    lengths = torch.as_tensor(lengths, device=device).long()
    k = lengths.dim()
    if tuple(lengths.shape) != tuple(out_shape[:k]):
        raise ShapeError(f"lempel_ziv_complexity: lengths must have the leading shape {list(out_shape[:k])} of the "
                         f"output {list(out_shape)}, got {list(lengths.shape)}")
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ShapeError(f"lempel_ziv_complexity: lengths must lie in [1, {T}], got {int(lengths.min())}.."
                         f"{int(lengths.max())}")
    return lengths.reshape(*lengths.shape, *([1] * (len(out_shape) - k))).expand(out_shape).reshape(-1)


class LZCClassifier(nn.Module):
    """SNN+LZC readout: LZC of each output spike train -> logistic regression (or MLP) over classes.

    ``forward(spikes [T, B, N]) -> logits [B, n_classes]``. LZC is not differentiable, so this head
    is trained on the features of a fixed (already trained) SNN: ``fit`` does full-batch training on
    precomputed features; the features are standardised with statistics stored as buffers.
    """

    def __init__(self, n_neurons: int, n_classes: int, hidden: int | None = None):
        super().__init__()
        self.n_neurons = n_neurons
        self.head = (nn.Linear(n_neurons, n_classes) if not hidden else
                     nn.Sequential(nn.Linear(n_neurons, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)))
        self.register_buffer("feature_mean", torch.zeros(n_neurons))
        self.register_buffer("feature_std", torch.ones(n_neurons))

    def features(self, spikes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised LZC ``[B, N]`` of spikes ``[T, B, N]`` (each sample up to its ``lengths`` [B], if given)."""
        if spikes.dim() != 3 or spikes.shape[-1] != self.n_neurons:
            raise ShapeError(f"LZCClassifier expects spikes [T, B, {self.n_neurons}], got {list(spikes.shape)}")
        return lempel_ziv_complexity(spikes, lengths=lengths)

    def classify_features(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head((feats - self.feature_mean) / self.feature_std)

    def forward(self, spikes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify_features(self.features(spikes, lengths))

    def fit(self, feats: torch.Tensor, labels: torch.Tensor, epochs: int = 300, lr: float = 0.05,
            weight_decay: float = 1e-4) -> float:
        """Full-batch Adam on precomputed features ``[n, N]``; returns the final training accuracy."""
        self.feature_mean.copy_(feats.mean(0))
        self.feature_std.copy_(feats.std(0).clamp_min(1e-6) if feats.shape[0] > 1 else torch.ones_like(feats[0]))
        opt = torch.optim.Adam(self.head.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(epochs):
            opt.zero_grad()
            nn.functional.cross_entropy(self.classify_features(feats), labels).backward()
            opt.step()
        with torch.no_grad():
            return float((self.classify_features(feats).argmax(1) == labels).float().mean())
