# The trace plot's own style (activation percentiles over training);
# plots/style.gp holds what every figure shares.
median_color = "#08306b"     # the middle percentile
median_lw = 2.5
median_dt = 1
# the other percentiles, from the outermost pair inwards
percentile_colors = "#4292c6 #6baed6 #2171b5 #9ecae1 #08519c #c6dbef"
percentile_lw = 1.8
percentile_dt = 2
