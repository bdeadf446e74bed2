"""Lyapunov exponents: Benettin/QR spectra, repeated estimates with confidence intervals, and a
two-trajectory finite-difference check.

- ``lyapunov_spectrum`` iterates any map x_{t+1} = f_t(x_t) given as a step function that also returns
  the Jacobian J_t (a matrix, or a callable q -> J_t q). It carries k orthonormal tangent vectors Q,
  re-orthonormalises J_t Q = Q' R each step and averages log|diag R| (Benettin et al. 1980; Shimada &
  Nagashima 1979). It also averages Q * Q, each neuron's share of each tangent direction, from which
  :func:`neuron_exponents` are formed. Tests check it on maps with known spectra.
- ``hrsnn_lyapunov_spectrum`` applies it to the recurrent layer of an HRSNN driven by given currents,
  with the ``exact`` or ``surrogate`` Jacobian of :class:`~spikerec.pruning.spiking_map.RecurrentLIFMap`.
- ``estimate_lyapunov`` repeats it over independent drives and tangent draws and reports the mean
  with a Student-t confidence interval (:class:`LyapunovEstimate`); ``paired_difference`` gives the
  interval of the difference between two networks measured under the same draws. Every accept/reject
  decision of the pruning stages is made on such an interval, never on a point estimate.
- ``finite_difference_lyapunov`` follows two trajectories a distance ``delta`` apart (renormalised
  every step) and averages the log growth: the reference the two Jacobians are compared against.

Exponents are per ms when ``dt`` is the step in ms.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from spikerec.errors import ConfigError, NonFiniteError, ShapeError

Jacobian = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]
StepFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, Jacobian]]


@dataclass
class LyapunovResult:
    """Leading Lyapunov exponents of one run and convergence diagnostics.

    exponents: [k] float64, descending, per ``unit``. running: [n_steps, k] running estimates.
    window_std: [k] std of the running estimates over the last ``window`` steps (small = converged).
    converged: every window_std <= tol * max(1, |exponent|). vector_weights: [d, k] time average of
    Q_im^2 (share of state variable i in tangent direction m; columns sum to 1), columns in the
    order of ``exponents``.
    """

    exponents: torch.Tensor
    running: torch.Tensor
    window_std: torch.Tensor
    window: int
    converged: bool
    n_steps: int
    unit: str
    vector_weights: torch.Tensor

    @property
    def max(self) -> float:
        return float(self.exponents[0])

    def to_dict(self, include_running: bool = False) -> dict:
        out = {"exponents": self.exponents.tolist(), "max": self.max, "window_std": self.window_std.tolist(),
               "window": self.window, "converged": self.converged, "n_steps": self.n_steps, "unit": self.unit}
        if include_running:
            out["running"] = self.running.tolist()
        return out


@contextlib.contextmanager
def _one_intra_op_thread() -> Iterator[None]:
    """Run a loop of tiny [d, k] ops on one torch thread, then restore the thread count.

    Thread hand-off costs more than a small QR: measured 50 us per [64, 8] QR on one thread against
    30 ms on two when the two cores were busy.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _apply(jac: Jacobian, q: torch.Tensor) -> torch.Tensor:
    return jac(q) if callable(jac) else jac @ q


