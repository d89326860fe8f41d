# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1436

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
# expectation's threshold, or its band for "~ within", marked); plots/style.gp
# holds what every figure shares.
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
verdict_rgb(v) = v == 0 ? holds_rgb : (v == 1 ? fails_rgb : (v == 3 ? described_rgb : inconclusive_rgb))

set title "wortsman-qk-norm: 29 claims, 95% intervals" font title_font
$claims << EOD
1,192652,-63269.2,448574,1000,2,logits-grow-without-qk-norm (inconclusive)
2,4.0481,3.81941,4.27679,100,0,qk-norm-bounds-logits[train.optimizer.lr=0.001] (holds)
3,4.04023,3.91371,4.16675,100,0,qk-norm-bounds-logits[train.optimizer.lr=0.003] (holds)
4,4.44609,4.23412,4.65806,100,0,qk-norm-bounds-logits[train.optimizer.lr=0.01] (holds)
5,6.857,5.19494,8.51906,100,0,qk-norm-bounds-logits[train.optimizer.lr=0.03] (holds)
6,11.8347,-3.49167,27.1612,100,0,qk-norm-bounds-logits[train.optimizer.lr=0.1] (holds)
7,62.3938,-19.9335,144.721,100,2,qk-norm-bounds-logits[train.optimizer.lr=0.3] (inconclusive)
8,9.85392e-05,-6.64159e-05,0.000263494,0.001,0,qk-norm-logits-far-below-at-0.3 (holds)
9,-0.0892804,-0.117076,-0.0614847,0,2,loss-level-at-0.001 (inconclusive)
10,-0.0300968,-0.0521812,-0.00801248,0,0,loss-level-at-0.003 (holds)
11,0.00402081,-0.121103,0.129145,0,2,loss-level-at-0.01 (inconclusive)
12,-0.130263,-0.181232,-0.0792945,0,2,qk-norm-degrades-less-at-0.03 (inconclusive)
13,-0.316011,-1.05698,0.424959,0,2,qk-norm-degrades-less-at-0.3 (inconclusive)
14,1.01143,0.998539,1.02433,1.25,0,qk-norm-tolerates-the-grid[train.optimizer.lr=0.001] (holds)
15,1.04489,0.978363,1.11142,1.25,0,qk-norm-tolerates-the-grid[train.optimizer.lr=0.01] (holds)
16,1.07499,1.0169,1.13308,1.25,0,qk-norm-tolerates-the-grid[train.optimizer.lr=0.03] (holds)
17,1.21625,0.784424,1.64807,1.25,2,qk-norm-tolerates-the-grid[train.optimizer.lr=0.1] (inconclusive)
18,1.22682,0.906179,1.54746,1.25,2,qk-norm-tolerates-the-grid[train.optimizer.lr=0.3] (inconclusive)
19,5,3,5,1.25,2,qk-norm-tolerates-the-grid (inconclusive)
20,1.03842,1.03504,1.0418,1.25,0,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.001] (holds)
21,1.02859,0.925031,1.13215,1.25,0,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.01] (holds)
22,1.11985,1.04953,1.19018,1.25,0,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.03] (holds)
23,1.32425,1.29105,1.35744,1.25,1,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.1] (does not hold)
24,1.35551,1.29662,1.4144,1.25,1,no-qk-norm-tolerates-1.5-decades[train.optimizer.lr=0.3] (does not hold)
25,3,3,3,1.25,3,no-qk-norm-tolerates-1.5-decades (described)
26,0.311965,-0.772382,1.39631,0.5,2,logit-growth-early (inconclusive)
27,1,1,1,1,3,qk-norm-one-seed-near-3-at-top[train.optimizer.lr=0.1] (described)
28,1,1,1,1,3,qk-norm-one-seed-near-3-at-top[train.optimizer.lr=0.3] (described)
29,0,0,2,1,3,qk-norm-one-seed-near-3-at-top (described)
EOD
$bands << EOD
9,0,0.1
10,0,0.1
11,0,0.1
27,1,0
28,1,0
29,1,0
EOD
set yrange [0.5:29.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
