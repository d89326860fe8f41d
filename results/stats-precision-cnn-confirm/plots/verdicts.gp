# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 952

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

set title "stats-precision-cnn-confirm: 18 claims, 95% intervals" font title_font
$claims << EOD
1,0.504691,0.0564068,0.952976,0.234568,2,fp16-costs-every-cell[model.norm.type=batch;train.batch_size=8]: points (inconclusive),-19 points,62 points,0.234568
2,0.931059,0.909114,0.953003,0.0470588,0,fp16-costs-every-cell[model.norm.type=batch;train.batch_size=64]: points (holds),-4 points,81 points,0.0470588
3,0.920476,0.896524,0.944429,0.047619,0,fp16-costs-every-cell[model.norm.type=layer;train.batch_size=8]: points (holds),-4 points,80 points,0.047619
4,0.931707,0.914509,0.948906,0.0487805,0,fp16-costs-every-cell[model.norm.type=layer;train.batch_size=64]: points (holds),-4 points,78 points,0.0487805
5,0.933373,0.918287,0.94846,0.0481928,0,fp16-costs-every-cell[model.norm.type=group;train.batch_size=8]: points (holds),-4 points,79 points,0.0481928
6,0.499875,0.0464888,0.953261,0.325,2,fp16-costs-every-cell[model.norm.type=group;train.batch_size=64]: points (inconclusive),-26 points,54 points,0.325
7,0.906667,0.865838,0.947495,0.047619,0,fp16-costs-every-cell[model.norm.type=rms;train.batch_size=8]: points (holds),-4 points,80 points,0.047619
8,0.93,0.911236,0.948764,0.0487805,0,fp16-costs-every-cell[model.norm.type=rms;train.batch_size=64]: points (holds),-4 points,78 points,0.0487805
9,0.954545,0.0454545,0.954545,0.954545,2,fp16-costs-every-cell: cells (inconclusive),5.9 cells,8.1 cells,nan
10,0.588571,0.244255,0.932888,0.0714286,0,bf16-costs-every-cell[model.norm.type=batch;train.batch_size=8]: points (holds),-1 points,13 points,0.0714286
11,0.8425,0.772433,0.912567,0.05,0,bf16-costs-every-cell[model.norm.type=batch;train.batch_size=64]: points (holds),-1 points,19 points,0.05
12,0.559231,0.225746,0.892715,0.0769231,0,bf16-costs-every-cell[model.norm.type=layer;train.batch_size=8]: points (holds),-1 points,12 points,0.0769231
13,0.785,0.679621,0.890379,0.0714286,0,bf16-costs-every-cell[model.norm.type=layer;train.batch_size=64]: points (holds),-1 points,13 points,0.0714286
14,0.508696,0.0673837,0.950008,0.217391,2,bf16-costs-every-cell[model.norm.type=group;train.batch_size=8]: points (inconclusive),-0.5 points,1.8 points,0.217391
15,0.504651,0.0609806,0.948322,0.0930233,2,bf16-costs-every-cell[model.norm.type=group;train.batch_size=64]: points (inconclusive),-0.4 points,3.9 points,0.0930233
16,0.498315,0.0496434,0.946986,0.292135,2,bf16-costs-every-cell[model.norm.type=rms;train.batch_size=8]: points (inconclusive),-26 points,63 points,0.292135
17,0.504684,0.0561736,0.953193,0.202532,2,bf16-costs-every-cell[model.norm.type=rms;train.batch_size=64]: points (inconclusive),-16 points,63 points,0.202532
18,0.955556,0.0666667,0.955556,0.955556,2,bf16-costs-every-cell: cells (inconclusive),3.7 cells,8.2 cells,nan
EOD
$bands << EOD
EOD
set yrange [0.5:18.5] reverse
set xrange [-0.2:1.2]
set bmargin 5
unset xtics
set grid noxtics
set xlabel "effect as each claim says, each row on its own axis in its claim's unit, named at its ends (points, nats, ratio, % of seeds, cells)"
set key at screen 0.99, screen 0.01 right bottom horizontal
plot $claims using (0):1:(1):(0) with vectors nohead lc rgb axis_rgb notitle, \
     $claims using (0):1:8 with labels right offset -0.5,0 tc rgb axis_rgb notitle, \
     $claims using (1):1:9 with labels left offset 0.5,0 tc rgb axis_rgb notitle, \
     $claims using 10:($1-0.22):(0):(0.44) with vectors nohead lw zero_lw lc rgb axis_rgb title "0 on the row's axis", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
