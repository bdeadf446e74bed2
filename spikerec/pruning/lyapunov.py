"""Lyapunov spectra by the Benettin / QR method.

The generic core, ``lyapunov_spectrum``, iterates any map x_{t+1} = f_t(x_t) given as a step
function that also returns the Jacobian J_t = df_t/dx at x_t (as a matrix, or as a callable
q -> J_t q). It carries k orthonormal tangent vectors Q, re-orthonormalises J_t Q = Q' R each step
and accumulates log|diag R|; the time averages converge to the k leading exponents (Benettin et al.
1980; Shimada & Nagashima 1979). Because the core is generic, tests check it on maps with known
spectra (linear map: log|eigenvalues|; Henon map: largest ~0.42 per iteration).

``hrsnn_lyapunov_spectrum`` applies it to an HRSNN driven by an input sequence, with spikes
handled through the surrogate derivative (``spikerec.models.hrsnn.step_jacobian_product``).
Exponents are per step, or per ms when ``dt_ms`` is given.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from spikerec.errors import ConfigError, NonFiniteError, ShapeError

Jacobian = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]
StepFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, Jacobian]]


@dataclass
class LyapunovResult:
    """Leading Lyapunov exponents and convergence diagnostics.

    exponents: [k] float64, descending, per ``unit``. running: [n_steps, k] running estimates after
    each averaged step. window_std: [k] std of the running estimates over the last ``window`` steps
    (small = converged). converged: every window_std <= tol * max(1, |exponent|).
    """

    exponents: torch.Tensor
    running: torch.Tensor
    window_std: torch.Tensor
    window: int
    converged: bool
    n_steps: int
    unit: str

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
    """k leading Lyapunov exponents of the map ``step`` from initial state ``x0`` ([d]).

    step(x, t) -> (x_next, J) with J the Jacobian of x_next w.r.t. x, a [d, d] tensor or a callable
    mapping [d, k] -> [d, k]. The first ``n_transient`` steps move onto the attractor and align the
    tangent vectors (their growth is not averaged); ``n_steps`` further steps are averaged.
    Exponents are divided by ``dt`` (1 = per step). Computation is in float64.
    """
    if x0.dim() != 1:
        raise ShapeError(f"lyapunov_spectrum expects a state vector x0 [d], got {tuple(x0.shape)}")
    d = x0.shape[0]
    k = d if k is None else k
    if not 1 <= k <= d or n_steps < 1 or n_transient < 0 or dt <= 0:
        raise ConfigError(f"lyapunov_spectrum needs 1 <= k <= d (k={k}, d={d}), n_steps >= 1, "
                          f"n_transient >= 0 and dt > 0")
    window = max(1, n_steps // 10) if window is None else min(window, n_steps)
    q = torch.linalg.qr(torch.randn(d, k, generator=generator, dtype=torch.float64))[0]
    x = x0.to(torch.float64)
    log_sum = torch.zeros(k, dtype=torch.float64)
    running = torch.empty(n_steps, k, dtype=torch.float64)
    with _one_intra_op_thread():
        for t in range(n_transient + n_steps):
            x_next, jac = step(x, t)
            q, r = torch.linalg.qr(_apply(jac, q))
            diag = r.diagonal()
            # Keep Q's columns pointing the same way as before (sign of R's diagonal is arbitrary).
            q = q * torch.sign(diag).where(diag != 0, torch.ones_like(diag))
            x = x_next
            if t >= n_transient:
                i = t - n_transient
                log_sum += torch.log(diag.abs().clamp_min(1e-300))
                running[i] = log_sum / ((i + 1) * dt)
    if not torch.isfinite(running[-1]).all():
        raise NonFiniteError("Lyapunov spectrum is not finite: the trajectory or Jacobian diverged")
    # Benettin's column order converges to descending order; sort so a short run still reports
    # its largest estimate first.
    order = torch.argsort(running[-1], descending=True)
    running = running[:, order]
    exponents = running[-1]
    window_std = running[-window:].std(dim=0, unbiased=False)
    converged = bool((window_std <= tol * exponents.abs().clamp_min(1.0)).all())
    return LyapunovResult(exponents=exponents, running=running, window_std=window_std, window=window,
                          converged=converged, n_steps=n_steps, unit=unit)


def linear_map_step(matrix: torch.Tensor) -> StepFn:
    """Step function of the linear map x -> A x (Jacobian A everywhere)."""
    a = matrix.to(torch.float64)
    return lambda x, t: (a @ x, a)


def henon_step(a: float = 1.4, b: float = 0.3) -> StepFn:
    """Step function of the Henon map (x, y) -> (1 - a x^2 + y, b x)."""

    def step(state: torch.Tensor, t: int):
        x, y = state[0], state[1]
        nxt = torch.stack([1.0 - a * x * x + y, b * x])
        jac = torch.tensor([[-2.0 * a * float(x), 1.0], [b, 0.0]], dtype=torch.float64)
        return nxt, jac

    return step


def hrsnn_lyapunov_spectrum(model, inputs: torch.Tensor | None = None, k: int = 10, n_transient: int = 100,
                            window: int | None = None, tol: float = 0.05, seed: int = 0, per_ms: bool = True,
                            currents: torch.Tensor | None = None) -> LyapunovResult:
    """Leading Lyapunov exponents of an HRSNN's membrane dynamics under a given drive.

    Drive: ``inputs`` [T, n_inputs] (through the input layer) or ``currents`` [T, N] (injected
    directly, e.g. independent noise per neuron). The state is the membrane potential vector u [N];
    the step Jacobian passes spikes through the surrogate derivative and treats the reset as
    detached (``step_jacobian_product``). The first ``n_transient`` of the T steps are not
    averaged. Exponents are per ms (``per_ms``) or per step.
    """
    from spikerec.models.hrsnn import step_jacobian_product

    cfg = model.config
    if (inputs is None) == (currents is None):
        raise ConfigError("hrsnn_lyapunov_spectrum needs exactly one of inputs= or currents=")
    if inputs is not None:
        if inputs.dim() != 2 or inputs.shape[1] != cfg.n_inputs:
            raise ShapeError(f"hrsnn_lyapunov_spectrum expects inputs [T, {cfg.n_inputs}], got {tuple(inputs.shape)}")
        with torch.no_grad():
            currents = model.input(inputs.float())
    elif currents.dim() != 2 or currents.shape[1] != model.n_neurons:
        raise ShapeError(f"hrsnn_lyapunov_spectrum expects currents [T, {model.n_neurons}], got {tuple(currents.shape)}")
    if currents.shape[0] <= n_transient:
        raise ConfigError(f"the drive has {currents.shape[0]} steps, need more than n_transient={n_transient}")
    with torch.no_grad():
        currents = currents.double()
        weight = model.effective_weight().double()
        alpha = model.alpha.double()
    gain = 1.0 - alpha
    theta, slope = float(cfg.threshold), float(cfg.surrogate_slope)

    def step(u: torch.Tensor, t: int):
        s = (u >= theta).to(u.dtype)
        u_next = alpha * u * (1.0 - s) + gain * (weight @ s + currents[t])
        return u_next, lambda q: step_jacobian_product(q, u, weight, alpha, theta, slope)

    gen = torch.Generator().manual_seed(seed)
    dt = cfg.dt_ms if per_ms else 1.0
    return lyapunov_spectrum(step, torch.zeros(model.n_neurons, dtype=torch.float64),
                             n_steps=currents.shape[0] - n_transient, k=min(k, model.n_neurons),
                             n_transient=n_transient, dt=dt, window=window, tol=tol, generator=gen,
                             unit="1/ms" if per_ms else "1/step")
