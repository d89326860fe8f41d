# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1524

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

set title "ba-ln-lstm-kjv: 31 claims, 95% intervals" font title_font
$claims << EOD
1,0.185986,0.0494192,0.322553,0.951923,0,normalized-end-lower[model.norm.type=layer]: nats (holds),-0.099 nats,0.005 nats,0.951923
2,0.117396,0.0540646,0.180727,0.95098,0,normalized-end-lower[model.norm.type=rms]: nats (holds),-0.097 nats,0.005 nats,0.95098
3,0.5,0.5,0.5,0.5,0,normalized-end-lower: cells (holds),1.98 cells,2.02 cells,nan
4,0.5,0.5,0.5,0.5,3,normalized-end-lower-every-seed[model.norm.type=layer]: count (described),-0.0001 (count),0.0001 (count),0.5
5,0.5,0.5,0.5,0.5,3,normalized-end-lower-every-seed[model.norm.type=rms]: count (described),-0.0001 (count),0.0001 (count),0.5
6,0.304374,0.0720693,0.53668,0.923077,0,normalized-faster[model.norm.type=layer]: nats (holds),-0.12 nats,0.01 nats,0.923077
7,0.126767,0.0500178,0.203517,0.951456,0,normalized-faster[model.norm.type=rms]: nats (holds),-0.098 nats,0.005 nats,0.951456
8,0.5,0.5,0.5,0.5,0,normalized-faster: cells (holds),1.98 cells,2.02 cells,nan
9,0.377996,0.104093,0.651899,0.5,0,rms-as-ln: nats (holds),-0.022 nats,0.022 nats,0.5
10,0.304374,0.0720693,0.53668,0.923077,0,ln-below-plain-every-eval[step=50]: nats (holds),-0.12 nats,0.01 nats,0.923077
11,0.259281,0.0988059,0.419755,0.9375,0,ln-below-plain-every-eval[step=100]: nats (holds),-0.15 nats,0.01 nats,0.9375
12,0.127393,0.0539688,0.200818,0.933333,0,ln-below-plain-every-eval[step=150]: nats (holds),-0.14 nats,0.01 nats,0.933333
13,0.153279,0.0654027,0.241155,0.928571,0,ln-below-plain-every-eval[step=200]: nats (holds),-0.13 nats,0.01 nats,0.928571
14,0.266386,0.0622027,0.470569,0.933333,0,ln-below-plain-every-eval[step=250]: nats (holds),-0.14 nats,0.01 nats,0.933333
15,0.181087,0.0821258,0.280048,0.923077,0,ln-below-plain-every-eval[step=300]: nats (holds),-0.12 nats,0.01 nats,0.923077
16,0.14469,0.0666696,0.22271,0.916667,0,ln-below-plain-every-eval[step=350]: nats (holds),-0.11 nats,0.01 nats,0.916667
17,0.292679,0.0678144,0.517544,0.933333,0,ln-below-plain-every-eval[step=400]: nats (holds),-0.14 nats,0.01 nats,0.933333
18,0.109613,0.0524526,0.166774,0.949495,0,ln-below-plain-every-eval[step=450]: nats (holds),-0.094 nats,0.005 nats,0.949495
19,0.185986,0.0494192,0.322553,0.951923,0,ln-below-plain-every-eval[step=500]: nats (holds),-0.099 nats,0.005 nats,0.951923
20,0.5,0.5,0.5,0.5,0,ln-below-plain-every-eval: cells (holds),9.9 cells,10.1 cells,nan
21,0.126767,0.0500178,0.203517,0.951456,0,rms-below-plain-every-eval[step=50]: nats (holds),-0.098 nats,0.005 nats,0.951456
22,0.212353,0.0918555,0.33285,0.9375,0,rms-below-plain-every-eval[step=100]: nats (holds),-0.15 nats,0.01 nats,0.9375
23,0.13699,0.0454157,0.228564,0.933333,0,rms-below-plain-every-eval[step=150]: nats (holds),-0.14 nats,0.01 nats,0.933333
24,0.12325,0.0644293,0.182071,0.928571,0,rms-below-plain-every-eval[step=200]: nats (holds),-0.13 nats,0.01 nats,0.928571
25,0.144502,0.0957635,0.193241,0.923077,0,rms-below-plain-every-eval[step=250]: nats (holds),-0.12 nats,0.01 nats,0.923077
26,0.198847,0.0780088,0.319684,0.928571,0,rms-below-plain-every-eval[step=300]: nats (holds),-0.13 nats,0.01 nats,0.928571
27,0.132562,0.0483733,0.216752,0.923077,0,rms-below-plain-every-eval[step=350]: nats (holds),-0.12 nats,0.01 nats,0.923077
28,0.309389,0.0912024,0.527576,0.933333,0,rms-below-plain-every-eval[step=400]: nats (holds),-0.14 nats,0.01 nats,0.933333
29,0.174498,0.0534846,0.295512,0.954545,0,rms-below-plain-every-eval[step=450]: nats (holds),-0.105 nats,0.005 nats,0.954545
30,0.117396,0.0540646,0.180727,0.95098,0,rms-below-plain-every-eval[step=500]: nats (holds),-0.097 nats,0.005 nats,0.95098
31,0.5,0.5,0.5,0.5,0,rms-below-plain-every-eval: cells (holds),9.9 cells,10.1 cells,nan
EOD
$bands << EOD
4,0.5,0
5,0.5,0
9,0.5,0.454545
EOD
set yrange [0.5:31.5] reverse
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
