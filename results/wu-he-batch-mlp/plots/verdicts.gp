# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1040

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

set title "wu-he-batch-mlp: 20 claims, 95% intervals" font title_font
$claims << EOD
1,0.7125,0.492886,0.932114,0.0464286,0,bn-fails-at-2: points (holds),4 points,32 points,nan
2,0.68,0.405493,0.954507,0.0516667,0,bn-degrades-2-vs-32: points (holds),4 points,34 points,nan
3,0.5,0.053305,0.946695,0.366197,2,gn-batch-independent[train.batch_size=2]: points (inconclusive),-2.6 points,4.5 points,0.366197
4,0.5,0.0492103,0.95079,0.356322,2,gn-batch-independent[train.batch_size=4]: points (inconclusive),-3.1 points,5.6 points,0.356322
5,0.501558,0.0540298,0.949085,0.327103,2,gn-batch-independent[train.batch_size=8]: points (inconclusive),-3.5 points,7.2 points,0.327103
6,0.5,0.0512585,0.948741,0.345238,2,gn-batch-independent[train.batch_size=16]: points (inconclusive),-2.9 points,5.5 points,0.345238
7,0.460784,0.0539874,0.867581,0.54902,2,gn-batch-independent[train.batch_size=64]: points (inconclusive),-2.8 points,2.3 points,0.54902
8,0.946429,0.0535714,0.946429,0.946429,2,gn-batch-independent: cells (inconclusive),-0.3 cells,5.3 cells,0.0535714
9,0.495833,0.0468343,0.944832,0.44375,2,bn-behind-at-4: points (inconclusive),-2 points,6 points,0.25
10,0.5,0.0467944,0.953206,0.315789,2,ln-batch-independent[train.batch_size=2]: points (inconclusive),-2.4 points,5.2 points,0.315789
11,0.5033,0.0544198,0.952181,0.336634,2,ln-batch-independent[train.batch_size=4]: points (inconclusive),-3.4 points,6.7 points,0.336634
12,0.496855,0.0457139,0.947997,0.264151,2,ln-batch-independent[train.batch_size=8]: points (inconclusive),-2.8 points,7.8 points,0.264151
13,0.498062,0.0514279,0.944696,0.337209,2,ln-batch-independent[train.batch_size=16]: points (inconclusive),-2.9 points,5.7 points,0.337209
14,0.524242,0.0943724,0.954112,0.418182,2,ln-batch-independent[train.batch_size=64]: points (inconclusive),-2.3 points,3.2 points,0.418182
15,0.767857,0.0535714,0.946429,0.946429,2,ln-batch-independent: cells (inconclusive),-0.3 cells,5.3 cells,0.0535714
16,0.497585,0.0506907,0.944478,0.652174,2,bn-as-gn-from-8[train.batch_size=8]: points (inconclusive),-4.5 points,2.4 points,0.652174
17,0.446009,0.0481107,0.843908,0.661972,2,bn-as-gn-from-8[train.batch_size=16]: points (inconclusive),-4.7 points,2.4 points,0.661972
18,0.613636,0.362733,0.86454,0.5,0,bn-as-gn-from-8[train.batch_size=32]: points (holds),-2.2 points,2.2 points,0.5
19,0.954545,0.0454545,0.954545,0.954545,2,bn-as-gn-from-8: cells (inconclusive),0.9 cells,3.1 cells,nan
20,0.5,0.5,0.5,0.5,3,bn-train-eval-gap-at-2: count (described),2.97 (count),3.03 (count),nan
EOD
$bands << EOD
3,0.366197,0.28169
4,0.356322,0.229885
5,0.327103,0.186916
6,0.345238,0.238095
7,0.54902,0.392157
10,0.315789,0.263158
11,0.336634,0.19802
12,0.264151,0.188679
13,0.337209,0.232558
14,0.418182,0.363636
16,0.652174,0.289855
17,0.661972,0.28169
18,0.5,0.454545
20,0.5,0
EOD
set yrange [0.5:20.5] reverse
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
