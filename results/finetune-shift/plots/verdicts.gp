# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 4208

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

set title "finetune-shift: 92 claims, 95% intervals" font title_font
$claims << EOD
1,0.5,0.5,0.5,0.5,2,reset-as-keep-batch4[data.per_class=10] (inconclusive),-0.00011,0.00011,0.5
2,0.5,0.5,0.5,0.5,2,reset-as-keep-batch4[data.per_class=100] (inconclusive),-0.00011,0.00011,0.5
3,0.5,0.5,0.5,0.5,2,reset-as-keep-batch4[data.per_class=1000] (inconclusive),-0.00011,0.00011,0.5
4,0.5,0.5,0.5,0.5,2,recalibrate-as-keep-batch4[data.per_class=10] (inconclusive),-0.00011,0.00011,0.5
5,0.5,0.5,0.5,0.5,2,recalibrate-as-keep-batch4[data.per_class=100] (inconclusive),-0.00011,0.00011,0.5
6,0.5,0.5,0.5,0.5,2,recalibrate-as-keep-batch4[data.per_class=1000] (inconclusive),-0.00011,0.00011,0.5
7,0.942584,0.942584,0.942584,0.0454545,2,freeze-worst-batch4[data.per_class=10] (inconclusive),-0.001,0.021,0.0454545
8,0.916171,0.916171,0.916171,0.0588235,2,freeze-worst-batch4[data.per_class=100] (inconclusive),-0.01,0.16,0.0588235
9,0.948127,0.948127,0.948127,0.0625,2,freeze-worst-batch4[data.per_class=1000] (inconclusive),-0.001,0.015,0.0625
10,0.5,0.5,0.5,0.5,2,reset-as-keep-batch32[data.per_class=10] (inconclusive),-0.00011,0.00011,0.5
11,0.5,0.5,0.5,0.5,2,reset-as-keep-batch32[data.per_class=100] (inconclusive),-0.00011,0.00011,0.5
12,0.5,0.5,0.5,0.5,2,reset-as-keep-batch32[data.per_class=1000] (inconclusive),-0.00011,0.00011,0.5
13,0.5,0.5,0.5,0.5,2,recalibrate-as-keep-batch32[data.per_class=10] (inconclusive),-0.00011,0.00011,0.5
14,0.5,0.5,0.5,0.5,2,recalibrate-as-keep-batch32[data.per_class=100] (inconclusive),-0.00011,0.00011,0.5
15,0.5,0.5,0.5,0.5,2,recalibrate-as-keep-batch32[data.per_class=1000] (inconclusive),-0.00011,0.00011,0.5
16,0.915173,0.915173,0.915173,0.047619,2,freeze-worst-batch32[data.per_class=10] (inconclusive),-0.001,0.02,0.047619
17,0.939106,0.939106,0.939106,0.0612245,2,freeze-worst-batch32[data.per_class=100] (inconclusive),-0.003,0.046,0.0612245
18,0.943665,0.943665,0.943665,0.0487805,2,freeze-worst-batch32[data.per_class=1000] (inconclusive),-0.004,0.078,0.0487805
19,0.0518725,0.0518725,0.0518725,0.9375,2,gn-swap-best-at-4-1000 (inconclusive),-0.03,0.002,0.9375
20,0.943419,0.943419,0.943419,0.0487805,2,gn-swap-worst-at-10[train.batch_size=4] (inconclusive),0.018,0.059,nan
21,0.947031,0.947031,0.947031,0.0833333,2,gn-swap-worst-at-10[train.batch_size=32] (inconclusive),0.019,0.031,nan
22,0.0501629,0.0501629,0.0501629,0.95122,2,freeze-worst-every-row[data.per_class=10;train.batch_size=4] (inconclusive),-0.039,0.002,0.95122
23,0.0610179,0.0610179,0.0610179,0.928571,2,freeze-worst-every-row[data.per_class=10;train.batch_size=32] (inconclusive),-0.013,0.001,0.928571
24,0.925568,0.925568,0.925568,0.0769231,2,freeze-worst-every-row[data.per_class=100;train.batch_size=4] (inconclusive),-0.01,0.12,0.0769231
25,0.941714,0.941714,0.941714,0.0517241,2,freeze-worst-every-row[data.per_class=100;train.batch_size=32] (inconclusive),-0.003,0.055,0.0517241
26,0.948128,0.948128,0.948128,0.0625,2,freeze-worst-every-row[data.per_class=1000;train.batch_size=4] (inconclusive),-0.003,0.045,0.0625
27,0.939106,0.939106,0.939106,0.0612245,2,freeze-worst-every-row[data.per_class=1000;train.batch_size=32] (inconclusive),-0.003,0.046,0.0612245
28,0.656716,0.0597015,0.955224,0.0597015,2,freeze-worst-every-row (inconclusive),-0.4,6.3,0.0597015
29,0.177954,0.177954,0.177954,0.5,2,keep-gap-under-a-point[data.per_class=10;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
30,0.615017,0.615017,0.615017,0.5,2,keep-gap-under-a-point[data.per_class=10;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
31,0.546007,0.546007,0.546007,0.5,2,keep-gap-under-a-point[data.per_class=100;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
32,0.579852,0.579852,0.579852,0.5,2,keep-gap-under-a-point[data.per_class=100;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
33,0.269967,0.269967,0.269967,0.5,2,keep-gap-under-a-point[data.per_class=1000;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
34,0.683461,0.683461,0.683461,0.5,2,keep-gap-under-a-point[data.per_class=1000;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
35,0.941176,0.0588235,0.941176,0.0588235,2,keep-gap-under-a-point (inconclusive),-0.4,6.4,0.0588235
36,0.108944,0.108944,0.108944,0.5,2,gn-level-at-32-100 (inconclusive),-0.011,0.011,0.5
37,0.246964,0.246964,0.246964,0.5,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=10;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
38,0.22396,0.22396,0.22396,0.5,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=10;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
39,0.476997,0.476997,0.476997,0.5,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=100;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
40,0.36198,0.36198,0.36198,0.5,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=100;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
41,0.246964,0.246964,0.246964,0.5,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=1000;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
42,0.29297,0.29297,0.29297,0.5,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=1000;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
43,0.407987,0.407987,0.407987,0.5,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
44,0.523003,0.523003,0.523003,0.5,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
45,0.43099,0.43099,0.43099,0.5,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
46,0.63802,0.63802,0.63802,0.5,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
47,0.15495,0.15495,0.15495,0.5,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4] (inconclusive),-0.011,0.011,0.5
48,0.661023,0.661023,0.661023,0.5,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32] (inconclusive),-0.011,0.011,0.5
49,0.928571,0.0714286,0.928571,0.0714286,2,policies-within-a-point-at-25 (inconclusive),-1,13,0.0714286
50,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=10;train.batch_size=4] (described),-1,32,0.030303
51,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=10;train.batch_size=32] (described),-1,32,0.030303
52,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=100;train.batch_size=4] (described),-1,32,0.030303
53,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=100;train.batch_size=32] (described),-1,32,0.030303
54,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=1000;train.batch_size=4] (described),-1,32,0.030303
55,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=1000;train.batch_size=32] (described),-1,32,0.030303
56,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=10;train.batch_size=4] (described),-1,32,0.030303
57,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=10;train.batch_size=32] (described),-1,32,0.030303
58,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=100;train.batch_size=4] (described),-1,32,0.030303
59,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=100;train.batch_size=32] (described),-1,32,0.030303
60,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=1000;train.batch_size=4] (described),-1,32,0.030303
61,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=1000;train.batch_size=32] (described),-1,32,0.030303
62,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=10;train.batch_size=4] (described),-1,32,0.030303
63,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=10;train.batch_size=32] (described),-1,32,0.030303
64,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=100;train.batch_size=4] (described),-1,32,0.030303
65,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=100;train.batch_size=32] (described),-1,32,0.030303
66,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=1000;train.batch_size=4] (described),-1,32,0.030303
67,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=1000;train.batch_size=32] (described),-1,32,0.030303
68,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4] (described),-1,32,0.030303
69,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32] (described),-1,32,0.030303
70,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4] (described),-1,32,0.030303
71,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32] (described),-1,32,0.030303
72,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4] (described),-1,32,0.030303
73,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32] (described),-1,32,0.030303
74,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=10;train.batch_size=4] (described),-1,32,0.030303
75,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=10;train.batch_size=32] (described),-1,32,0.030303
76,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=100;train.batch_size=4] (described),-1,32,0.030303
77,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=100;train.batch_size=32] (described),-1,32,0.030303
78,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=1000;train.batch_size=4] (described),-1,32,0.030303
79,0.0606061,0.0606061,0.0606061,0.939394,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=1000;train.batch_size=32] (described),-1,32,0.030303
80,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=10;train.batch_size=4] (described),-0.0001,0.0001,0.5
81,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=10;train.batch_size=32] (described),-0.0001,0.0001,0.5
82,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=100;train.batch_size=4] (described),-0.0001,0.0001,0.5
83,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=100;train.batch_size=32] (described),-0.0001,0.0001,0.5
84,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=1000;train.batch_size=4] (described),-0.0001,0.0001,0.5
85,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=1000;train.batch_size=32] (described),-0.0001,0.0001,0.5
86,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4] (described),-0.0001,0.0001,0.5
87,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32] (described),-0.0001,0.0001,0.5
88,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4] (described),-0.0001,0.0001,0.5
89,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32] (described),-0.0001,0.0001,0.5
90,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4] (described),-0.0001,0.0001,0.5
91,0.5,0.5,0.5,0.5,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32] (described),-0.0001,0.0001,0.5
92,0.0714286,0.0714286,0.928571,0.0714286,3,reset-recalibrate-are-keep (described),-1,13,0.0714286
EOD
$bands << EOD
1,0.5,0.454545
2,0.5,0.454545
3,0.5,0.454545
4,0.5,0.454545
5,0.5,0.454545
6,0.5,0.454545
10,0.5,0.454545
11,0.5,0.454545
12,0.5,0.454545
13,0.5,0.454545
14,0.5,0.454545
15,0.5,0.454545
29,0.5,0.454545
30,0.5,0.454545
31,0.5,0.454545
32,0.5,0.454545
33,0.5,0.454545
34,0.5,0.454545
35,0.0588235,0.00147059
36,0.5,0.454545
37,0.5,0.454545
38,0.5,0.454545
39,0.5,0.454545
40,0.5,0.454545
41,0.5,0.454545
42,0.5,0.454545
43,0.5,0.454545
44,0.5,0.454545
45,0.5,0.454545
46,0.5,0.454545
47,0.5,0.454545
48,0.5,0.454545
49,0.0714286,0.000714286
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
73,0.939394,0
74,0.939394,0
75,0.939394,0
76,0.939394,0
77,0.939394,0
78,0.939394,0
79,0.939394,0
80,0.5,0
81,0.5,0
82,0.5,0
83,0.5,0
84,0.5,0
85,0.5,0
86,0.5,0
87,0.5,0
88,0.5,0
89,0.5,0
90,0.5,0
91,0.5,0
92,0.0714286,0
EOD
set yrange [0.5:92.5] reverse
set xrange [-0.2:1.2]
set bmargin 5
unset xtics
set grid noxtics
set xlabel "effect as each claim says, each row on its own axis (its ends beside it)"
set key at screen 0.99, screen 0.01 right bottom horizontal
plot $claims using (0):1:(1):(0) with vectors nohead lc rgb axis_rgb notitle, \
     $claims using (0):1:8 with labels right offset -0.5,0 tc rgb axis_rgb notitle, \
     $claims using (1):1:9 with labels left offset 0.5,0 tc rgb axis_rgb notitle, \
     $claims using 10:($1-0.22):(0):(0.44) with vectors nohead lw zero_lw lc rgb axis_rgb title "0 on the row's axis", \
     $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
