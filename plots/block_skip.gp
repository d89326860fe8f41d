# The block_skip plot's own style (the loss increase when each residual
# block is removed, against the block's depth); plots/style.gp holds what
# every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.6
