# Final test loss against alpha_init
# Written by normlab plot from its templates (plots/style.gp, plots/final.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot final-test_loss-alpha_init.gp (PNG), or
#   gnuplot -e 'fmt="svg"' final-test_loss-alpha_init.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "final-test_loss-alpha_init"
fig_width = 820
fig_height = 570

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

# The final plot's own style (a final metric against any swept key, a
# series per colour value, a panel per panel value); plots/style.gp holds
# what every figure shares.
series_lw = 2                # a series' line (numeric x) and error bars
series_pt = 7                # its markers
series_ps = 1.1
reference_dt = 2             # the dashed line of runs the x key does not apply to

set label 101 "Final test loss against alpha_init" at screen 0.5, screen 0.9614 center font title_font
set label 102 "text | LM d_model 64, layers 3, heads 4, context 64, placement pre\nAdamW lr 0.003, wd 0.1, cosine schedule, batch 16, 500 steps | 5 seeds" at screen 0.5, screen 0.9053 center font subtitle_font tc rgb subtitle_color
set label 103 "points: mean over 5 seeds; bars: min to max. 5 runs without model.norm.alpha_init: dashed line, band = seed range" at screen 0.01, screen 0.0175 left font footnote_font tc rgb footnote_color
set multiplot
unset key
set ylabel "final test loss (cross-entropy, nats)"
set yrange [1.954959428:3.105738912]
set logscale x 10
set xtics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2)
set xrange [0.0625:3.2]
set xlabel "model.norm.alpha_init (log10 scale)"
set lmargin at screen 0.1098
set rmargin at screen 0.7561
set bmargin at screen 0.1579
set tmargin at screen 0.7860
set title ""
plot "final-test_loss-alpha_init-reference.csv" using (column("panel") == 0 && column("series") == 0 ? column("x") : NaN):(column("min")):(column("max")) with filledcurves lc rgb "#2ca02c" notitle, \
  "final-test_loss-alpha_init-reference.csv" using (column("panel") == 0 && column("series") == 0 ? column("x") : NaN):(column("mean")) with lines lw series_lw dt reference_dt lc rgb "#2ca02c" notitle, \
  "final-test_loss-alpha_init.csv" using (column("panel") == 0 && column("series") == 1 ? column("x")*10**(0.0075) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#bcbd22" title "dyt"
unset label 101
unset label 102
unset title
unset xlabel
unset ylabel
unset border
unset tics
unset grid
unset logscale
set xrange [0:1]
set yrange [0:1]
set key at screen 0.7683, screen 0.7860 top left Left reverse nobox noopaque spacing 1.2
set lmargin at screen 0.7683
set rmargin at screen 0.9900
set bmargin at screen 0.1404
set tmargin at screen 0.7860
plot NaN with lines lw series_lw dt reference_dt lc rgb "#2ca02c" title "layer", NaN with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#bcbd22" title "dyt"
unset multiplot
unset output
