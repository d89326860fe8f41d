#!/usr/bin/python3
"""The coefficients of the vector erf (core/cpu/vmath.h, nl_v8_erf), used by GELU.

erf(a) = a * (c + z p(z)) / (1 + z q(z)), z = a^2, c = 2/sqrt(pi), a = |x|
clamped to [0, 3.93] (above 3.92 erf rounds to 1 in float), p and q of
degree 4 (5 coefficients each): a rational fit of erf(a)/(c a), whose value
at 0 is 1, minimizing the largest relative error over Chebyshev points in
a, by tanh_rational_fit.py's rational_fit (p printed times c). Prints the
largest relative error of the fit in double and the coefficients of p and q
from z^0 up as C floats (vmath.h lists them highest first, in Horner's
order). Float evaluation adds its own rounding (test_vmath's erf sweep
bounds the total).

    /usr/bin/python3 experiments/bench/erf_rational_fit.py   # needs numpy and mpmath
"""
import os
import sys

import mpmath as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tanh_rational_fit import rational_fit  # noqa: E402

COEFFICIENTS = 5    # of p and of q
A_MAX = 3.93
C = 2 / mp.sqrt(mp.pi)

p, q, worst = rational_fit(lambda v: mp.erf(v) / (C * v), A_MAX, COEFFICIENTS, COEFFICIENTS, 80)
print("largest relative error of the fit: %.3g" % worst)
print("p:", ", ".join("%.9ef" % (float(C) * v) for v in p))
print("q:", ", ".join("%.9ef" % v for v in q))
