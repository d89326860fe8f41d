# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1392

# The look every figure of normlab plot shares: output format and size,
# fonts, border, grid, legend and bands. normlab copies this file into each
# script it writes (plots/NAME.gp), after the lines that set
#   fig_name    the file name without extension ("curves"; normlab plot
#               gives a temporary one and renames the picture when whole)
#   fig_width, fig_height    the figure's size in pixels (PNG) or points (PDF)
# Restyle: normlab plot --write-templates DIR, edit DIR/style.gp, then
# normlab plot RESULTS --templates DIR. Series colours are normlab's (one
# per normalizer, the same in every figure); the kind's own file
# (curves.gp, lr.gp, ...) holds its line widths and markers.

if (!exists("fmt")) fmt = "png"
# PDF: a point per PNG pixel; pdfcairo's line width unit is half a point and
# it scales fonts by 0.5 unless told otherwise
if (fmt eq "svg") {
    set terminal svg size fig_width,fig_height dynamic font "Sans,12" background rgb "white"
} else { if (fmt eq "pdf") {
    set terminal pdfcairo size fig_width/72.0,fig_height/72.0 font "Sans,11" fontscale 1 linewidth 2 background rgb "white"
} else {
    set terminal pngcairo size fig_width,fig_height font "Sans,11" background rgb "white"
} }
set output fig_name.".".fmt
set termoption noenhanced
set datafile separator comma
set border lc rgb "#444444"
set grid lc rgb "#e0e0e0" lt 1
set key opaque box lc rgb "#cccccc" samplen 2.5 spacing 1.1
set style fill transparent solid 0.18 noborder

# the title, subtitle and footnote (normlab places them)
title_font = ",15"
subtitle_font = ",10"
subtitle_color = "#505050"
footnote_font = ",9"
footnote_color = "#606060"

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

