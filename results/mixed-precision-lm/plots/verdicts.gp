# normlab verdict's forest plot: a row per claim
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

set title "mixed-precision-lm: 45 claims, 95% intervals" font title_font
$claims << EOD
1,-2.159e-05,-0.00434912,0.00430594,0,2,bf16-as-fp32[model.norm.type=none] (inconclusive)
2,0.0013157,-0.00580065,0.00843205,0,2,bf16-as-fp32[model.norm.type=batch] (inconclusive)
3,0.00191844,-0.00882536,0.0126622,0,2,bf16-as-fp32[model.norm.type=layer] (inconclusive)
4,-0.000381183,-0.00698514,0.00622278,0,2,bf16-as-fp32[model.norm.type=group] (inconclusive)
5,-0.00180672,-0.0179863,0.0143729,0,2,bf16-as-fp32[model.norm.type=rms] (inconclusive)
6,0.00201105,-0.00929221,0.0133143,0,2,fp16-as-fp32[model.norm.type=none] (inconclusive)
7,0.000664477,-0.00178153,0.00311049,0,0,fp16-as-fp32[model.norm.type=batch] (holds)
8,9.505e-05,-0.00225127,0.00244137,0,0,fp16-as-fp32[model.norm.type=layer] (holds)
9,-7.987e-05,-0.000789052,0.000629312,0,0,fp16-as-fp32[model.norm.type=group] (holds)
10,-0.00051032,-0.00349635,0.00247571,0,2,fp16-as-fp32[model.norm.type=rms] (inconclusive)
11,1,1,1,0.5,0,none-fp16-skips (holds)
12,-2.159e-05,-0.00434912,0.00430594,0,2,bf16-pooled-as-fp32[model.norm.type=none] (inconclusive)
13,0.0013157,-0.00580065,0.00843205,0,2,bf16-pooled-as-fp32[model.norm.type=batch] (inconclusive)
14,0.00191844,-0.00882536,0.0126622,0,2,bf16-pooled-as-fp32[model.norm.type=layer] (inconclusive)
15,-0.000381183,-0.00698514,0.00622278,0,2,bf16-pooled-as-fp32[model.norm.type=group] (inconclusive)
16,-0.00180672,-0.0179863,0.0143729,0,2,bf16-pooled-as-fp32[model.norm.type=rms] (inconclusive)
17,5,0,5,0,2,bf16-pooled-as-fp32 (inconclusive)
18,0.00201105,-0.00929221,0.0133143,0,2,fp16-pooled-as-fp32[model.norm.type=none] (inconclusive)
19,0.000664477,-0.00178153,0.00311049,0,2,fp16-pooled-as-fp32[model.norm.type=batch] (inconclusive)
20,9.505e-05,-0.00225127,0.00244137,0,0,fp16-pooled-as-fp32[model.norm.type=layer] (holds)
21,-7.987e-05,-0.000789052,0.000629312,0,0,fp16-pooled-as-fp32[model.norm.type=group] (holds)
22,-0.00051032,-0.00349635,0.00247571,0,2,fp16-pooled-as-fp32[model.norm.type=rms] (inconclusive)
23,5,2,5,0,2,fp16-pooled-as-fp32 (inconclusive)
24,0,0,0,0,3,bf16-largest-pair[model.norm.type=none] (described)
25,0,0,0,0,3,bf16-largest-pair[model.norm.type=batch] (described)
26,0,0,0,0,3,bf16-largest-pair[model.norm.type=layer] (described)
27,0,0,0,0,3,bf16-largest-pair[model.norm.type=group] (described)
28,0,0,0,0,3,bf16-largest-pair[model.norm.type=rms] (described)
29,0,0,0,0,3,fp16-largest-pair[model.norm.type=batch] (described)
30,0,0,0,0,3,fp16-largest-pair[model.norm.type=layer] (described)
31,0,0,0,0,3,fp16-largest-pair[model.norm.type=group] (described)
32,0,0,0,0,3,fp16-largest-pair[model.norm.type=rms] (described)
33,0,0,0,0,3,normalized-fp16-never-skipped[model.norm.type=batch] (described)
34,0,0,0,0,3,normalized-fp16-never-skipped[model.norm.type=layer] (described)
35,0,0,0,0,3,normalized-fp16-never-skipped[model.norm.type=group] (described)
36,0,0,0,0,3,normalized-fp16-never-skipped[model.norm.type=rms] (described)
37,3,3,3,3,3,none-fp16-scale-halved (described)
38,0,0,0,0,3,none-at-unigram (described)
39,0.296546,0.246533,0.346559,0.2,2,none-behind-layer (inconclusive)
40,1.02075,0.9282,1.11331,1,2,bf16-slower[model.norm.type=none] (inconclusive)
41,1.09726,1.05894,1.13558,1,0,bf16-slower[model.norm.type=batch] (holds)
42,1.15978,0.951051,1.3685,1,2,bf16-slower[model.norm.type=layer] (inconclusive)
43,1.17614,1.08312,1.26917,1,0,bf16-slower[model.norm.type=group] (holds)
44,1.30781,0.539928,2.07568,1,2,bf16-slower[model.norm.type=rms] (inconclusive)
45,5,2,5,1,2,bf16-slower (inconclusive)
EOD
$bands << EOD
1,0,0.01
2,0,0.01
3,0,0.01
4,0,0.01
5,0,0.01
6,0,0.01
7,0,0.01
8,0,0.01
9,0,0.01
10,0,0.01
12,0,0.003
13,0,0.003
14,0,0.003
15,0,0.003
16,0,0.003
17,0,0.003
18,0,0.003
19,0,0.003
20,0,0.003
21,0,0.003
22,0,0.003
23,0,0.003
24,0,0
25,0,0
26,0,0
27,0,0
28,0,0
29,0,0
30,0,0
31,0,0
32,0,0
33,0,0
34,0,0
35,0,0
36,0,0
37,3,0
38,0,0
EOD
set yrange [0.5:45.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
