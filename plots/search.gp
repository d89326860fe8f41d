# The look of a search's figures on normlab report's page of a normlab
# search directory: the survival funnel (a bar per stage, the candidates
# left after it) and the Pareto front over the ranking models' scores (a
# point per ranked candidate, the non-dominated marked and named; with one
# model a bar per ranked candidate); plots/style.gp holds what every
# figure shares.
funnel_rgb = 0x4575b4        # the candidates left after a stage
front_rgb = 0xd73027         # the non-dominated (the search's front 0)
dominated_rgb = 0x4575b4     # ranked, dominated by another at its rung
halted_rgb = 0xaaaaaa        # halted at an earlier rung: scores after a shorter budget
front_pt = 7
front_ps = 1.6
dominated_pt = 6
dominated_ps = 1.1
halted_pt = 1
halted_ps = 1.0
bar_fill = 0.7
