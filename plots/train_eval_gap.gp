# The train_eval_gap plot's own style (batch norm's test accuracy in eval
# and train mode); plots/style.gp holds what every figure shares.
series_lw = 2
series_ps = 1.1
eval_pt = 7                  # eval mode (running statistics): filled, solid
eval_dt = 1
train_pt = 6                 # train mode (batch statistics): open, dashed
train_dt = 2
run_color = "#1f77b4"        # a single run's two curves against step
run_point_size = 0.7
