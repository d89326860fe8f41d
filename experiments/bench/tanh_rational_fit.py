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

rational_fit() is also the fit of erf_rational_fit.py.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
P_DEGREE, Q_DEGREE = 6, 3      # in z, counting the fixed 1 of each
A_MAX = 9.02
POINTS = 4000


def rational_fit(target, a_max, p_count, q_count, steps):
    """(1 + z p(z)) / (1 + z q(z)) ~ target(a), z = a^2, target(0) = 1, over
    Chebyshev points in [0, a_max]: p and q's coefficients from z^0 up, and
    the largest relative error of the fit in double. target takes and gives
    an mpmath number."""
    a = np.sort((np.cos(np.pi * (np.arange(POINTS) + 0.5) / POINTS) + 1) / 2 * a_max)
    g = np.array([float(target(mp.mpf(v))) for v in a])
    u = a * a / (a_max * a_max)    # scaled, for a well-conditioned system
    up = np.vstack([u ** k for k in range(1, p_count + 1)]).T
    uq = np.vstack([u ** k for k in range(1, q_count + 1)]).T
    weight, q_prev = np.ones(POINTS), np.ones(POINTS)
    for it in range(steps):
        # (1 + sum p_k u^k) - g (1 + sum q_k u^k) = 0, linear in p and q
        rows = weight / (g * q_prev)
        system = np.hstack([up, -g[:, None] * uq]) * rows[:, None]
        sol, *_ = np.linalg.lstsq(system, (g - 1.0) * rows, rcond=None)
        p, q = sol[:p_count], sol[p_count:]
        num, den = 1.0 + up @ p, 1.0 + uq @ q
        err = num / den / g - 1.0
        q_prev = den
        if it > 10:
            weight = weight * np.sqrt(np.abs(err))
            weight /= weight.max()
    scale = a_max * a_max
    unscale = lambda c: [v / scale ** (k + 1) for k, v in enumerate(c)]
    return unscale(p), unscale(q), np.abs(err).max()


if __name__ == "__main__":
    p, q, worst = rational_fit(lambda v: mp.tanh(v) / v, A_MAX, P_DEGREE, Q_DEGREE, 60)
    print("largest relative error of the fit: %.3g" % worst)
    print("p:", ", ".join("%.9ef" % v for v in p))
    print("q:", ", ".join("%.9ef" % v for v in q))
