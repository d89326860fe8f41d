# The signal_propagation plot's own style (the average channel mean^2 and
# variance at initialization against depth); plots/style.gp holds what
# every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.7
