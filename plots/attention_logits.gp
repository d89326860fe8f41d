# The attention_logits plot's own style (the largest attention logit against
# step); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5
