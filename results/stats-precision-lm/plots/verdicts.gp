# normlab verdict's forest plot: a row per claim, each on its own axis
# Written by normlab plot from its templates (plots/style.gp, plots/forest.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot verdicts.gp (PNG), or
#   gnuplot -e 'fmt="svg"' verdicts.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "verdicts"
fig_width = 1100
fig_height = 1832

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

set title "stats-precision-lm: 38 claims, 95% intervals" font title_font
$claims << EOD
1,0.944413,0.944413,0.944413,0.0487805,2,fp16-costs-every-cell[model.d_model=512;model.norm.type=layer;train.batch_size=16]: nats (inconclusive),-0.04 nats,0.78 nats,0.0487805
2,0.91522,0.91522,0.91522,0.047619,2,fp16-costs-every-cell[model.d_model=512;model.norm.type=rms;train.batch_size=16]: nats (inconclusive),-0.1 nats,2 nats,0.047619
3,0.0584,0.0584,0.0584,0.933333,2,fp16-costs-every-cell[model.d_model=64;model.norm.type=batch;train.batch_size=4]: nats (inconclusive),-0.00014 nats,1e-05 nats,0.933333
4,0.505868,0.065304,0.946432,0.55,2,fp16-costs-every-cell[model.d_model=64;model.norm.type=batch;train.batch_size=16]: nats (inconclusive),-0.022 nats,0.018 nats,0.55
5,0.0596293,0.0596293,0.0596293,0.928571,2,fp16-costs-every-cell[model.d_model=64;model.norm.type=batch;train.batch_size=64]: nats (inconclusive),-0.026 nats,0.002 nats,0.928571
6,0.945732,0.945732,0.945732,0.056338,2,fp16-costs-every-cell[model.d_model=64;model.norm.type=layer;train.batch_size=16]: nats (inconclusive),-4e-05 nats,0.00067 nats,0.056338
7,0.950111,0.950111,0.950111,0.0555556,2,fp16-costs-every-cell[model.d_model=64;model.norm.type=group;train.batch_size=16]: nats (inconclusive),-5e-06 nats,8.5e-05 nats,0.0555556
8,0.0758824,0.0758824,0.0758824,0.941176,2,fp16-costs-every-cell[model.d_model=64;model.norm.type=rms;train.batch_size=16]: nats (inconclusive),-0.00016 nats,1e-05 nats,0.941176
9,0.5,0.0454545,0.954545,0.954545,2,fp16-costs-every-cell: cells (inconclusive),-0.4 cells,8.4 cells,0.0454545
10,0.938709,0.938709,0.938709,0.0740741,2,bf16-costs-every-cell[model.d_model=512;model.norm.type=layer;train.batch_size=16]: nats (inconclusive),-0.002 nats,0.025 nats,0.0740741
11,0.954091,0.954091,0.954091,0.0625,2,bf16-costs-every-cell[model.d_model=512;model.norm.type=rms;train.batch_size=16]: nats (inconclusive),-0.002 nats,0.03 nats,0.0625
12,0.0651265,0.0651265,0.0651265,0.941176,2,bf16-costs-every-cell[model.d_model=64;model.norm.type=batch;train.batch_size=4]: nats (inconclusive),-0.0032 nats,0.0002 nats,0.941176
13,0.496167,0.0489164,0.943418,0.925926,2,bf16-costs-every-cell[model.d_model=64;model.norm.type=batch;train.batch_size=16]: nats (inconclusive),-0.075 nats,0.006 nats,0.925926
14,0.928167,0.928167,0.928167,0.05,2,bf16-costs-every-cell[model.d_model=64;model.norm.type=batch;train.batch_size=64]: nats (inconclusive),-0.1 nats,1.9 nats,0.05
15,0.0640025,0.0640025,0.0640025,0.916667,2,bf16-costs-every-cell[model.d_model=64;model.norm.type=layer;train.batch_size=16]: nats (inconclusive),-0.011 nats,0.001 nats,0.916667
16,0.0714286,0.0714286,0.0714286,0.942857,2,bf16-costs-every-cell[model.d_model=64;model.norm.type=group;train.batch_size=16]: nats (inconclusive),-0.00033 nats,2e-05 nats,0.942857
17,0.941948,0.941948,0.941948,0.0555556,2,bf16-costs-every-cell[model.d_model=64;model.norm.type=rms;train.batch_size=16]: nats (inconclusive),-0.0003 nats,0.0051 nats,0.0555556
18,0.5,0.0454545,0.954545,0.954545,2,bf16-costs-every-cell: cells (inconclusive),-0.4 cells,8.4 cells,0.0454545
19,0.5,0.5,0.5,0.5,3,fp16-breaks-layer-at-512: count (described),-0.0001 (count),0.0001 (count),0.5
20,0.5,0.5,0.5,0.5,3,fp16-breaks-rms-at-512: count (described),-0.0001 (count),0.0001 (count),0.5
21,0.5,0.5,0.5,0.5,3,bf16-breaks-bn-at-64: count (described),-0.0001 (count),0.0001 (count),0.5
22,0.5,0.5,0.5,0.5,3,bf16-bn-64-above-unigram: count (described),-0.0001 (count),0.0001 (count),0.5
23,0.5,0.5,0.5,0.5,3,bf16-bn-64-training-broke: count (described),-0.0001 (count),0.0001 (count),0.5
24,0.5,0.5,0.5,0.5,3,fp16-bn-64-no-overflow: count (described),-0.0001 (count),0.0001 (count),0.5
25,0.5,0.5,0.5,0.5,3,bf16-improves-bn-16-every-seed: count (described),2.97 (count),3.03 (count),nan
26,0.5,0.5,0.5,0.5,3,fp16-harmless-elsewhere[model.norm.type=batch;train.batch_size=4]: count (described),-0.0001 (count),0.0001 (count),0.5
27,0.5,0.5,0.5,0.5,3,fp16-harmless-elsewhere[model.norm.type=batch;train.batch_size=16]: count (described),-0.0001 (count),0.0001 (count),0.5
28,0.5,0.5,0.5,0.5,3,fp16-harmless-elsewhere[model.norm.type=batch;train.batch_size=64]: count (described),-0.0001 (count),0.0001 (count),0.5
29,0.5,0.5,0.5,0.5,3,fp16-harmless-elsewhere[model.norm.type=layer;train.batch_size=16]: count (described),-0.0001 (count),0.0001 (count),0.5
30,0.5,0.5,0.5,0.5,3,fp16-harmless-elsewhere[model.norm.type=group;train.batch_size=16]: count (described),-0.0001 (count),0.0001 (count),0.5
31,0.5,0.5,0.5,0.5,3,fp16-harmless-elsewhere[model.norm.type=rms;train.batch_size=16]: count (described),-0.0001 (count),0.0001 (count),0.5
32,0.5,0.5,0.5,0.5,3,bf16-costs-at-512[model.norm.type=layer]: count (described),-0.0001 (count),0.0001 (count),0.5
33,0.5,0.5,0.5,0.5,3,bf16-costs-at-512[model.norm.type=rms]: count (described),-0.0001 (count),0.0001 (count),0.5
34,0.954545,0.0454545,0.954545,nan,3,bf16-costs-at-512: cells (described),-0.1 cells,2.1 cells,0.0454545
35,0.916667,0.916667,0.916667,0.0833333,3,bf16-small-at-short-sums[model.norm.type=layer]: count (described),-0.1 (count),1.1 (count),0.0833333
36,0.5,0.5,0.5,0.5,3,bf16-small-at-short-sums[model.norm.type=group]: count (described),-0.0001 (count),0.0001 (count),0.5
37,0.5,0.5,0.5,0.5,3,bf16-small-at-short-sums[model.norm.type=rms]: count (described),-0.0001 (count),0.0001 (count),0.5
38,0.5,0.5,0.5,0.5,3,bf16-small-bn-batch-4: count (described),-0.0001 (count),0.0001 (count),0.5
EOD
$bands << EOD
19,0.5,0
20,0.5,0
21,0.5,0
22,0.5,0
23,0.5,0
24,0.5,0
25,0.5,0
26,0.5,0
27,0.5,0
28,0.5,0
29,0.5,0
30,0.5,0
31,0.5,0
32,0.5,0
33,0.5,0
35,0.0833333,0
36,0.5,0
37,0.5,0
38,0.5,0
EOD
set yrange [0.5:38.5] reverse
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
     $bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "expected band", \
     $claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title "expected", \
     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw pt effect_pt ps effect_ps lc rgb variable title "effect and interval"
unset output
