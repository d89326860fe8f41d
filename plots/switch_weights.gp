# The switch_weights plot's own style (switchable normalization's softmax
# weights against step); plots/style.gp holds what every figure shares.
series_lw = 2
mean_dt = 1                   # the weights of the mean: solid
var_dt = 2                    # of the variance: dashed
