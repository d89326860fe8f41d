# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1348

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

set title "cooijmans-bn-lstm: 27 claims, 95% intervals" font title_font
$claims << EOD
1,0.258333,0.136324,0.380343,0.5,2,bn-lstm-trains[model.permute_pixels=false] (inconclusive)
2,0.199667,0.17466,0.224673,0.5,0,bn-lstm-trains[model.permute_pixels=true] (holds)
3,0.512452,0.334861,0.690042,0,2,bn-lstm-not-faster[model.permute_pixels=false] (inconclusive)
4,0.477846,0.374816,0.580876,0,0,bn-lstm-not-faster[model.permute_pixels=true] (holds)
5,-0.0216667,-0.0603374,0.0170041,0,2,bn-lstm-better-permuted (inconclusive)
6,0.0246667,-0.0709108,0.120244,0,2,bn-lstm-worse-rows (inconclusive)
7,0.0135278,1.866e-05,0.0270369,0,2,bn-lstm-own-statistics-rows (inconclusive)
8,0.033,-0.105512,0.171512,0,2,shared-statistics-worse[model.permute_pixels=false] (inconclusive)
9,0.0626667,0.0240758,0.101258,0,2,shared-statistics-worse[model.permute_pixels=true] (inconclusive)
10,-0.0496667,-0.170864,0.0715311,0,2,gamma-1-best-rows (inconclusive)
11,0.0143333,-0.0124601,0.0411267,0,2,gamma-1-behind-permuted (inconclusive)
12,0.264617,0.214947,0.314288,0,0,bn-lstm-loss-above-first-100[model.permute_pixels=false] (holds)
13,0.283477,0.255924,0.31103,0,0,bn-lstm-loss-above-first-100[model.permute_pixels=true] (holds)
14,2,2,2,0,0,bn-lstm-loss-above-first-100 (holds)
15,0.0496279,-0.0233994,0.122655,0,2,bn-lstm-level-at-end[model.permute_pixels=false] (inconclusive)
16,0.0299084,0.000384273,0.0594326,0,2,bn-lstm-level-at-end[model.permute_pixels=true] (inconclusive)
17,2,0,2,0,2,bn-lstm-level-at-end (inconclusive)
18,0.238278,0.178025,0.29853,0.15,0,eval-lags-at-25[model.permute_pixels=false] (holds)
19,0.280264,0.211543,0.348984,0.15,0,eval-lags-at-25[model.permute_pixels=true] (holds)
20,2,2,2,0.15,2,eval-lags-at-25 (inconclusive)
21,0.181667,0.0393897,0.323944,0,0,shared-better-early[model.permute_pixels=false] (holds)
22,0.231333,0.112086,0.350581,0,0,shared-better-early[model.permute_pixels=true] (holds)
23,2,2,2,0,2,shared-better-early (inconclusive)
24,0,0,0,0,3,shared-trains-identically[model.permute_pixels=false] (described)
25,0,0,0,0,3,shared-trains-identically[model.permute_pixels=true] (described)
26,0,0,2,0,0,shared-trains-identically (holds)
27,-0.138759,-0.163862,-0.113657,0,0,gamma-1-trains-fastest (holds)
EOD
$bands << EOD
15,0,0.05
16,0,0.05
17,0,0.05
24,0,0
25,0,0
26,0,0
EOD
set yrange [0.5:27.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
