# normlab verdict's forest plot: a row per claim, each on its own axis
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

set title "speed2-2026-11-23: 29 claims, 95% intervals" font title_font
$claims << EOD
1,0.49992,0.0734612,0.92638,0.642857,2,rms-forward-below-bn[shape=32x64x28x28]: ratio (inconclusive),-0.8 ratio,2 ratio,0.285714
2,0.498158,0.0480798,0.948237,0.736364,2,rms-forward-below-bn[shape=128x256x14x14]: ratio (inconclusive),0.19 ratio,1.29 ratio,nan
3,0.233725,0.0555253,0.411924,0.953846,0,rms-forward-below-bn[shape=256x1024]: ratio (holds),0.38 ratio,1.03 ratio,nan
4,0.954545,0.0454545,0.954545,0.954545,2,rms-forward-below-bn: cells (inconclusive),0.9 cells,3.1 cells,nan
5,0.491642,0.0624323,0.920851,0.6,2,rms-backward-level-with-bn[shape=32x64x28x28]: ratio (inconclusive),-0.5 ratio,2 ratio,0.2
6,0.396782,0.0665849,0.726979,0.95122,0,rms-backward-level-with-bn[shape=128x256x14x14]: ratio (holds),0.61 ratio,1.02 ratio,nan
7,0.50053,0.0483353,0.952725,0.68254,2,rms-backward-level-with-bn[shape=256x1024]: ratio (inconclusive),0.57 ratio,1.2 ratio,nan
8,0.954545,0.0454545,0.954545,0.954545,2,rms-backward-level-with-bn: cells (inconclusive),0.9 cells,3.1 cells,nan
9,0.505553,0.0599382,0.951167,0.396825,2,dyt-not-met[mode=fwd_train;shape=32x64x28x28]: ratio (inconclusive),-1.5 ratio,4.8 ratio,0.238095
10,0.49644,0.0596445,0.933235,0.410256,2,dyt-not-met[mode=bwd;shape=32x64x28x28]: ratio (inconclusive),-0.6 ratio,3.3 ratio,0.153846
11,0.496033,0.0471563,0.944909,0.315217,2,dyt-not-met[mode=fwd_train;shape=128x256x14x14]: ratio (inconclusive),0.71 ratio,1.63 ratio,nan
12,0.603425,0.256626,0.950225,0.0543478,0,dyt-not-met[mode=bwd;shape=128x256x14x14]: ratio (holds),0.95 ratio,1.87 ratio,nan
13,0.622348,0.293813,0.950883,0.08,0,dyt-not-met[mode=fwd_train;shape=256x1024]: ratio (holds),0.8 ratio,3.3 ratio,nan
14,0.530105,0.110451,0.949759,0.0566038,0,dyt-not-met[mode=bwd;shape=256x1024]: ratio (holds),0.7 ratio,6 ratio,nan
15,0.941176,0.0588235,0.941176,0.941176,2,dyt-not-met: cells (inconclusive),2.8 cells,6.2 cells,nan
16,0.500238,0.0537405,0.946736,0.4,2,frn-not-met[mode=fwd_train;shape=32x64x28x28]: ratio (inconclusive),-0.8 ratio,3.7 ratio,0.177778
17,0.502822,0.0630997,0.942543,0.380952,2,frn-not-met[mode=bwd;shape=32x64x28x28]: ratio (inconclusive),-0.6 ratio,3.6 ratio,0.142857
18,0.49961,0.0521583,0.947063,0.421053,2,frn-not-met[mode=fwd_train;shape=128x256x14x14]: ratio (inconclusive),0.2 ratio,2.1 ratio,nan
19,0.492338,0.0600494,0.924627,0.272727,2,frn-not-met[mode=bwd;shape=128x256x14x14]: ratio (inconclusive),0.4 ratio,2.6 ratio,nan
20,0.954545,0.0454545,0.954545,0.954545,2,frn-not-met: cells (inconclusive),-0.2 cells,4.2 cells,0.0454545
21,0.494769,0.0553158,0.934222,0.461538,2,renorm-forward-not-met[shape=32x64x28x28]: ratio (inconclusive),-0.8 ratio,3.1 ratio,0.205128
22,0.499285,0.100574,0.897996,0.3125,2,renorm-forward-not-met[shape=128x256x14x14]: ratio (inconclusive),0.5 ratio,2.1 ratio,nan
23,0.505942,0.0822262,0.929658,0.304348,2,renorm-forward-not-met[shape=256x1024]: ratio (inconclusive),0.3 ratio,2.6 ratio,nan
24,0.941176,0.0588235,0.941176,0.941176,2,renorm-forward-not-met: cells (inconclusive),-0.2 cells,3.2 cells,0.0588235
25,0.5099,0.0674382,0.952361,0.436538,2,rms-step-faster-than-ln[model=mlp;batch=8]: ratio (inconclusive),-0.1 ratio,2.5 ratio,0.0384615
26,0.505278,0.060246,0.95031,0.527419,2,rms-step-faster-than-ln[model=mlp;batch=32]: ratio (inconclusive),-0.6 ratio,2.5 ratio,0.193548
27,0.499892,0.0478987,0.951885,0.405263,2,rms-step-faster-than-ln[model=cnn;batch=8]: ratio (inconclusive),0.65 ratio,1.6 ratio,nan
28,0.500966,0.0492768,0.952656,0.664179,2,rms-step-faster-than-ln[model=cnn;batch=32]: ratio (inconclusive),0.59 ratio,1.26 ratio,nan
29,0.5,0.0454545,0.954545,0.954545,2,rms-step-faster-than-ln: cells (inconclusive),-0.2 cells,4.2 cells,0.0454545
EOD
$bands << EOD
EOD
set yrange [0.5:29.5] reverse
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
