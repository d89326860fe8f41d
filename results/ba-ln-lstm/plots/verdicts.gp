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
1,-0.0268333,-0.0351667,-0.0166667,0,0,ln-ends-lower[model.permute_pixels=false] (holds)
2,-0.0161667,-0.0223333,-0.00983333,0,0,ln-ends-lower[model.permute_pixels=true] (holds)
3,-0.0268333,-0.0351667,-0.0166667,-0.02,2,ln-2.5-points[model.permute_pixels=false] (inconclusive)
4,-0.0161667,-0.0223333,-0.00983333,-0.02,2,ln-2.5-points[model.permute_pixels=true] (inconclusive)
5,1,1,1,0,1,ln-2.5-points-every-seed[model.permute_pixels=false] (does not hold)
6,4,4,4,0,1,ln-2.5-points-every-seed[model.permute_pixels=true] (does not hold)
7,0.138,0.120333,0.153833,0,0,ln-faster-step-25[model.permute_pixels=false] (holds)
8,0.0796667,0.068,0.0936667,0,0,ln-faster-step-25[model.permute_pixels=true] (holds)
9,0.011,0.002,0.018,0,2,rms-as-ln[model.permute_pixels=false] (inconclusive)
10,0.00233333,-0.00816667,0.0126667,0,2,rms-as-ln[model.permute_pixels=true] (inconclusive)
11,-0.25283,-0.276977,-0.22685,0,0,normalized-train-faster-first-50[model.norm.type=layer,model.permute_pixels=false] (holds)
12,-0.255364,-0.279937,-0.231552,0,0,normalized-train-faster-first-50[model.norm.type=rms,model.permute_pixels=false] (holds)
13,-0.197292,-0.223599,-0.173015,0,0,normalized-train-faster-first-50[model.norm.type=layer,model.permute_pixels=true] (holds)
14,-0.189434,-0.217888,-0.160438,0,0,normalized-train-faster-first-50[model.norm.type=rms,model.permute_pixels=true] (holds)
15,4,4,4,0,0,normalized-train-faster-first-50 (holds)
16,0.138,0.120333,0.153833,0,0,ln-ahead-at-every-eval-rows[step=25] (holds)
17,0.0816667,0.063,0.103333,0,0,ln-ahead-at-every-eval-rows[step=50] (holds)
18,0.045,0.0186667,0.0721667,0,0,ln-ahead-at-every-eval-rows[step=75] (holds)
19,0.0336667,0.0185,0.0515,0,0,ln-ahead-at-every-eval-rows[step=100] (holds)
20,0.0428333,0.028,0.0568333,0,0,ln-ahead-at-every-eval-rows[step=125] (holds)
21,0.0385,0.0238333,0.0531667,0,0,ln-ahead-at-every-eval-rows[step=150] (holds)
22,0.0265,0.0116667,0.0413333,0,0,ln-ahead-at-every-eval-rows[step=175] (holds)
23,0.0268333,0.0166667,0.0351667,0,0,ln-ahead-at-every-eval-rows[step=186] (holds)
24,8,8,8,0,0,ln-ahead-at-every-eval-rows (holds)
25,0.0796667,0.068,0.0936667,0,0,ln-ahead-at-every-eval-permuted[step=25] (holds)
26,0.048,0.0305,0.0663333,0,0,ln-ahead-at-every-eval-permuted[step=50] (holds)
27,0.0381667,0.0223333,0.0565,0,0,ln-ahead-at-every-eval-permuted[step=75] (holds)
28,0.0303333,0.017,0.0436667,0,0,ln-ahead-at-every-eval-permuted[step=100] (holds)
29,0.0345,0.0238333,0.0438333,0,0,ln-ahead-at-every-eval-permuted[step=125] (holds)
30,0.0333333,0.025,0.041,0,0,ln-ahead-at-every-eval-permuted[step=150] (holds)
31,0.0223333,0.0181667,0.027,0,0,ln-ahead-at-every-eval-permuted[step=175] (holds)
32,0.0161667,0.00983333,0.0223333,0,0,ln-ahead-at-every-eval-permuted[step=186] (holds)
33,8,8,8,0,0,ln-ahead-at-every-eval-permuted (holds)
34,-0.0025344,-0.0106651,0.00791919,0,0,rms-as-fast-as-ln[model.permute_pixels=false] (holds)
35,0.00785753,0.000666924,0.0158204,0,0,rms-as-fast-as-ln[model.permute_pixels=true] (holds)
36,2,2,2,0,0,rms-as-fast-as-ln (holds)
37,-0.0158333,-0.0203333,-0.0115,0,0,rms-ends-lower-rows (holds)
38,-0.0556848,-0.0712559,-0.0411088,0,0,ln-trains-lower-101-186[model.permute_pixels=false] (holds)
39,-0.0864104,-0.106129,-0.0671719,0,0,ln-trains-lower-101-186[model.permute_pixels=true] (holds)
40,2,2,2,0,0,ln-trains-lower-101-186 (holds)
41,-0.00833333,-0.0148333,-0.00166667,0,2,permuted-not-harder (inconclusive)
42,1.67398,1.45214,1.91621,1.5,2,normalized-slower-per-second[model.norm.type=layer,model.permute_pixels=false] (inconclusive)
43,1.97469,1.5902,2.34947,1.5,2,normalized-slower-per-second[model.norm.type=rms,model.permute_pixels=false] (inconclusive)
44,1.26151,1.11408,1.40177,1.5,1,normalized-slower-per-second[model.norm.type=layer,model.permute_pixels=true] (does not hold)
45,1.31822,1.27075,1.36648,1.5,1,normalized-slower-per-second[model.norm.type=rms,model.permute_pixels=true] (does not hold)
46,2,0,2,1.5,1,normalized-slower-per-second (does not hold)
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
