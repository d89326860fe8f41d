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

set title "speed2-2026-11-23: 29 claims, 95% intervals" font title_font
$claims << EOD
1,0.599777,-0.594309,1.79386,1,2,rms-forward-below-bn[shape=32x64x28x28] (inconclusive)
2,0.737974,0.242888,1.23306,1,2,rms-forward-below-bn[shape=128x256x14x14] (inconclusive)
3,0.531921,0.416091,0.647751,1,0,rms-forward-below-bn[shape=256x1024] (holds)
4,3,1,3,1,2,rms-forward-below-bn (inconclusive)
5,0.729104,-0.343919,1.80213,1,2,rms-backward-level-with-bn[shape=32x64x28x28] (inconclusive)
6,0.772681,0.6373,0.908061,1,0,rms-backward-level-with-bn[shape=128x256x14x14] (holds)
7,0.885334,0.600451,1.17022,1,2,rms-backward-level-with-bn[shape=256x1024] (inconclusive)
8,3,1,3,1,2,rms-backward-level-with-bn (inconclusive)
9,1.68498,-1.12239,4.49235,1,2,dyt-not-met[mode=fwd_train;shape=32x64x28x28] (inconclusive)
10,1.33611,-0.367387,3.03962,1,2,dyt-not-met[mode=bwd;shape=32x64x28x28] (inconclusive)
11,1.16635,0.753384,1.57932,1,2,dyt-not-met[mode=fwd_train;shape=128x256x14x14] (inconclusive)
12,1.50515,1.1861,1.82421,1,0,dyt-not-met[mode=bwd;shape=128x256x14x14] (holds)
13,2.35587,1.53453,3.17721,1,0,dyt-not-met[mode=fwd_train;shape=256x1024] (holds)
14,3.50956,1.28539,5.73372,1,0,dyt-not-met[mode=bwd;shape=256x1024] (holds)
15,6,3,6,1,2,dyt-not-met (inconclusive)
16,1.45107,-0.558168,3.46031,1,2,frn-not-met[mode=fwd_train;shape=32x64x28x28] (inconclusive)
17,1.51185,-0.334981,3.35868,1,2,frn-not-met[mode=bwd;shape=32x64x28x28] (inconclusive)
18,1.14926,0.299101,1.99942,1,2,frn-not-met[mode=fwd_train;shape=128x256x14x14] (inconclusive)
19,1.48314,0.532109,2.43418,1,2,frn-not-met[mode=bwd;shape=128x256x14x14] (inconclusive)
20,4,0,4,1,2,frn-not-met (inconclusive)
21,1.1296,-0.584269,2.84347,1,2,renorm-forward-not-met[shape=32x64x28x28] (inconclusive)
22,1.29886,0.660919,1.93679,1,2,renorm-forward-not-met[shape=128x256x14x14] (inconclusive)
23,1.46367,0.48912,2.43821,1,2,renorm-forward-not-met[shape=256x1024] (inconclusive)
24,3,0,3,1,2,renorm-forward-not-met (inconclusive)
25,1.22574,0.0753392,2.37614,1.035,2,rms-step-faster-than-ln[model=mlp;batch=8] (inconclusive)
26,0.966362,-0.413237,2.34596,1.035,2,rms-step-faster-than-ln[model=mlp;batch=32] (inconclusive)
27,1.1249,0.695504,1.55429,1.035,2,rms-step-faster-than-ln[model=cnn;batch=8] (inconclusive)
28,0.925647,0.623015,1.22828,1.035,2,rms-step-faster-than-ln[model=cnn;batch=32] (inconclusive)
29,2,0,4,1.035,2,rms-step-faster-than-ln (inconclusive)
EOD
$bands << EOD
EOD
set yrange [0.5:29.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
