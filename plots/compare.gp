# The look of normlab compare (the curves of several run or sweep
# directories in one figure: training loss and a test metric against step);
# plots/style.gp holds what every figure shares.
curve_lw = 2                 # a variant's mean line (its band: style.gp's fill style)
point_type = 7               # a variant with a single point is drawn as points
point_size = 0.9
