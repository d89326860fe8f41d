# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 292

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

set title "cnn-resnet-small-batch-c544-confirm: 3 claims, 95% intervals" font title_font
$claims << EOD
1,0.832124,0.739523,0.923707,0.0454545,1,c544-beats-batch: points (does not hold),-0.1 points,2.1 points,0.0454545
2,0.802742,0.6968,0.906563,0.0526316,1,c544-beats-layer: points (does not hold),-0.1 points,1.8 points,0.0526316
3,0.853361,0.761735,0.946363,0.05,1,c544-beats-group: points (does not hold),-0.1 points,1.9 points,0.05
EOD
$bands << EOD
EOD
set yrange [0.5:3.5] reverse
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
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
