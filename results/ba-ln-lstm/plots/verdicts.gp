# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 2184

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

set title "ba-ln-lstm: 46 claims, 95% intervals" font title_font
$claims << EOD
1,-0.0255,-0.0445593,-0.00644069,0,2,ln-ends-lower[model.permute_pixels=false] (inconclusive)
2,-0.0245,-0.132503,0.0835027,0,2,ln-ends-lower[model.permute_pixels=true] (inconclusive)
3,-0.0255,-0.0445593,-0.00644069,-0.02,2,ln-2.5-points[model.permute_pixels=false] (inconclusive)
4,-0.0245,-0.132503,0.0835027,-0.02,2,ln-2.5-points[model.permute_pixels=true] (inconclusive)
5,0,0,0,0,0,ln-2.5-points-every-seed[model.permute_pixels=false] (holds)
6,1,1,1,0,1,ln-2.5-points-every-seed[model.permute_pixels=true] (does not hold)
7,0.1225,0.0272035,0.217797,0,2,ln-faster-step-25[model.permute_pixels=false] (inconclusive)
8,0.0695,0.0123221,0.126678,0,2,ln-faster-step-25[model.permute_pixels=true] (inconclusive)
9,0.002,-0.150474,0.154474,0,2,rms-as-ln[model.permute_pixels=false] (inconclusive)
10,0.0185,-0.0513841,0.0883841,0,2,rms-as-ln[model.permute_pixels=true] (inconclusive)
11,-0.253565,-0.616937,0.109807,0,2,normalized-train-faster-first-50[model.norm.type=layer,model.permute_pixels=false] (inconclusive)
12,-0.249971,-0.356049,-0.143892,0,2,normalized-train-faster-first-50[model.norm.type=rms,model.permute_pixels=false] (inconclusive)
13,-0.187466,-0.489696,0.114764,0,2,normalized-train-faster-first-50[model.norm.type=layer,model.permute_pixels=true] (inconclusive)
14,-0.192236,-0.657364,0.272893,0,2,normalized-train-faster-first-50[model.norm.type=rms,model.permute_pixels=true] (inconclusive)
15,4,0,4,0,2,normalized-train-faster-first-50 (inconclusive)
16,0.1225,0.0272035,0.217797,0,2,ln-ahead-at-every-eval-rows[step=25] (inconclusive)
17,0.072,-0.220243,0.364243,0,2,ln-ahead-at-every-eval-rows[step=50] (inconclusive)
18,0.046,-0.0302372,0.122237,0,2,ln-ahead-at-every-eval-rows[step=75] (inconclusive)
19,0.015,-0.0231186,0.0531186,0,2,ln-ahead-at-every-eval-rows[step=100] (inconclusive)
20,0.0465,-0.0742089,0.167209,0,2,ln-ahead-at-every-eval-rows[step=125] (inconclusive)
21,0.031,-0.312068,0.374068,0,2,ln-ahead-at-every-eval-rows[step=150] (inconclusive)
22,0.0305,-0.0775027,0.138503,0,2,ln-ahead-at-every-eval-rows[step=175] (inconclusive)
23,0.0255,0.00644069,0.0445593,0,2,ln-ahead-at-every-eval-rows[step=186] (inconclusive)
24,8,0,8,0,2,ln-ahead-at-every-eval-rows (inconclusive)
25,0.0695,0.0123221,0.126678,0,2,ln-ahead-at-every-eval-permuted[step=25] (inconclusive)
26,0.052,0.0392938,0.0647062,0,2,ln-ahead-at-every-eval-permuted[step=50] (inconclusive)
27,0.056,-0.160005,0.272005,0,2,ln-ahead-at-every-eval-permuted[step=75] (inconclusive)
28,0.0275,0.00844069,0.0465593,0,2,ln-ahead-at-every-eval-permuted[step=100] (inconclusive)
29,0.0475,-0.124034,0.219034,0,2,ln-ahead-at-every-eval-permuted[step=125] (inconclusive)
30,0.037,-0.255243,0.329243,0,2,ln-ahead-at-every-eval-permuted[step=150] (inconclusive)
31,0.0315,-0.101915,0.164915,0,2,ln-ahead-at-every-eval-permuted[step=175] (inconclusive)
32,0.0245,-0.0835027,0.132503,0,2,ln-ahead-at-every-eval-permuted[step=186] (inconclusive)
33,8,0,8,0,2,ln-ahead-at-every-eval-permuted (inconclusive)
34,0.00359444,-0.253699,0.260888,0,2,rms-as-fast-as-ln[model.permute_pixels=false] (inconclusive)
35,-0.00476964,-0.167669,0.158129,0,2,rms-as-fast-as-ln[model.permute_pixels=true] (inconclusive)
36,2,0,2,0,2,rms-as-fast-as-ln (inconclusive)
37,-0.0235,-0.156915,0.109915,0,2,rms-ends-lower-rows (inconclusive)
38,-0.0639963,-0.197613,0.0696206,0,2,ln-trains-lower-101-186[model.permute_pixels=false] (inconclusive)
39,-0.101864,-0.262227,0.058499,0,2,ln-trains-lower-101-186[model.permute_pixels=true] (inconclusive)
40,2,0,2,0,2,ln-trains-lower-101-186 (inconclusive)
41,-0.015,-0.0658248,0.0358248,0,2,permuted-not-harder (inconclusive)
42,2.71473,2.22035,3.20911,1.5,2,normalized-slower-per-second[model.norm.type=layer,model.permute_pixels=false] (inconclusive)
43,4.28246,4.02444,4.54048,1.5,2,normalized-slower-per-second[model.norm.type=rms,model.permute_pixels=false] (inconclusive)
44,1.73295,0.383891,3.082,1.5,2,normalized-slower-per-second[model.norm.type=layer,model.permute_pixels=true] (inconclusive)
45,1.6726,1.1821,2.1631,1.5,2,normalized-slower-per-second[model.norm.type=rms,model.permute_pixels=true] (inconclusive)
46,4,0,4,1.5,2,normalized-slower-per-second (inconclusive)
EOD
$bands << EOD
5,0,0
6,0,0
9,0,0.01
10,0,0.01
34,0,0.05
35,0,0.05
36,0,0.05
EOD
set yrange [0.5:46.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