def lyapunov_spectrum(step: StepFn, x0: torch.Tensor, n_steps: int, k: int | None = None,
                      n_transient: int = 0, dt: float = 1.0, window: int | None = None, tol: float = 0.05,
                      generator: torch.Generator | None = None, unit: str = "1/step") -> LyapunovResult:
    """k leading Lyapunov exponents of the map ``step`` from initial state ``x0``: [d], or [B, d] for B
    independent copies run together (then every result field gains a leading B).

    step(x, t) -> (x_next, J) with J the Jacobian of x_next w.r.t. x, a [d, d] tensor or a callable
    mapping [..., d, k] -> [..., d, k]. The first ``n_transient`` steps move onto the attractor and
    align the tangent vectors (their growth is not averaged); ``n_steps`` further steps are averaged.
    Exponents are divided by ``dt`` (1 = per step). Computation is in float64. A tangent direction
    the map annihilates (a zero of diag R, e.g. a hard reset) counts as log(1e-300).
    """
    if x0.dim() not in (1, 2):
        raise ShapeError(f"lyapunov_spectrum expects a state vector x0 [d] or a batch [B, d], got {tuple(x0.shape)}")
    single = x0.dim() == 1
    x = x0.to(torch.float64).reshape(-1, x0.shape[-1])
    b, d = x.shape
    k = d if k is None else k
    if not 1 <= k <= d or n_steps < 1 or n_transient < 0 or dt <= 0:
        raise ConfigError(f"lyapunov_spectrum needs 1 <= k <= d (k={k}, d={d}), n_steps >= 1, "
                          f"n_transient >= 0 and dt > 0")
    window = max(1, n_steps // 10) if window is None else min(window, n_steps)
    q = torch.linalg.qr(torch.randn(b, d, k, generator=generator, dtype=torch.float64))[0]
    log_sum = torch.zeros(b, k, dtype=torch.float64)
    weights = torch.zeros(b, d, k, dtype=torch.float64)
    running = torch.empty(n_steps, b, k, dtype=torch.float64)
    with _one_intra_op_thread():
        for t in range(n_transient + n_steps):
            x_next, jac = step(x[0] if single else x, t)
            q, r = torch.linalg.qr(_apply(jac, q))
            diag = r.diagonal(dim1=-2, dim2=-1)
            # Keep Q's columns pointing the same way as before (sign of R's diagonal is arbitrary).
            q = q * torch.sign(diag).where(diag != 0, torch.ones_like(diag)).unsqueeze(-2)
            x = x_next.reshape(b, d)
            if t >= n_transient:
                i = t - n_transient
                log_sum += torch.log(diag.abs().clamp_min(1e-300))
                weights += q * q
                running[i] = log_sum / ((i + 1) * dt)
    if not torch.isfinite(running[-1]).all():
        raise NonFiniteError("Lyapunov spectrum is not finite: the trajectory or Jacobian diverged")
    # Benettin's column order converges to descending order; sort so a short run still reports
    # its largest estimate first.
    order = torch.argsort(running[-1], dim=-1, descending=True)  # [b, k]
    running = torch.gather(running, 2, order.expand(n_steps, b, k)).permute(1, 0, 2)  # [b, n_steps, k]
    weights = torch.gather(weights, 2, order.unsqueeze(1).expand(b, d, k)) / n_steps
    exponents = running[:, -1]
    window_std = running[:, -window:].std(dim=1, unbiased=False)
    converged = bool((window_std <= tol * exponents.abs().clamp_min(1.0)).all())
    if single:
        exponents, running, window_std, weights = exponents[0], running[0], window_std[0], weights[0]
    return LyapunovResult(exponents=exponents, running=running, window_std=window_std, window=window,
                          converged=converged, n_steps=n_steps, unit=unit, vector_weights=weights)


def neuron_exponents(result: LyapunovResult) -> torch.Tensor:
    """Per-neuron exponent [..., d]: the leading spectrum shared out by where its tangent vectors live,
    ``lambda_i = sum_m lambda_m <Q_im^2>``. Sums to the sum of the k exponents (the phase-space
    contraction rate when k = d)."""
    return (result.vector_weights @ result.exponents.unsqueeze(-1)).squeeze(-1)


def linear_map_step(matrix: torch.Tensor) -> StepFn:
    """Step function of the linear map x -> A x (Jacobian A everywhere); x [d] or [B, d]."""
    a = matrix.to(torch.float64)
    return lambda x, t: (x @ a.T, a)


def henon_step(a: float = 1.4, b: float = 0.3) -> StepFn:
    """Step function of the Henon map (x, y) -> (1 - a x^2 + y, b x)."""

    def step(state: torch.Tensor, t: int):
        x, y = state[0], state[1]
        nxt = torch.stack([1.0 - a * x * x + y, b * x])
        jac = torch.tensor([[-2.0 * a * float(x), 1.0], [b, 0.0]], dtype=torch.float64)
        return nxt, jac

    return step


# ----------------------------------------------------------------------------------------------
# The HRSNN's recurrent layer, R independent drives at once
# ----------------------------------------------------------------------------------------------

METHODS = ("exact", "surrogate", "finite_size")


def _layer_map(model):
    from spikerec.pruning.spiking_map import RecurrentLIFMap

    return RecurrentLIFMap.from_layer(model.recurrent)


def _check_drive(model, currents: torch.Tensor, n_transient: int) -> torch.Tensor:
    """currents [T, N] or [T, R, N] -> float64 [T, R, N]."""
    if currents.dim() not in (2, 3) or currents.shape[-1] != model.n_neurons:
        raise ShapeError(f"expected currents [T, {model.n_neurons}] or [T, R, {model.n_neurons}] for the recurrent "
                         f"layer, got {tuple(currents.shape)}")
    if currents.shape[0] <= n_transient:
        raise ConfigError(f"the drive has {currents.shape[0]} steps, need more than n_transient={n_transient}")
    drive = currents.detach().double()
    return drive if drive.dim() == 3 else drive.unsqueeze(1)


def hrsnn_lyapunov_spectrum(model, currents: torch.Tensor, k: int = 10, n_transient: int = 100,
                            jacobian: str = "exact", seed: int = 0, window: int | None = None,
                            tol: float = 0.05) -> LyapunovResult:
    """Leading Lyapunov exponents (1/ms) of an HRSNN's recurrent layer driven by ``currents`` [T, N]
    (or [T, R, N]: R drives at once, results gain a leading R) -- the recurrent layer's input
    currents, e.g. independent noise per neuron, or ``model.currents(x)``.

    State: the pre-reset membrane h [N]; Jacobian ``"exact"`` (the spiking map's own, the default:
    it is the one that agrees with two nearby trajectories, see docs/pruning.md) or ``"surrogate"``
    (training's pseudo-derivative). Tangent vectors are drawn from ``seed``; the first
    ``n_transient`` steps are not averaged.
    """
    drive = _check_drive(model, currents, n_transient)
    layer = _layer_map(model)
    jac = layer.jacobian(jacobian)

    def step(h: torch.Tensor, t: int):
        return layer.step(h, drive[t]), jac(h)

    gen = torch.Generator().manual_seed(int(seed))
    x0 = layer.initial_state(drive.shape[1]) if currents.dim() == 3 else layer.initial_state()
    if currents.dim() == 2:
        drive = drive[:, 0]
    return lyapunov_spectrum(step, x0, n_steps=drive.shape[0] - n_transient, k=min(k, model.n_neurons),
                             n_transient=n_transient, dt=model.config.dt_ms, window=window, tol=tol, generator=gen,
                             unit="1/ms")


def finite_difference_lyapunov(model, currents: torch.Tensor, delta: float, n_transient: int = 100,
                               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest Lyapunov exponent (1/ms) from two trajectories of the recurrent layer ``delta`` apart,
    for each of the R drives in ``currents`` [T, R, N] (or [T, N]: R = 1).

    The second copy starts at h + delta * u (u a random unit vector from ``seed``); after every step
    the log of the separation growth is accumulated (after ``n_transient`` steps) and the separation
    is rescaled back to ``delta`` along its current direction (Benettin's two-trajectory method). A
    separation of exactly 0 (the perturbation erased by resets) counts as log(1e-300) and restarts
    from a fresh random direction. Returns (exponents [R], direction weights [R, N]: the time average
    of u_i^2, where the separation lives).
    """
    drive = _check_drive(model, currents, n_transient)
    if not delta > 0:
        raise ConfigError(f"finite_difference_lyapunov needs delta > 0, got {delta}")
    layer = _layer_map(model)
    n_rep = drive.shape[1]
    gen = torch.Generator().manual_seed(int(seed))

    def directions() -> torch.Tensor:
        u = torch.randn(n_rep, layer.n, generator=gen, dtype=torch.float64)
        return u / u.norm(dim=1, keepdim=True)

    h = layer.initial_state(n_rep)
    h2 = h + delta * directions()
    log_sum = torch.zeros(n_rep, dtype=torch.float64)
    weights = torch.zeros(n_rep, layer.n, dtype=torch.float64)
    with _one_intra_op_thread():
        for t in range(drive.shape[0]):
            h, h2 = layer.step(h, drive[t]), layer.step(h2, drive[t])
            gap = (h2 - h).norm(dim=1, keepdim=True)
            u = torch.where(gap > 0, (h2 - h) / gap.clamp_min(1e-300), directions())
            if t >= n_transient:
                log_sum += torch.log(gap[:, 0].clamp_min(1e-300) / delta)
                weights += u * u
            h2 = h + delta * u
    n_avg = drive.shape[0] - n_transient
    return log_sum / (n_avg * model.config.dt_ms), weights / n_avg


# ----------------------------------------------------------------------------------------------
# Repeated estimates and intervals
# ----------------------------------------------------------------------------------------------

def t_interval(samples: torch.Tensor, confidence: float) -> tuple[float, float, float]:
    """(mean, lower, upper) of the Student-t confidence interval of the mean of ``samples`` [R]."""
    from scipy.stats import t as student_t

    x = samples.double()
    n = x.numel()
    if n < 2:
        raise ConfigError(f"a confidence interval needs at least 2 repeats, got {n}")
    mean = float(x.mean())
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * float(x.std(unbiased=True)) / math.sqrt(n)
    return mean, mean - half, mean + half


@dataclass
class LyapunovEstimate:
    """Largest exponents from R independent repeats (own drive and tangent/perturbation draw each).

    samples: [R, k] exponents per repeat, descending (k = 1 for ``finite_size``). neuron: [R, N]
    per-neuron exponents (:func:`neuron_exponents`; for ``finite_size``, the exponent shared out by
    where the separation lives). The mean and its Student-t ``confidence`` interval are per rank.
    """

    samples: torch.Tensor
    neuron: torch.Tensor
    confidence: float
    method: str
    unit: str = "1/ms"

    @property
    def max_samples(self) -> torch.Tensor:
        return self.samples[:, 0]

    @property
    def max(self) -> float:
        return float(self.max_samples.mean())

    def interval(self, rank: int = 0) -> tuple[float, float, float]:
        """(mean, lower, upper) of the exponent of the given rank (0 = largest)."""
        return t_interval(self.samples[:, rank], self.confidence)

    def to_dict(self) -> dict:
        mean, lo, hi = self.interval(0)
        return {"lambda_max": mean, "lambda_max_ci": [lo, hi], "confidence": self.confidence,
                "lambda_max_samples": self.max_samples.tolist(), "exponents_mean": self.samples.mean(0).tolist(),
                "repeats": int(self.samples.shape[0]), "unit": self.unit, "method": self.method}


def estimate_lyapunov(model, currents: torch.Tensor, method: str = "exact", k: int = 8, n_transient: int = 100,
                      delta: float = 0.05, confidence: float = 0.95, seed: int = 0) -> LyapunovEstimate:
    """Largest exponents of the recurrent layer under each of the R drives ``currents`` [T, R, N].

    ``method``: ``"exact"`` or ``"surrogate"`` (Benettin/QR with that Jacobian, k exponents) or
    ``"finite_size"`` (two trajectories ``delta`` apart). Two models measured on the same drives and
    ``seed`` form pairs (:func:`paired_difference`).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown Lyapunov method {method!r}; choose one of {list(METHODS)}")
    if currents.dim() != 3 or currents.shape[1] < 2:
        raise ShapeError(f"estimate_lyapunov needs R >= 2 drives as currents [T, R, N], got {tuple(currents.shape)}")
    if method == "finite_size":
        lam, where = finite_difference_lyapunov(model, currents, delta, n_transient, seed)
        return LyapunovEstimate(lam.unsqueeze(1), lam.unsqueeze(1) * where, confidence, method)
    res = hrsnn_lyapunov_spectrum(model, currents, k=k, n_transient=n_transient, jacobian=method, seed=seed)
    return LyapunovEstimate(res.exponents, neuron_exponents(res), confidence, method)


def paired_difference(a: LyapunovEstimate, b: LyapunovEstimate) -> tuple[float, float, float]:
    """(mean, lower, upper) interval of lambda_max(a) - lambda_max(b) over paired repeats."""
    if a.samples.shape[0] != b.samples.shape[0]:
        raise ConfigError(f"paired estimates need the same repeats, got {a.samples.shape[0]} and {b.samples.shape[0]}")
    return t_interval(a.max_samples - b.max_samples, a.confidence)


__all__ = ["LyapunovResult", "LyapunovEstimate", "METHODS", "lyapunov_spectrum", "neuron_exponents",
           "linear_map_step", "henon_step", "hrsnn_lyapunov_spectrum", "finite_difference_lyapunov", "t_interval",
           "estimate_lyapunov", "paired_difference"]
