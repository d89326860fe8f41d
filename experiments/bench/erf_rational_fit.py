#!/usr/bin/python3
"""The coefficients of the vector erf (core/cpu/vmath.h, nl_v8_erf), used by GELU.

erf(a) = a * (c + z p(z)) / (1 + z q(z)), z = a^2, c = 2/sqrt(pi), a = |x|
clamped to [0, 3.93] (above 3.92 erf rounds to 1 in float), p and q of
degree 4 (5 coefficients each): a rational fit of erf(a)/(c a), whose value
at 0 is 1, minimizing the largest relative error over Chebyshev points in
a. Linearized least squares, each pass weighted by the last denominator,
with Lawson's weights toward the minimax solution; the target from mpmath at
40 digits. Prints the largest relative error of the fit in double and the
coefficients of p and q from z^0 up as C floats (vmath.h evaluates them in
Horner's order, highest first). Float evaluation adds its own rounding
(test_vmath's erf sweep bounds the total).

    /usr/bin/python3 experiments/bench/erf_rational_fit.py   # needs numpy and mpmath
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
DEGREE = 5          # coefficients of p and of q
A_MAX = 3.93
POINTS = 4000
C = 2 / np.sqrt(np.pi)


def fit():
    a = np.sort((np.cos(np.pi * (np.arange(POINTS) + 0.5) / POINTS) + 1) / 2 * A_MAX)
    target = np.array([float(mp.erf(mp.mpf(v)) / (mp.mpf(v) * 2 / mp.sqrt(mp.pi))) for v in a])
    powers = np.vstack([(a / A_MAX) ** (2 * k) for k in range(1, DEGREE + 1)]).T
    weight, denominator = np.ones(POINTS), np.ones(POINTS)
    for step in range(80):
        scale = weight / (target * denominator)
        system = np.hstack([powers, -target[:, None] * powers]) * scale[:, None]
        solution, *_ = np.linalg.lstsq(system, (target - 1.0) * scale, rcond=None)
        p, q = solution[:DEGREE], solution[DEGREE:]
        denominator = 1.0 + powers @ q
        error = (1.0 + powers @ p) / denominator / target - 1.0
        if step > 10:
            weight = weight * np.sqrt(np.abs(error))
            weight /= weight.max()
    return p, q, np.abs(error).max()


p, q, worst = fit()
print("largest relative error of the fit: %.3g" % worst)
unscale = [A_MAX ** (2 * (k + 1)) for k in range(DEGREE)]
print("p:", ", ".join("%.9ef" % (C * v / s) for v, s in zip(p, unscale)))
print("q:", ", ".join("%.9ef" % (v / s) for v, s in zip(q, unscale)))
