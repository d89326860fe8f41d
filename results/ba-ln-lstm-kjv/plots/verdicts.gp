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
described_rgb = 0xbf9b30     # a count: what happened, not a test
expect_rgb = 0x2166ac
verdict_rgb(v) = v == 0 ? holds_rgb : (v == 1 ? fails_rgb : (v == 3 ? described_rgb : inconclusive_rgb))

set title "ba-ln-lstm-kjv: 35 claims, 95% intervals" font title_font
$claims << EOD
1,-0.0796575,-0.0938604,-0.0654545,-0.05,0,normalized-end-lower[model.norm.type=layer] (holds)
2,-0.0850256,-0.0914854,-0.0785659,-0.05,0,normalized-end-lower[model.norm.type=rms] (holds)
3,0,0,0,0,3,normalized-end-lower-every-seed[model.norm.type=layer] (described)
4,0,0,0,0,3,normalized-end-lower-every-seed[model.norm.type=rms] (described)
5,-0.0804313,-0.110631,-0.0502316,0,0,normalized-faster[model.norm.type=layer] (holds)
6,-0.084943,-0.0928482,-0.0770378,0,0,normalized-faster[model.norm.type=rms] (holds)
7,-0.00536818,-0.0174199,0.00668356,0,2,rms-as-ln (inconclusive)
8,-0.0804313,-0.110631,-0.0502316,0,0,ln-below-plain-every-eval[step=50] (holds)
9,-0.108515,-0.134191,-0.0828392,0,0,ln-below-plain-every-eval[step=100] (holds)
10,-0.120891,-0.131905,-0.109877,0,0,ln-below-plain-every-eval[step=150] (holds)
11,-0.108541,-0.120844,-0.0962383,0,0,ln-below-plain-every-eval[step=200] (holds)
12,-0.100042,-0.13067,-0.0694146,0,0,ln-below-plain-every-eval[step=250] (holds)
13,-0.0964587,-0.109324,-0.0835938,0,0,ln-below-plain-every-eval[step=300] (holds)
14,-0.0926372,-0.102,-0.0832748,0,0,ln-below-plain-every-eval[step=350] (holds)
15,-0.0960981,-0.129828,-0.0623684,0,0,ln-below-plain-every-eval[step=400] (holds)
16,-0.0831483,-0.0888072,-0.0774894,0,0,ln-below-plain-every-eval[step=450] (holds)
17,-0.0796575,-0.0938604,-0.0654545,0,0,ln-below-plain-every-eval[step=500] (holds)
18,10,10,10,0,0,ln-below-plain-every-eval (holds)
19,-0.084943,-0.0928482,-0.0770378,0,0,rms-below-plain-every-eval[step=50] (holds)
20,-0.116024,-0.135303,-0.096744,0,0,rms-below-plain-every-eval[step=100] (holds)
21,-0.119452,-0.133188,-0.105715,0,0,rms-below-plain-every-eval[step=150] (holds)
22,-0.112745,-0.12098,-0.10451,0,0,rms-below-plain-every-eval[step=200] (holds)
23,-0.101215,-0.107551,-0.0948786,0,0,rms-below-plain-every-eval[step=250] (holds)
24,-0.102161,-0.119079,-0.0852442,0,0,rms-below-plain-every-eval[step=300] (holds)
25,-0.102767,-0.113711,-0.0918223,0,0,rms-below-plain-every-eval[step=350] (holds)
26,-0.0935916,-0.12632,-0.0608636,0,0,rms-below-plain-every-eval[step=400] (holds)
27,-0.0858052,-0.0991167,-0.0724936,0,0,rms-below-plain-every-eval[step=450] (holds)
28,-0.0850256,-0.0914854,-0.0785659,0,0,rms-below-plain-every-eval[step=500] (holds)
29,10,10,10,0,0,rms-below-plain-every-eval (holds)
30,-0.00076688,-0.0192247,0.0176909,0,2,reach-plain-final-by-300[model.norm.type=layer] (inconclusive)
31,-0.00646965,-0.0209735,0.00803421,0,2,reach-plain-final-by-300[model.norm.type=rms] (inconclusive)
32,2,0,2,0,2,reach-plain-final-by-300 (inconclusive)
33,0.93552,0.801783,1.06926,0.8,1,normalized-slower-per-second[model.norm.type=layer] (does not hold)
34,1.24354,0.315355,2.17173,0.8,2,normalized-slower-per-second[model.norm.type=rms] (inconclusive)
35,0,0,1,0.8,2,normalized-slower-per-second (inconclusive)
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
