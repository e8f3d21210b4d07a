"""Checks of the binary Gumbel-softmax derivation (paper Eq. 14 -> Eq. 15, supplementary Sec. 4).

With pi_1 = sigmoid(w) and pi_2 = 1 - sigmoid(w), the two-class Gumbel-softmax
    y_1 = exp((log pi_1 + g_1) / tau) / sum_c exp((log pi_c + g_c) / tau)
equals sigmoid((w + g_1 - g_2) / tau). Three independent checks: symbolic (sympy), Monte Carlo (the hard decision
with logistic noise g_1 - g_2 is a Bernoulli(sigmoid(w)) draw), and the straight-through gradient of
`gumbel_sigmoid` (equal to d sigmoid(w / tau) / dw without noise).
"""
from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from .bcm import gumbel_sigmoid


def symbolic_check() -> dict:
    """Simplify y_1(Eq. 14) - sigmoid((w + g1 - g2) / tau) with sympy; also evaluate it at random points."""
    w, g1, g2 = sp.symbols("w g1 g2", real=True)
    tau = sp.symbols("tau", positive=True)
    sig = 1 / (1 + sp.exp(-w))
    y1 = sp.exp((sp.log(sig) + g1) / tau) / (sp.exp((sp.log(sig) + g1) / tau) + sp.exp((sp.log(1 - sig) + g2) / tau))
    target = 1 / (1 + sp.exp(-(w + g1 - g2) / tau))
    difference = sp.simplify(sp.expand_log(sp.simplify(y1 / target), force=True))
    rng = np.random.default_rng(0)
    f = sp.lambdify((w, g1, g2, tau), y1 - target, "numpy")
    pts = rng.normal(size=(1000, 4)) * [3, 1, 1, 0]
    pts[:, 3] = rng.uniform(0.2, 3.0, size=1000)
    numeric = float(np.max(np.abs(f(*pts.T))))
    return {"ratio_simplified": str(difference), "max_abs_difference_at_1000_points": numeric}


def monte_carlo_check(ws=(-2.0, -0.5, 0.0, 0.5, 2.0), draws: int = 200_000, seed: int = 0) -> list[dict]:
    """Mean of the noisy hard decision vs sigmoid(w), with the standard error of the mean."""
    rows = []
    for i, w in enumerate(ws):
        torch.manual_seed(seed + i)
        d = gumbel_sigmoid(torch.full((draws,), w), noise=True)
        p = float(torch.sigmoid(torch.tensor(w)))
        mean = float(d.mean())
        rows.append({"w": w, "sigmoid(w)": p, "mean hard decision": mean,
                     "z-score": (mean - p) / np.sqrt(p * (1 - p) / draws)})
    return rows


def gradient_check(taus=(0.5, 1.0, 2.0)) -> list[dict]:
    """Max |straight-through gradient - d sigmoid(w / tau) / dw| over a grid of w, per tau."""
    rows = []
    for tau in taus:
        w = torch.linspace(-4, 4, 81, requires_grad=True)
        gumbel_sigmoid(w, tau=tau).sum().backward()
        soft = torch.sigmoid(w.detach() / tau)
        expected = soft * (1 - soft) / tau
        rows.append({"tau": tau, "max_abs_error": float((w.grad - expected).abs().max())})
    return rows
