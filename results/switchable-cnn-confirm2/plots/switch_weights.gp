# Switchable normalization: the weights of instance, layer and batch statistics over training
# Written by normlab plot from its templates (plots/style.gp, plots/switch_weights.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot switch_weights.gp (PNG), or
#   gnuplot -e 'fmt="svg"' switch_weights.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "switch_weights"
fig_width = 1540
fig_height = 620

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

# The switch_weights plot's own style (switchable normalization's softmax
# weights against step); plots/style.gp holds what every figure shares.
series_lw = 2
mean_dt = 1                   # the weights of the mean: solid
var_dt = 2                    # of the variance: dashed

set label 101 "Switchable normalization: the weights of instance, layer and batch statistics over training" at screen 0.5, screen 0.9645 center font title_font
set label 102 "fashion-mnist, 4000 training samples | CNN 32-64 relu, switchable norm before act\nSGD lr 0.04 at batch 64, linear in the batch, momentum 0.9, 2 epochs | 20 seeds" at screen 0.5, screen 0.9129 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over the switchable layers and 20 seeds (min and max in switch_weights.csv)" at screen 0.01, screen 0.0161 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "softmax weight"
set yrange [0:1]
set lmargin at screen 0.0700
set rmargin at screen 0.3724
set bmargin at screen 0.1452
set tmargin at screen 0.8032
set title "batch_size=2"
set xtics ("0" 0, "1k" 1000, "2k" 2000, "3k" 3000)
set xrange [0:3950]
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "switch_weights.csv" using (column("variant") == 0 && column("term") == 0 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt mean_dt lc rgb "#9467bd" title "mean: instance", \
  "switch_weights.csv" using (column("variant") == 0 && column("term") == 1 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt mean_dt lc rgb "#2ca02c" title "mean: layer", \
  "switch_weights.csv" using (column("variant") == 0 && column("term") == 2 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt mean_dt lc rgb "#1f77b4" title "mean: batch", \
  "switch_weights.csv" using (column("variant") == 0 && column("term") == 3 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt var_dt lc rgb "#9467bd" title "variance: instance", \
  "switch_weights.csv" using (column("variant") == 0 && column("term") == 4 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt var_dt lc rgb "#2ca02c" title "variance: layer", \
  "switch_weights.csv" using (column("variant") == 0 && column("term") == 5 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt var_dt lc rgb "#1f77b4" title "variance: batch"
unset label 101
unset label 102
set lmargin at screen 0.4633
set rmargin at screen 0.7657
set bmargin at screen 0.1452
set tmargin at screen 0.8032
set title "batch_size=64"
set xtics ("0" 0, "20" 20, "40" 40, "60" 60, "80" 80, "100" 100)
set xrange [0:100]
unset key
plot "switch_weights.csv" using (column("variant") == 1 && column("term") == 0 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt mean_dt lc rgb "#9467bd" title "mean: instance", \
  "switch_weights.csv" using (column("variant") == 1 && column("term") == 1 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt mean_dt lc rgb "#2ca02c" title "mean: layer", \
  "switch_weights.csv" using (column("variant") == 1 && column("term") == 2 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt mean_dt lc rgb "#1f77b4" title "mean: batch", \
  "switch_weights.csv" using (column("variant") == 1 && column("term") == 3 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt var_dt lc rgb "#9467bd" title "variance: instance", \
  "switch_weights.csv" using (column("variant") == 1 && column("term") == 4 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt var_dt lc rgb "#2ca02c" title "variance: layer", \
  "switch_weights.csv" using (column("variant") == 1 && column("term") == 5 ? column("step") : NaN):(column("mean")) with lines lw series_lw dt var_dt lc rgb "#1f77b4" title "variance: batch"
unset multiplot
unset output
