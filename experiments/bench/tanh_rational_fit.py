#!/usr/bin/python3
"""The coefficients of DyT's vector tanh (core/cpu/vmath.h, nl_v8_tanh).

tanh(a) = a * (1 + z p(z)) / (1 + z q(z)), z = a^2, a = |x| clamped to
[0, 9.02] (above 9.01 tanh rounds to 1 in float), p of degree 5 and q of
degree 2: a rational fit of tanh(a)/a with its value at 0 fixed at 1,
minimizing the largest relative error over Chebyshev points in a
(Sanathanan-Koerner iteration with Lawson weights; double precision, the
target from mpmath at 40 digits). Prints the largest relative error of the
fit in double and the coefficients as C floats. Float evaluation adds its
own rounding (test_norm_reference's tanh sweep bounds the total).

    /usr/bin/python3 experiments/bench/tanh_rational_fit.py   # needs numpy and mpmath
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
P_DEGREE, Q_DEGREE = 6, 3      # in z, counting the fixed 1 of each
A_MAX = 9.02
POINTS = 4000

a = np.sort((np.cos(np.pi * (np.arange(POINTS) + 0.5) / POINTS) + 1) / 2 * A_MAX)
z = a * a
g = np.array([float(mp.tanh(mp.mpf(v)) / mp.mpf(v)) for v in a])
u = z / (A_MAX * A_MAX)        # scaled, for a well-conditioned system
up = np.vstack([u ** k for k in range(1, P_DEGREE + 1)]).T
uq = np.vstack([u ** k for k in range(1, Q_DEGREE + 1)]).T
weight, q_prev = np.ones(POINTS), np.ones(POINTS)
for it in range(60):
    # (1 + sum p_k u^k) - g (1 + sum q_k u^k) = 0, linear in p and q
    rows = weight / (g * q_prev)
    system = np.hstack([up, -g[:, None] * uq]) * rows[:, None]
    sol, *_ = np.linalg.lstsq(system, (g - 1.0) * rows, rcond=None)
    p, q = sol[:P_DEGREE], sol[P_DEGREE:]
    num, den = 1.0 + up @ p, 1.0 + uq @ q
    err = num / den / g - 1.0
    q_prev = den
    if it > 10:
        weight = weight * np.sqrt(np.abs(err))
        weight /= weight.max()
print("largest relative error of the fit: %.3g" % np.abs(err).max())
scale = A_MAX * A_MAX
print("p:", ", ".join("%.9ef" % (v / scale ** (k + 1)) for k, v in enumerate(p)))
print("q:", ", ".join("%.9ef" % (v / scale ** (k + 1)) for k, v in enumerate(q)))
