# The batch_size plot's own style (a final metric against batch size);
# plots/style.gp holds what every figure shares.
series_lw = 2                # a series' line and error bars
series_pt = 7
series_ps = 1.1
