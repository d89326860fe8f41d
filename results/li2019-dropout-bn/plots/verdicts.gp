# normlab verdict's forest plot: a row per claim
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 2272

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

set title "li2019-dropout-bn: 48 claims, 95% intervals" font title_font
$claims << EOD
1,1.03327,0.999418,1.06711,1,2,shift-gone-after-last-norm[model.widths=[64; 64]] (inconclusive)
2,1.0412,0.948278,1.13412,1,2,shift-gone-after-last-norm[model.widths=[128; 128]] (inconclusive)
3,1.03986,0.988317,1.0914,1,2,shift-gone-after-last-norm[model.widths=[256; 256]] (inconclusive)
4,1.04313,1.00826,1.078,1,2,shift-gone-after-last-norm[model.widths=[512; 512]] (inconclusive)
5,1.03464,0.932039,1.13723,1,2,shift-gone-after-last-norm[model.widths=[1024; 1024]] (inconclusive)
6,-0.156294,-0.26579,-0.0467972,-0.1,2,shift-shrinks-with-width (inconclusive)
7,2.14831,1.90546,2.39117,1,2,before-norm-shift-grows (inconclusive)
8,0.0186667,-0.00141238,0.0387457,0,2,before-norm-costs-w64 (inconclusive)
9,-0.017,-0.0271668,-0.00683323,0,2,after-last-costs-less-w64 (inconclusive)
10,0.0195,-0.00429462,0.0432946,0,2,before-norm-costs-w128 (inconclusive)
11,-0.0101667,-0.0417439,0.0214106,0,2,after-last-costs-less-w128 (inconclusive)
12,0.00966667,-0.0178931,0.0372264,0,2,before-norm-costs-w256 (inconclusive)
13,-0.00483333,-0.0489282,0.0392616,0,2,after-last-costs-less-w256 (inconclusive)
14,0.00966667,0.000511235,0.0188221,0,2,before-norm-costs-w512 (inconclusive)
15,-0.00883333,-0.0207684,0.00310174,0,2,after-last-costs-less-w512 (inconclusive)
16,0.0115,0.00458445,0.0184155,0,2,before-norm-costs-w1024 (inconclusive)
17,-0.0153333,-0.0428931,0.0122264,0,2,after-last-costs-less-w1024 (inconclusive)
18,-0.00613038,-0.0164559,0.00419512,0,2,batch-stats-recover-nothing-w64 (inconclusive)
19,-0.00130914,-0.0175463,0.014928,0,2,batch-stats-recover-nothing-w1024 (inconclusive)
20,0.001,-0.0232442,0.0252442,0,2,p02-within-the-spread[model.dropout.placement=before_norm;model.widths=[64; 64]] (inconclusive)
21,-0.002,-0.0225223,0.0185223,0,2,p02-within-the-spread[model.dropout.placement=after_norm;model.widths=[64; 64]] (inconclusive)
22,0.00316667,-0.0190637,0.025397,0,2,p02-within-the-spread[model.dropout.placement=after_last_norm;model.widths=[64; 64]] (inconclusive)
23,0.00583333,0.00270753,0.00895914,0,0,p02-within-the-spread[model.dropout.placement=before_norm;model.widths=[128; 128]] (holds)
24,0.0035,0.000213795,0.00678621,0,0,p02-within-the-spread[model.dropout.placement=after_norm;model.widths=[128; 128]] (holds)
25,0.00533333,0.000313572,0.0103531,0,2,p02-within-the-spread[model.dropout.placement=after_last_norm;model.widths=[128; 128]] (inconclusive)
26,0.000833333,-0.00296125,0.00462792,0,0,p02-within-the-spread[model.dropout.placement=before_norm;model.widths=[256; 256]] (holds)
27,-0.00116667,-0.0040351,0.00170177,0,0,p02-within-the-spread[model.dropout.placement=after_norm;model.widths=[256; 256]] (holds)
28,0.0025,-0.00197834,0.00697834,0,0,p02-within-the-spread[model.dropout.placement=after_last_norm;model.widths=[256; 256]] (holds)
29,0.00266667,-0.00907291,0.0144062,0,2,p02-within-the-spread[model.dropout.placement=before_norm;model.widths=[512; 512]] (inconclusive)
30,-0.0045,-0.0213024,0.0123024,0,2,p02-within-the-spread[model.dropout.placement=after_norm;model.widths=[512; 512]] (inconclusive)
31,0.0045,-0.00566677,0.0146668,0,2,p02-within-the-spread[model.dropout.placement=after_last_norm;model.widths=[512; 512]] (inconclusive)
32,-0.00433333,-0.0297983,0.0211316,0,2,p02-within-the-spread[model.dropout.placement=before_norm;model.widths=[1024; 1024]] (inconclusive)
33,-0.006,-0.0355758,0.0235758,0,2,p02-within-the-spread[model.dropout.placement=after_norm;model.widths=[1024; 1024]] (inconclusive)
34,0.0015,-0.0391101,0.0421101,0,2,p02-within-the-spread[model.dropout.placement=after_last_norm;model.widths=[1024; 1024]] (inconclusive)
35,15,5,15,0,2,p02-within-the-spread (inconclusive)
36,0.00166667,-0.00829573,0.0116291,0,2,after-last-costs-little[model.widths=[64; 64]] (inconclusive)
37,0.00933333,-0.00506253,0.0237292,0,2,after-last-costs-little[model.widths=[128; 128]] (inconclusive)
38,0.00483333,-0.0117069,0.0213735,0,2,after-last-costs-little[model.widths=[256; 256]] (inconclusive)
39,0.000833333,-0.014597,0.0162637,0,2,after-last-costs-little[model.widths=[512; 512]] (inconclusive)
40,-0.00383333,-0.0245179,0.0168512,0,2,after-last-costs-little[model.widths=[1024; 1024]] (inconclusive)
41,5,0,5,0,2,after-last-costs-little (inconclusive)
42,0.00716667,-0.0171834,0.0315167,0,2,cost-shrinks-with-width (inconclusive)
43,2.44925,2.42516,2.47333,2,0,norm1-shift-does-not-shrink[model.widths=[64; 64]] (holds)
44,2.43454,2.28462,2.58446,2,0,norm1-shift-does-not-shrink[model.widths=[128; 128]] (holds)
45,2.43432,2.33836,2.53027,2,0,norm1-shift-does-not-shrink[model.widths=[256; 256]] (holds)
46,2.49721,2.4718,2.52261,2,0,norm1-shift-does-not-shrink[model.widths=[512; 512]] (holds)
47,2.60199,2.53633,2.66765,2,0,norm1-shift-does-not-shrink[model.widths=[1024; 1024]] (holds)
48,5,5,5,2,2,norm1-shift-does-not-shrink (inconclusive)
EOD
$bands << EOD
1,1,0.1
2,1,0.1
3,1,0.1
4,1,0.1
5,1,0.1
18,0,0.01
19,0,0.01
20,0,0.01
21,0,0.01
22,0,0.01
23,0,0.01
24,0,0.01
25,0,0.01
26,0,0.01
27,0,0.01
28,0,0.01
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
EOD
set yrange [0.5:48.5] reverse
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel "effect (a - b, a / b, a's value or rate, as each claim says)"
set key bottom right
plot $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
