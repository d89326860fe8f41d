# The step_norms plot's own style (a recurrent layer's hidden-state norm
# against the time step); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.6
