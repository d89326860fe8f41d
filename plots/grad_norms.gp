# The grad_norms plot's own style (each layer's gradient norm at step 0,
# input to output); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 1.0
