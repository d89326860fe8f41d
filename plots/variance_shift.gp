# The variance_shift plot's own style (each batch norm's running variance
# over its input's test-time variance against step, per layer);
# plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5
reference_dt = 2              # the no-shift line at 1
reference_color = "#808080"