set title "wortsman-qk-norm: 28 claims, 95% intervals" font title_font
$claims << EOD
1,0.495881,0.0468962,0.944867,0.157896,2,logits-grow-without-qk-norm: ratio (inconclusive),-9e+04 ratio,4.8e+05 ratio,0.157895
2,0.5,0.5,0.5,0.5,3,qk-norm-bounds-logits[train.optimizer.lr=0.001]: count (described),-0.0001 (count),0.0001 (count),0.5
3,0.5,0.5,0.5,0.5,3,qk-norm-bounds-logits[train.optimizer.lr=0.003]: count (described),-0.0001 (count),0.0001 (count),0.5
4,0.5,0.5,0.5,0.5,3,qk-norm-bounds-logits[train.optimizer.lr=0.01]: count (described),-0.0001 (count),0.0001 (count),0.5
5,0.5,0.5,0.5,0.5,3,qk-norm-bounds-logits[train.optimizer.lr=0.03]: count (described),-0.0001 (count),0.0001 (count),0.5
6,0.5,0.5,0.5,0.5,3,qk-norm-bounds-logits[train.optimizer.lr=0.1]: count (described),-0.0001 (count),0.0001 (count),0.5
7,0.5,0.5,0.5,0.5,3,qk-norm-bounds-logits[train.optimizer.lr=0.3]: count (described),-0.0001 (count),0.0001 (count),0.5
8,0.0834154,0.083278,0.0835529,0.916667,0,qk-norm-logits-below-at-0.3: ratio (holds),-0.1 ratio,1.1 ratio,0.0833333
9,0.162879,0.051696,0.274061,0.52,2,loss-level-at-0.001: nats (inconclusive),-0.13 nats,0.12 nats,0.52
10,0.374597,0.282578,0.466615,0.5,0,loss-level-at-0.003: nats (holds),-0.12 nats,0.12 nats,0.5
11,0.496623,0.0651617,0.928085,0.482759,2,loss-level-at-0.01: nats (inconclusive),-0.14 nats,0.15 nats,0.482759
12,0.33208,0.089371,0.574788,0.952381,0,qk-norm-degrades-less-at-0.03: nats (holds),-0.2 nats,0.01 nats,0.952381
13,0.519994,0.0841289,0.955858,0.705882,2,qk-norm-degrades-less-at-0.3: nats (inconclusive),-1.2 nats,0.5 nats,0.705882
14,0.5,0.5,0.5,0.5,3,qk-norm-tolerates-the-grid[train.optimizer.lr=0.001]: count (described),-0.0001 (count),0.0001 (count),0.5
15,0.5,0.5,0.5,0.5,3,qk-norm-tolerates-the-grid[train.optimizer.lr=0.01]: count (described),-0.0001 (count),0.0001 (count),0.5
16,0.5,0.5,0.5,0.5,3,qk-norm-tolerates-the-grid[train.optimizer.lr=0.03]: count (described),-0.0001 (count),0.0001 (count),0.5
17,0.916667,0.916667,0.916667,0.0833333,3,qk-norm-tolerates-the-grid[train.optimizer.lr=0.1]: count (described),-0.1 (count),1.1 (count),0.0833333
18,0.916667,0.916667,0.916667,0.0833333,3,qk-norm-tolerates-the-grid[train.optimizer.lr=0.3]: count (described),-0.1 (count),1.1 (count),0.0833333
19,0.0736936,0.0601766,0.0872106,0.92,0,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.001]: ratio (holds),1.02 ratio,1.27 ratio,nan
20,0.347547,0.0676509,0.627444,0.945946,0,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.01]: ratio (holds),0.9 ratio,1.27 ratio,nan
21,0.374394,0.0813905,0.667398,0.916667,0,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.03]: ratio (holds),1.03 ratio,1.27 ratio,nan
22,0.648043,0.39268,0.903406,0.0769231,1,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.1]: ratio (does not hold),1.24 ratio,1.37 ratio,nan
23,0.607956,0.29802,0.917891,0.0526316,1,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.3]: ratio (does not hold),1.24 ratio,1.43 ratio,nan
24,0.5,0.5,0.5,nan,3,no-qk-norm-tolerates-1.5-decades: cells (described),2.97 cells,3.03 cells,nan
25,0.5,0.5,0.5,0.5,3,logit-growth-early: count (described),0.99 (count),1.01 (count),nan
26,0.5,0.5,0.5,0.5,3,qk-norm-one-seed-near-3-at-top[train.optimizer.lr=0.1]: count (described),0.99 (count),1.01 (count),nan
27,0.5,0.5,0.5,0.5,3,qk-norm-one-seed-near-3-at-top[train.optimizer.lr=0.3]: count (described),0.99 (count),1.01 (count),nan
28,0.0454545,0.0454545,0.954545,nan,3,qk-norm-one-seed-near-3-at-top: cells (described),-0.1 cells,2.1 cells,0.0454545
EOD
$bands << EOD
2,0.5,0
3,0.5,0
4,0.5,0
5,0.5,0
6,0.5,0
7,0.5,0
9,0.52,0.4
10,0.5,0.416667
11,0.482759,0.344828
14,0.5,0
15,0.5,0
16,0.5,0
17,0.0833333,0
18,0.0833333,0
25,0.5,0
26,0.5,0
27,0.5,0
EOD
set yrange [0.5:28.5] reverse
set xrange [-0.2:1.2]
set bmargin 5
unset xtics
set grid noxtics
set xlabel "effect as each claim says, each row on its own axis in its claim's unit, named at its ends (points, nats, ratio, % of seeds, cells)"
set key at screen 0.99, screen 0.01 right bottom horizontal
plot $claims using (0):1:(1):(0) with vectors nohead lc rgb axis_rgb notitle, \
     $claims using (0):1:8 with labels right offset -0.5,0 tc rgb axis_rgb notitle, \
     $claims using (1):1:9 with labels left offset 0.5,0 tc rgb axis_rgb notitle, \
     $claims using 10:($1-0.22):(0):(0.44) with vectors nohead lw zero_lw lc rgb axis_rgb title "0 on the row's axis", \
     $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
