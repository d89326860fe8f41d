# The lr plot's own style (a final metric against learning rate, and the
# ranges each series tolerates); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 1.1
diverged_pt = 2              # a cross at the top where a run diverged
diverged_ps = 2.2
diverged_lw = 2.5
diverged_key_color = "#444444"
threshold_color = "#777777"  # the dashed tolerance threshold
range_opacity = 0.75         # the bars of the tolerated ranges
