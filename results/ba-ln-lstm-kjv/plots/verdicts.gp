# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1700

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

set title "ba-ln-lstm-kjv: 35 claims, 95% intervals" font title_font
$claims << EOD
1,-0.0774845,-0.135789,-0.0191801,-0.05,2,normalized-end-lower[model.norm.type=layer] (inconclusive)
2,-0.0841004,-0.139623,-0.0285777,-0.05,2,normalized-end-lower[model.norm.type=rms] (inconclusive)
3,0,0,0,0,0,normalized-end-lower-every-seed[model.norm.type=layer] (holds)
4,0,0,0,0,0,normalized-end-lower-every-seed[model.norm.type=rms] (holds)
5,-0.0872915,-0.120574,-0.0540094,0,2,normalized-faster[model.norm.type=layer] (inconclusive)
6,-0.0860581,-0.118024,-0.0540925,0,2,normalized-faster[model.norm.type=rms] (inconclusive)
7,-0.00661585,-0.120443,0.107211,0,2,rms-as-ln (inconclusive)
8,-0.0872915,-0.120574,-0.0540094,0,2,ln-below-plain-every-eval[step=50] (inconclusive)
9,-0.113222,-0.18233,-0.044113,0,2,ln-below-plain-every-eval[step=100] (inconclusive)
10,-0.123072,-0.14348,-0.102663,0,2,ln-below-plain-every-eval[step=150] (inconclusive)
11,-0.106959,-0.158264,-0.0556531,0,2,ln-below-plain-every-eval[step=200] (inconclusive)
12,-0.0955708,-0.206194,0.0150521,0,2,ln-below-plain-every-eval[step=250] (inconclusive)
13,-0.0961463,-0.167657,-0.0246355,0,2,ln-below-plain-every-eval[step=300] (inconclusive)
14,-0.0973825,-0.146802,-0.0479629,0,2,ln-below-plain-every-eval[step=350] (inconclusive)
15,-0.0913577,-0.198651,0.0159361,0,2,ln-below-plain-every-eval[step=400] (inconclusive)
16,-0.0797788,-0.141655,-0.0179028,0,2,ln-below-plain-every-eval[step=450] (inconclusive)
17,-0.0774845,-0.135789,-0.0191801,0,2,ln-below-plain-every-eval[step=500] (inconclusive)
18,10,0,10,0,2,ln-below-plain-every-eval (inconclusive)
19,-0.0860581,-0.118024,-0.0540925,0,2,rms-below-plain-every-eval[step=50] (inconclusive)
20,-0.119859,-0.166959,-0.0727595,0,2,rms-below-plain-every-eval[step=100] (inconclusive)
21,-0.12223,-0.152585,-0.0918748,0,2,rms-below-plain-every-eval[step=150] (inconclusive)
22,-0.111676,-0.140399,-0.0829531,0,2,rms-below-plain-every-eval[step=200] (inconclusive)
23,-0.101305,-0.113669,-0.0889401,0,2,rms-below-plain-every-eval[step=250] (inconclusive)
24,-0.101894,-0.196035,-0.00775248,0,2,rms-below-plain-every-eval[step=300] (inconclusive)
25,-0.10052,-0.102158,-0.0988827,0,0,rms-below-plain-every-eval[step=350] (holds)
26,-0.0883798,-0.241308,0.0645482,0,2,rms-below-plain-every-eval[step=400] (inconclusive)
27,-0.089893,-0.171219,-0.00856738,0,2,rms-below-plain-every-eval[step=450] (inconclusive)
28,-0.0841004,-0.139623,-0.0285777,0,2,rms-below-plain-every-eval[step=500] (inconclusive)
29,10,1,10,0,2,rms-below-plain-every-eval (inconclusive)
30,-0.00293642,-0.0818835,0.0760107,0,2,reach-plain-final-by-300[model.norm.type=layer] (inconclusive)
31,-0.00868405,-0.0650005,0.0476324,0,2,reach-plain-final-by-300[model.norm.type=rms] (inconclusive)
32,2,0,2,0,2,reach-plain-final-by-300 (inconclusive)
33,0.603138,0.458239,0.748037,0.8,2,normalized-slower-per-second[model.norm.type=layer] (inconclusive)
34,0.624305,0.516825,0.731784,0.8,2,normalized-slower-per-second[model.norm.type=rms] (inconclusive)
35,2,0,2,0.8,2,normalized-slower-per-second (inconclusive)
EOD
$bands << EOD
3,0,0
4,0,0
7,0,0.02
EOD
set yrange [0.5:35.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
