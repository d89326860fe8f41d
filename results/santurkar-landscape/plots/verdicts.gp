# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 2096

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

set title "santurkar-landscape: 44 claims, 95% intervals" font title_font
$claims << EOD
1,-4.26902,-4.26902,-4.26902,0,2,bn-gradient-more-predictive (inconclusive)
2,-0.259543,-0.259543,-0.259543,0,2,bn-gradient-more-predictive-late (inconclusive)
3,-10.5378,-10.5378,-10.5378,0,2,bn-beta-lower (inconclusive)
4,0.150278,0.150278,0.150278,0.1,2,bn-band-not-narrower-late (inconclusive)
5,0.89725,0.89725,0.89725,0.8,2,noisy-useless-in-eval (inconclusive)
6,0.758065,0.758065,0.758065,0.7,2,noisy-trains-own-statistics (inconclusive)
7,4.8047,4.8047,4.8047,0,2,bn-gradient-change-below-at-most-probes[step=20] (inconclusive)
8,-20.0497,-20.0497,-20.0497,0,2,bn-gradient-change-below-at-most-probes[step=40] (inconclusive)
9,-1.72018,-1.72018,-1.72018,0,2,bn-gradient-change-below-at-most-probes[step=60] (inconclusive)
10,-4.44571,-4.44571,-4.44571,0,2,bn-gradient-change-below-at-most-probes[step=80] (inconclusive)
11,-6.99384,-6.99384,-6.99384,0,2,bn-gradient-change-below-at-most-probes[step=100] (inconclusive)
12,-2.5953,-2.5953,-2.5953,0,2,bn-gradient-change-below-at-most-probes[step=120] (inconclusive)
13,-1.07548,-1.07548,-1.07548,0,2,bn-gradient-change-below-at-most-probes[step=140] (inconclusive)
14,-1.47602,-1.47602,-1.47602,0,2,bn-gradient-change-below-at-most-probes[step=160] (inconclusive)
15,-0.365878,-0.365878,-0.365878,0,2,bn-gradient-change-below-at-most-probes[step=180] (inconclusive)
16,0.449488,0.449488,0.449488,0,2,bn-gradient-change-below-at-most-probes[step=200] (inconclusive)
17,-0.447501,-0.447501,-0.447501,0,2,bn-gradient-change-below-at-most-probes[step=220] (inconclusive)
18,-1.33012,-1.33012,-1.33012,0,2,bn-gradient-change-below-at-most-probes[step=240] (inconclusive)
19,-3.41857,-3.41857,-3.41857,0,2,bn-gradient-change-below-at-most-probes[step=260] (inconclusive)
20,-0.0502251,-0.0502251,-0.0502251,0,2,bn-gradient-change-below-at-most-probes[step=280] (inconclusive)
21,-0.259543,-0.259543,-0.259543,0,2,bn-gradient-change-below-at-most-probes[step=300] (inconclusive)
22,13,0,15,0,3,bn-gradient-change-below-at-most-probes (described)
23,9.66648,9.66648,9.66648,0,2,bn-beta-below-at-most-probes[step=20] (inconclusive)
24,-58.0965,-58.0965,-58.0965,0,2,bn-beta-below-at-most-probes[step=40] (inconclusive)
25,-4.23725,-4.23725,-4.23725,0,2,bn-beta-below-at-most-probes[step=60] (inconclusive)
26,-28.8991,-28.8991,-28.8991,0,2,bn-beta-below-at-most-probes[step=80] (inconclusive)
27,-28.308,-28.308,-28.308,0,2,bn-beta-below-at-most-probes[step=100] (inconclusive)
28,-12.711,-12.711,-12.711,0,2,bn-beta-below-at-most-probes[step=120] (inconclusive)
29,-7.99491,-7.99491,-7.99491,0,2,bn-beta-below-at-most-probes[step=140] (inconclusive)
30,-11.5681,-11.5681,-11.5681,0,2,bn-beta-below-at-most-probes[step=160] (inconclusive)
31,-5.89533,-5.89533,-5.89533,0,2,bn-beta-below-at-most-probes[step=180] (inconclusive)
32,0.0600523,0.0600523,0.0600523,0,2,bn-beta-below-at-most-probes[step=200] (inconclusive)
33,-9.19545,-9.19545,-9.19545,0,2,bn-beta-below-at-most-probes[step=220] (inconclusive)
34,-9.02997,-9.02997,-9.02997,0,2,bn-beta-below-at-most-probes[step=240] (inconclusive)
35,-9.72421,-9.72421,-9.72421,0,2,bn-beta-below-at-most-probes[step=260] (inconclusive)
36,-2.23534,-2.23534,-2.23534,0,2,bn-beta-below-at-most-probes[step=280] (inconclusive)
37,-3.28435,-3.28435,-3.28435,0,2,bn-beta-below-at-most-probes[step=300] (inconclusive)
38,13,0,15,0,3,bn-beta-below-at-most-probes (described)
39,-0.353778,-0.353778,-0.353778,0,2,band-narrower-early (inconclusive)
40,0.00328862,0.00328862,0.00328862,0,2,band-as-wide-late (inconclusive)
41,12.848,12.848,12.848,0,2,not-smoother-by-beta-at-init (inconclusive)
42,-29.3304,-29.3304,-29.3304,0,2,smoother-by-gradient-change-at-init (inconclusive)
43,-9.21668,-9.21668,-9.21668,0,2,noisy-smoothest-by-beta (inconclusive)
44,-0.921047,-0.921047,-0.921047,0,2,noisy-smoothest-by-gradient-change (inconclusive)
EOD
$bands << EOD
40,0,0.05
EOD
set yrange [0.5:44.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
