# The weight_stats plot's own style (a weight tensor's update ratio, norm or
# effective learning rate against step, per layer); plots/style.gp holds
# what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5
reference_dt = 2              # effective_lr's sqrt(2 lr wd) line per variant
reference_color = "#808080"   # ... its colour when the lines are layers
