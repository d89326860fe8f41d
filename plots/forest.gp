# The look of normlab verdict's forest plot (plots/verdicts.gp of a sweep
# directory: a row per claim, its mean effect with its interval, the
# expectation's threshold, or its band for "~ within", marked; each row on
# its own axis, drawn as a thin line with its ends' values beside it and a
# tick at 0 where 0 lies on it); plots/style.gp holds what every figure shares.
effect_lw = 2                # the interval
effect_pt = 7                # the mean effect
effect_ps = 1.3
expect_pt = 9                # the threshold
expect_ps = 1.6
band_lw = 6                  # the band of a "~ within" claim
holds_rgb = 0x1b7837         # the verdicts' colours
fails_rgb = 0xb2182b
inconclusive_rgb = 0x777777
described_rgb = 0xbf9b30     # a count: what happened, not a test
expect_rgb = 0x2166ac
axis_rgb = 0x888888          # a row's own axis, its ends' values and its 0
zero_lw = 2                  # the tick at 0 on a row's axis
verdict_rgb(v) = v == 0 ? holds_rgb : (v == 1 ? fails_rgb : (v == 3 ? described_rgb : inconclusive_rgb))
