# normlab verdict's forest plot: a row per claim
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

set title "finetune-shift: 92 claims, 95% intervals" font title_font
$claims << EOD
1,0,0,0,0,2,reset-as-keep-batch4[data.per_class=10] (inconclusive)
2,0,0,0,0,2,reset-as-keep-batch4[data.per_class=100] (inconclusive)
3,0,0,0,0,2,reset-as-keep-batch4[data.per_class=1000] (inconclusive)
4,0,0,0,0,2,recalibrate-as-keep-batch4[data.per_class=10] (inconclusive)
5,0,0,0,0,2,recalibrate-as-keep-batch4[data.per_class=100] (inconclusive)
6,0,0,0,0,2,recalibrate-as-keep-batch4[data.per_class=1000] (inconclusive)
7,0.0197368,0.0197368,0.0197368,0,2,freeze-worst-batch4[data.per_class=10] (inconclusive)
8,0.145749,0.145749,0.145749,0,2,freeze-worst-batch4[data.per_class=100] (inconclusive)
9,0.01417,0.01417,0.01417,0,2,freeze-worst-batch4[data.per_class=1000] (inconclusive)
10,0,0,0,0,2,reset-as-keep-batch32[data.per_class=10] (inconclusive)
11,0,0,0,0,2,reset-as-keep-batch32[data.per_class=100] (inconclusive)
12,0,0,0,0,2,reset-as-keep-batch32[data.per_class=1000] (inconclusive)
13,0,0,0,0,2,recalibrate-as-keep-batch32[data.per_class=10] (inconclusive)
14,0,0,0,0,2,recalibrate-as-keep-batch32[data.per_class=100] (inconclusive)
15,0,0,0,0,2,recalibrate-as-keep-batch32[data.per_class=1000] (inconclusive)
16,0.0182186,0.0182186,0.0182186,0,2,freeze-worst-batch32[data.per_class=10] (inconclusive)
17,0.0430162,0.0430162,0.0430162,0,2,freeze-worst-batch32[data.per_class=100] (inconclusive)
18,0.0733806,0.0733806,0.0733806,0,2,freeze-worst-batch32[data.per_class=1000] (inconclusive)
19,-0.0283401,-0.0283401,-0.0283401,0,2,gn-swap-best-at-4-1000 (inconclusive)
20,0.0566802,0.0566802,0.0566802,0.02,2,gn-swap-worst-at-10[train.batch_size=4] (inconclusive)
21,0.0303644,0.0303644,0.0303644,0.02,2,gn-swap-worst-at-10[train.batch_size=32] (inconclusive)
22,-0.0369433,-0.0369433,-0.0369433,0,2,freeze-worst-every-row[data.per_class=10;train.batch_size=4] (inconclusive)
23,-0.0121457,-0.0121457,-0.0121457,0,2,freeze-worst-every-row[data.per_class=10;train.batch_size=32] (inconclusive)
24,0.110324,0.110324,0.110324,0,2,freeze-worst-every-row[data.per_class=100;train.batch_size=4] (inconclusive)
25,0.0516194,0.0516194,0.0516194,0,2,freeze-worst-every-row[data.per_class=100;train.batch_size=32] (inconclusive)
26,0.0425101,0.0425101,0.0425101,0,2,freeze-worst-every-row[data.per_class=1000;train.batch_size=4] (inconclusive)
27,0.0430162,0.0430162,0.0430162,0,2,freeze-worst-every-row[data.per_class=1000;train.batch_size=32] (inconclusive)
28,4,0,6,0,2,freeze-worst-every-row (inconclusive)
29,-0.00708502,-0.00708502,-0.00708502,0,2,keep-gap-under-a-point[data.per_class=10;train.batch_size=4] (inconclusive)
30,0.00253036,0.00253036,0.00253036,0,2,keep-gap-under-a-point[data.per_class=10;train.batch_size=32] (inconclusive)
31,0.00101215,0.00101215,0.00101215,0,2,keep-gap-under-a-point[data.per_class=100;train.batch_size=4] (inconclusive)
32,0.00175674,0.00175674,0.00175674,0,2,keep-gap-under-a-point[data.per_class=100;train.batch_size=32] (inconclusive)
33,-0.00506073,-0.00506073,-0.00506073,0,2,keep-gap-under-a-point[data.per_class=1000;train.batch_size=4] (inconclusive)
34,0.00403614,0.00403614,0.00403614,0,2,keep-gap-under-a-point[data.per_class=1000;train.batch_size=32] (inconclusive)
35,6,0,6,0,2,keep-gap-under-a-point (inconclusive)
36,-0.00860324,-0.00860324,-0.00860324,0,2,gn-level-at-32-100 (inconclusive)
37,-0.0055668,-0.0055668,-0.0055668,0,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=10;train.batch_size=4] (inconclusive)
38,-0.00607287,-0.00607287,-0.00607287,0,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=10;train.batch_size=32] (inconclusive)
39,-0.000506073,-0.000506073,-0.000506073,0,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=100;train.batch_size=4] (inconclusive)
40,-0.00303644,-0.00303644,-0.00303644,0,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=100;train.batch_size=32] (inconclusive)
41,-0.0055668,-0.0055668,-0.0055668,0,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=1000;train.batch_size=4] (inconclusive)
42,-0.00455466,-0.00455466,-0.00455466,0,2,policies-within-a-point-at-25[init.bn_policy=reset;data.per_class=1000;train.batch_size=32] (inconclusive)
43,-0.00202429,-0.00202429,-0.00202429,0,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4] (inconclusive)
44,0.000506073,0.000506073,0.000506073,0,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32] (inconclusive)
45,-0.00151822,-0.00151822,-0.00151822,0,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4] (inconclusive)
46,0.00303644,0.00303644,0.00303644,0,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32] (inconclusive)
47,-0.00759109,-0.00759109,-0.00759109,0,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4] (inconclusive)
48,0.00354251,0.00354251,0.00354251,0,2,policies-within-a-point-at-25[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32] (inconclusive)
49,12,0,12,0,2,policies-within-a-point-at-25 (inconclusive)
50,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=10;train.batch_size=4] (described)
51,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=10;train.batch_size=32] (described)
52,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=100;train.batch_size=4] (described)
53,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=100;train.batch_size=32] (described)
54,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=1000;train.batch_size=4] (described)
55,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=keep;data.per_class=1000;train.batch_size=32] (described)
56,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=10;train.batch_size=4] (described)
57,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=10;train.batch_size=32] (described)
58,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=100;train.batch_size=4] (described)
59,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=100;train.batch_size=32] (described)
60,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=1000;train.batch_size=4] (described)
61,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=reset;data.per_class=1000;train.batch_size=32] (described)
62,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=10;train.batch_size=4] (described)
63,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=10;train.batch_size=32] (described)
64,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=100;train.batch_size=4] (described)
65,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=100;train.batch_size=32] (described)
66,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=1000;train.batch_size=4] (described)
67,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=freeze;data.per_class=1000;train.batch_size=32] (described)
68,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4] (described)
69,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32] (described)
70,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4] (described)
71,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32] (described)
72,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4] (described)
73,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32] (described)
74,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=10;train.batch_size=4] (described)
75,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=10;train.batch_size=32] (described)
76,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=100;train.batch_size=4] (described)
77,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=100;train.batch_size=32] (described)
78,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=1000;train.batch_size=4] (described)
79,1,1,1,30,3,near-chance-at-step-0[init.bn_policy=group_norm;data.per_class=1000;train.batch_size=32] (described)
80,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=10;train.batch_size=4] (described)
81,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=10;train.batch_size=32] (described)
82,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=100;train.batch_size=4] (described)
83,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=100;train.batch_size=32] (described)
84,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=1000;train.batch_size=4] (described)
85,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=reset;data.per_class=1000;train.batch_size=32] (described)
86,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=4] (described)
87,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=10;train.batch_size=32] (described)
88,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=4] (described)
89,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=100;train.batch_size=32] (described)
90,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=4] (described)
91,0,0,0,0,3,reset-recalibrate-are-keep[init.bn_policy=recalibrate;data.per_class=1000;train.batch_size=32] (described)
92,0,0,12,0,3,reset-recalibrate-are-keep (described)
EOD
$bands << EOD
1,0,0.0001
2,0,0.0001
3,0,0.0001
4,0,0.0001
5,0,0.0001
6,0,0.0001
10,0,0.0001
11,0,0.0001
12,0,0.0001
13,0,0.0001
14,0,0.0001
15,0,0.0001
29,0,0.01
30,0,0.01
31,0,0.01
32,0,0.01
33,0,0.01
34,0,0.01
35,0,0.01
36,0,0.01
37,0,0.01
38,0,0.01
39,0,0.01
40,0,0.01
41,0,0.01
42,0,0.01
43,0,0.01
44,0,0.01
45,0,0.01
46,0,0.01
47,0,0.01
48,0,0.01
49,0,0.01
50,30,0
51,30,0
52,30,0
53,30,0
54,30,0
55,30,0
56,30,0
57,30,0
58,30,0
59,30,0
60,30,0
61,30,0
62,30,0
63,30,0
64,30,0
65,30,0
66,30,0
67,30,0
68,30,0
69,30,0
70,30,0
71,30,0
72,30,0
73,30,0
74,30,0
75,30,0
76,30,0
77,30,0
78,30,0
79,30,0
80,0,0
81,0,0
82,0,0
83,0,0
84,0,0
85,0,0
86,0,0
87,0,0
88,0,0
89,0,0
90,0,0
91,0,0
92,0,0
EOD
set yrange [0.5:92.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
