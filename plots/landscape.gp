# The landscape plot's own style (Santurkar et al. 2018, Fig. 4: the loss
# and gradient-predictiveness bands along the gradient, and the effective
# beta-smoothness, against step); plots/style.gp holds what every figure
# shares, the bands' fill included.
band_edge_lw = 1     # a band's edges, min and max over the step sizes
series_lw = 2        # the beta-smoothness line
series_pt = 7
series_ps = 0.5
