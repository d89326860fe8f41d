# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 952

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
expect_rgb = 0x2166ac
verdict_rgb(v) = v == 0 ? holds_rgb : (v == 1 ? fails_rgb : inconclusive_rgb)

set title "wu-he-batch-cnn: 18 claims, 95% intervals" font title_font
$claims << EOD
1,0.00766667,-0.0145637,0.029897,0,2,bn-level-with-gn-at-2 (inconclusive)
2,0.0075,-0.0173103,0.0323103,0,2,bn-2-level-with-32 (inconclusive)
3,-0.00183333,-0.0129659,0.00929919,0,2,bn-train-mode-within-a-point[train.batch_size=2] (inconclusive)
4,-0.00133333,-0.0131384,0.0104718,0,2,bn-train-mode-within-a-point[train.batch_size=4] (inconclusive)
5,0.00166667,-0.00889701,0.0122303,0,2,bn-train-mode-within-a-point[train.batch_size=8] (inconclusive)
6,-0.002,-0.0170593,0.0130593,0,2,bn-train-mode-within-a-point[train.batch_size=16] (inconclusive)
7,-0.00116263,-0.00342109,0.00109582,0,0,bn-train-mode-within-a-point[train.batch_size=32] (holds)
8,0.000885753,-0.00578772,0.00755923,0,2,bn-train-mode-within-a-point[train.batch_size=64] (inconclusive)
9,0.000333333,-0.0158771,0.0165438,0,2,no-ln-in-penalty[model.norm.type=none] (inconclusive)
10,-0.0095,-0.0487187,0.0297187,0,2,no-ln-in-penalty[model.norm.type=batch] (inconclusive)
11,-0.003,-0.00957241,0.00357241,0,2,no-ln-in-penalty[model.norm.type=layer] (inconclusive)
12,-0.0095,-0.0262103,0.00721033,0,2,no-ln-in-penalty[model.norm.type=instance] (inconclusive)
13,0.0143333,-0.0389648,0.0676315,0,2,everything-worse-at-64[model.norm.type=none] (inconclusive)
14,0.0376667,-0.00642824,0.0817616,0,2,everything-worse-at-64[model.norm.type=batch] (inconclusive)
15,0.0506667,0.0105278,0.0908055,0,0,everything-worse-at-64[model.norm.type=layer] (holds)
16,0.032,-0.00297698,0.066977,0,2,everything-worse-at-64[model.norm.type=group] (inconclusive)
17,0.0325,0.012053,0.052947,0,0,everything-worse-at-64[model.norm.type=instance] (holds)
18,5,2,5,0,2,everything-worse-at-64 (inconclusive)
EOD
$bands << EOD
1,0,0.02
2,0,0.02
3,0,0.01
4,0,0.01
5,0,0.01
6,0,0.01
7,0,0.01
8,0,0.01
9,0,0.02
10,0,0.02
11,0,0.02
12,0,0.02
EOD
set yrange [0.5:18.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
