# The final plot's own style (a final metric against any swept key, a
# series per colour value, a panel per panel value); plots/style.gp holds
# what every figure shares.
series_lw = 2                # a series' line (numeric x) and error bars
series_pt = 7                # its markers
series_ps = 1.1
reference_dt = 2             # the dashed line of runs the x key does not apply to
