# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 3900

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

set title "finetune-shift: 85 claims, 95% intervals" font title_font
$claims << EOD
1,0.5,0.5,0.5,0.5,2,reset-fixes[data.per_class=10;train.batch_size=4]: points (inconclusive),-0.0001 points,0.0001 points,0.5
2,0.5,0.5,0.5,0.5,2,reset-fixes[data.per_class=10;train.batch_size=32]: points (inconclusive),-0.0001 points,0.0001 points,0.5
3,0.5,0.5,0.5,0.5,2,reset-fixes[data.per_class=100;train.batch_size=4]: points (inconclusive),-0.0001 points,0.0001 points,0.5
4,0.5,0.5,0.5,0.5,2,reset-fixes[data.per_class=100;train.batch_size=32]: points (inconclusive),-0.0001 points,0.0001 points,0.5
5,0.5,0.5,0.5,0.5,2,reset-fixes[data.per_class=1000;train.batch_size=4]: points (inconclusive),-0.0001 points,0.0001 points,0.5
6,0.5,0.5,0.5,0.5,2,reset-fixes[data.per_class=1000;train.batch_size=32]: points (inconclusive),-0.0001 points,0.0001 points,0.5
7,0.0597015,0.0597015,0.955224,0.955224,2,reset-fixes: cells (inconclusive),-0.4 cells,6.3 cells,0.0597015
8,0.942584,0.942584,0.942584,0.0454545,2,freeze-fixes[data.per_class=10;train.batch_size=4]: points (inconclusive),-0.1 points,2.1 points,0.0454545
9,0.915173,0.915173,0.915173,0.047619,2,freeze-fixes[data.per_class=10;train.batch_size=32]: points (inconclusive),-0.1 points,2 points,0.047619
10,0.916171,0.916171,0.916171,0.0588235,2,freeze-fixes[data.per_class=100;train.batch_size=4]: points (inconclusive),-1 points,16 points,0.0588235
11,0.939106,0.939106,0.939106,0.0612245,2,freeze-fixes[data.per_class=100;train.batch_size=32]: points (inconclusive),-0.3 points,4.6 points,0.0612245
12,0.948127,0.948127,0.948127,0.0625,2,freeze-fixes[data.per_class=1000;train.batch_size=4]: points (inconclusive),-0.1 points,1.5 points,0.0625
13,0.943665,0.943665,0.943665,0.0487805,2,freeze-fixes[data.per_class=1000;train.batch_size=32]: points (inconclusive),-0.4 points,7.8 points,0.0487805
14,0.0597015,0.0597015,0.955224,0.955224,2,freeze-fixes: cells (inconclusive),-0.4 cells,6.3 cells,0.0597015
15,0.947304,0.947304,0.947304,0.047619,2,gn-swap-fixes-few-shot-small-batch: points (inconclusive),-0.3 points,6 points,0.047619
16,0.0833333,0.0833333,0.0833333,0.916667,3,freeze-worst-every-row[data.per_class=10;train.batch_size=4]: count (described),-0.1 (count),1.1 (count),0.0833333
17,0.0833333,0.0833333,0.0833333,0.916667,3,freeze-worst-every-row[data.per_class=10;train.batch_size=32]: count (described),-0.1 (count),1.1 (count),0.0833333
18,0.5,0.5,0.5,0.5,3,freeze-worst-every-row[data.per_class=100;train.batch_size=4]: count (described),0.99 (count),1.01 (count),nan
19,0.5,0.5,0.5,0.5,3,freeze-worst-every-row[data.per_class=100;train.batch_size=32]: count (described),0.99 (count),1.01 (count),nan
20,0.5,0.5,0.5,0.5,3,freeze-worst-every-row[data.per_class=1000;train.batch_size=4]: count (described),0.99 (count),1.01 (count),nan
21,0.5,0.5,0.5,0.5,3,freeze-worst-every-row[data.per_class=1000;train.batch_size=32]: count (described),0.99 (count),1.01 (count),nan
22,0.656716,0.0597015,0.955224,nan,3,freeze-worst-every-row: cells (described),-0.4 cells,6.3 cells,0.0597015
23,0.5,0.5,0.5,0.5,3,keep-gap-under-a-point[data.per_class=10;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
24,0.5,0.5,0.5,0.5,3,keep-gap-under-a-point[data.per_class=10;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
25,0.5,0.5,0.5,0.5,3,keep-gap-under-a-point[data.per_class=100;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
26,0.5,0.5,0.5,0.5,3,keep-gap-under-a-point[data.per_class=100;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
27,0.5,0.5,0.5,0.5,3,keep-gap-under-a-point[data.per_class=1000;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
28,0.5,0.5,0.5,0.5,3,keep-gap-under-a-point[data.per_class=1000;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
29,0.0597015,0.0597015,0.955224,nan,3,keep-gap-under-a-point: cells (described),-0.4 cells,6.3 cells,0.0597015
30,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=10;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
31,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=10;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
32,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=100;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
33,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=100;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
34,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=1000;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
35,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=1000;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
36,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
37,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
38,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
39,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
40,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
41,0.5,0.5,0.5,0.5,3,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
42,0.0714286,0.0714286,0.928571,nan,3,policies-within-a-point-at-25: cells (described),-1 cells,13 cells,0.0714286
43,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=10;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
44,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=10;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
45,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=100;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
46,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=100;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
47,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=1000;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
48,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=1000;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
49,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=10;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
50,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=10;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
51,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=100;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
52,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=100;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
53,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=1000;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
54,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=1000;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
55,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=10;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
56,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=10;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
57,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=100;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
58,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=100;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
59,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=1000;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
60,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=1000;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
61,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
62,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
63,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
64,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
65,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
66,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
67,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=10;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
68,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=10;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
69,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=100;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
70,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=100;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
71,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=1000;train.batch_size=4]: count (described),-1 (count),32 (count),0.030303
72,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=1000;train.batch_size=32]: count (described),-1 (count),32 (count),0.030303
73,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=10;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
74,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=10;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
75,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=100;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
76,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=100;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
77,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=1000;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
78,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=1000;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
79,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
80,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
81,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
82,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
83,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
84,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32]: count (described),-0.0001 (count),0.0001 (count),0.5
85,0.0714286,0.0714286,0.928571,nan,3,reset-recalibrate-are-keep: cells (described),-1 cells,13 cells,0.0714286
EOD
$bands << EOD
16,0.916667,0
17,0.916667,0
18,0.5,0
19,0.5,0
20,0.5,0
21,0.5,0
23,0.5,0
24,0.5,0
25,0.5,0
26,0.5,0
27,0.5,0
28,0.5,0
30,0.5,0
31,0.5,0
32,0.5,0
33,0.5,0
34,0.5,0
35,0.5,0
36,0.5,0
37,0.5,0
38,0.5,0
39,0.5,0
40,0.5,0
41,0.5,0
43,0.939394,0
44,0.939394,0
45,0.939394,0
46,0.939394,0
47,0.939394,0
48,0.939394,0
49,0.939394,0
50,0.939394,0
51,0.939394,0
52,0.939394,0
53,0.939394,0
54,0.939394,0
55,0.939394,0
56,0.939394,0
57,0.939394,0
58,0.939394,0
59,0.939394,0
60,0.939394,0
61,0.939394,0
62,0.939394,0
63,0.939394,0
64,0.939394,0
65,0.939394,0
66,0.939394,0
67,0.939394,0
68,0.939394,0
69,0.939394,0
70,0.939394,0
71,0.939394,0
72,0.939394,0
73,0.5,0
74,0.5,0
75,0.5,0
76,0.5,0
77,0.5,0
78,0.5,0
79,0.5,0
80,0.5,0
81,0.5,0
82,0.5,0
83,0.5,0
84,0.5,0
EOD
set yrange [0.5:85.5] reverse
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
