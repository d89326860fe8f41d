# The curves plot's own style (training loss and a test metric against
# step); plots/style.gp holds what every figure shares.
curve_lw = 2                 # a variant's mean line (its band: style.gp's fill style)
point_type = 7               # a variant with a single point is drawn as points
point_size = 0.9
run_train_color = "#1f77b4"  # a single run: its training loss
run_test_color = "#d62728"   #   and its test metric
run_point_size = 0.6
