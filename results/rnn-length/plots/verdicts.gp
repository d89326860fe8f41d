# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 908

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

set title "rnn-length: 17 claims, 95% intervals" font title_font
$claims << EOD
1,-0.0404971,-0.0422892,-0.0387051,-0.03,0,bn-gains-with-length[model.norm.type=none] (holds)
2,-0.0454209,-0.0498728,-0.0409689,-0.03,0,bn-gains-with-length[model.norm.type=layer] (holds)
3,-0.0384001,-0.0407212,-0.0360789,-0.03,0,bn-gains-with-length[model.norm.type=batch] (holds)
4,0.467482,0.431619,0.503345,0.3,0,bn-own-batch-hurts (holds)
5,-0.00493906,-0.0357664,0.0258882,0,2,length-adds-nothing (inconclusive)
6,-0.056528,-0.0657679,-0.0472881,0,0,ln-best-at-t (holds)
7,0.0147537,-0.0101143,0.0396217,0,2,bn-level-with-plain-at-t (inconclusive)
8,0.00209708,0.00123929,0.00295487,0,0,bn-drop-as-plain (holds)
9,-0.00492373,-0.0100599,0.000212436,0,2,ln-drops-more (inconclusive)
10,0,0,0,0,3,batch-1-is-running[model.norm.type=none] (described)
11,0,0,0,0,3,batch-1-is-running[model.norm.type=layer] (described)
12,0,0,0,0,3,batch-1-is-running[model.norm.type=batch] (described)
13,1.20656,1.16036,1.25275,1,0,bn-own-batch-hurts-at-2 (holds)
14,0.0737519,0.06372,0.0837839,0.05,0,bn-own-batch-hurts-at-16 (holds)
15,0,0,0,0,3,plain-ln-no-batch-statistics[model.norm.type=none] (described)
16,0,0,0,0,3,plain-ln-no-batch-statistics[model.norm.type=layer] (described)
17,-0.0614517,-0.0755545,-0.047349,0,0,ordering-holds-at-4t (holds)
EOD
$bands << EOD
5,0,0.03
7,0,0.01
8,0,0.005
10,0,0
11,0,0
12,0,0
15,0,0
16,0,0
EOD
set yrange [0.5:17.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
