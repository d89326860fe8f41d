# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 2140

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

set title "santurkar-landscape: 45 claims, 95% intervals" font title_font
$claims << EOD
1,0.0481218,0.0481218,0.0481218,0.9375,2,bn-gradient-more-predictive (inconclusive),-4.5,0.3,0.9375
2,0.112477,0.112477,0.112477,0.923077,2,bn-beta-lower (inconclusive),-12,1,0.923077
3,0.101904,0.101904,0.101904,0.928571,2,band-narrower (inconclusive),-0.13,0.01,0.928571
4,0.0681902,0.0681902,0.0681902,0.933333,2,bn-gradient-more-predictive-late (inconclusive),-0.28,0.02,0.933333
5,0.945315,0.945315,0.945315,0.0555556,2,bn-gradient-change-below-at-most-probes[step=20] (inconclusive),-0.3,5.1,0.0555556
6,0.0812618,0.0812618,0.0812618,0.916667,2,bn-gradient-change-below-at-most-probes[step=40] (inconclusive),-22,2,0.916667
7,0.0899118,0.0899118,0.0899118,0.95,2,bn-gradient-change-below-at-most-probes[step=60] (inconclusive),-1.9,0.1,0.95
8,0.0508576,0.0508576,0.0508576,0.94,2,bn-gradient-change-below-at-most-probes[step=80] (inconclusive),-4.7,0.3,0.94
9,0.0520721,0.0520721,0.0520721,0.948718,2,bn-gradient-change-below-at-most-probes[step=100] (inconclusive),-7.4,0.4,0.948718
10,0.0682332,0.0682332,0.0682332,0.933333,2,bn-gradient-change-below-at-most-probes[step=120] (inconclusive),-2.8,0.2,0.933333
11,0.0957878,0.0957878,0.0957878,0.923077,2,bn-gradient-change-below-at-most-probes[step=140] (inconclusive),-1.2,0.1,0.923077
12,0.0729265,0.0729265,0.0729265,0.941176,2,bn-gradient-change-below-at-most-probes[step=160] (inconclusive),-1.6,0.1,0.941176
13,0.0588349,0.0588349,0.0588349,0.95122,2,bn-gradient-change-below-at-most-probes[step=180] (inconclusive),-0.39,0.02,0.95122
14,0.940172,0.940172,0.940172,0.0588235,2,bn-gradient-change-below-at-most-probes[step=200] (inconclusive),-0.03,0.48,0.0588235
15,0.0449982,0.0449982,0.0449982,0.94,2,bn-gradient-change-below-at-most-probes[step=220] (inconclusive),-0.47,0.03,0.94
16,0.0465868,0.0465868,0.0465868,0.933333,2,bn-gradient-change-below-at-most-probes[step=240] (inconclusive),-1.4,0.1,0.933333
17,0.0477446,0.0477446,0.0477446,0.947368,2,bn-gradient-change-below-at-most-probes[step=260] (inconclusive),-3.6,0.2,0.947368
18,0.0495515,0.0495515,0.0495515,0.946429,2,bn-gradient-change-below-at-most-probes[step=280] (inconclusive),-0.053,0.003,0.946429
19,0.0681902,0.0681902,0.0681902,0.933333,2,bn-gradient-change-below-at-most-probes[step=300] (inconclusive),-0.28,0.02,0.933333
20,0.823529,0.0588235,0.941176,nan,3,bn-gradient-change-below-at-most-probes: cells (described),-1 cells,16 cells,0.0588235
21,0.950138,0.950138,0.950138,0.046729,2,bn-beta-below-at-most-probes[step=20] (inconclusive),-0.5,10.2,0.046729
22,0.0600546,0.0600546,0.0600546,0.953846,2,bn-beta-below-at-most-probes[step=40] (inconclusive),-62,3,0.953846
23,0.0547398,0.0547398,0.0547398,0.9375,2,bn-beta-below-at-most-probes[step=60] (inconclusive),-4.5,0.3,0.9375
24,0.0636623,0.0636623,0.0636623,0.939394,2,bn-beta-below-at-most-probes[step=80] (inconclusive),-31,2,0.939394
25,0.0528765,0.0528765,0.0528765,0.9375,2,bn-beta-below-at-most-probes[step=100] (inconclusive),-30,2,0.9375
26,0.0859347,0.0859347,0.0859347,0.933333,2,bn-beta-below-at-most-probes[step=120] (inconclusive),-14,1,0.933333
27,0.0460327,0.0460327,0.0460327,0.954545,2,bn-beta-below-at-most-probes[step=140] (inconclusive),-8.4,0.4,0.954545
28,0.10228,0.10228,0.10228,0.928571,2,bn-beta-below-at-most-probes[step=160] (inconclusive),-13,1,0.928571
29,0.0468719,0.0468719,0.0468719,0.953846,2,bn-beta-below-at-most-probes[step=180] (inconclusive),-6.2,0.3,0.953846
30,0.941946,0.941946,0.941946,0.0588235,2,bn-beta-below-at-most-probes[step=200] (inconclusive),-0.004,0.064,0.0588235
31,0.0494658,0.0494658,0.0494658,0.95098,2,bn-beta-below-at-most-probes[step=220] (inconclusive),-9.7,0.5,0.95098
32,0.047003,0.047003,0.047003,0.95,2,bn-beta-below-at-most-probes[step=240] (inconclusive),-9.5,0.5,0.95
33,0.0533136,0.0533136,0.0533136,0.953704,2,bn-beta-below-at-most-probes[step=260] (inconclusive),-10.3,0.5,0.953704
34,0.0633303,0.0633303,0.0633303,0.923077,2,bn-beta-below-at-most-probes[step=280] (inconclusive),-2.4,0.2,0.923077
35,0.0582825,0.0582825,0.0582825,0.945946,2,bn-beta-below-at-most-probes[step=300] (inconclusive),-3.5,0.2,0.945946
36,0.823529,0.0588235,0.941176,nan,3,bn-beta-below-at-most-probes: cells (described),-1 cells,16 cells,0.0588235
37,0.5,0.5,0.5,0.5,3,band-narrower-early: count (described),1.98 (count),2.02 (count),nan
38,0.5,0.5,0.5,0.5,3,band-as-wide-late: count (described),1.98 (count),2.02 (count),nan
39,0.5,0.5,0.5,0.5,3,bn-band-not-narrower-late: count (described),1.98 (count),2.02 (count),nan
40,0.5,0.5,0.5,0.5,3,not-smoother-by-beta-at-init: count (described),1.98 (count),2.02 (count),nan
41,0.5,0.5,0.5,0.5,3,smoother-by-gradient-change-at-init: count (described),0.99 (count),1.01 (count),nan
42,0.5,0.5,0.5,0.5,3,noisy-useless-in-eval: count (described),1.98 (count),2.02 (count),nan
43,0.5,0.5,0.5,0.5,3,noisy-trains-own-statistics: count (described),1.98 (count),2.02 (count),nan
44,0.5,0.5,0.5,0.5,3,noisy-smoothest-by-beta: count (described),1.98 (count),2.02 (count),nan
45,0.5,0.5,0.5,0.5,3,noisy-smoothest-by-gradient-change: count (described),1.98 (count),2.02 (count),nan
EOD
$bands << EOD
37,0.5,0
38,0.5,0
39,0.5,0
40,0.5,0
41,0.5,0
42,0.5,0
43,0.5,0
44,0.5,0
45,0.5,0
EOD
set yrange [0.5:45.5] reverse
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
