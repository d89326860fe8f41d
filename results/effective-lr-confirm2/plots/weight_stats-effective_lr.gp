# Effective learning rate of the scale-invariant weights over training
# Written by normlab plot from its templates (plots/style.gp, plots/weight_stats.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot weight_stats-effective_lr.gp (PNG), or
#   gnuplot -e 'fmt="svg"' weight_stats-effective_lr.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "weight_stats-effective_lr"
fig_width = 1540
fig_height = 980

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

# The weight_stats plot's own style (a weight tensor's update ratio, norm or
# effective learning rate against step, per layer); plots/style.gp holds
# what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5
reference_dt = 2              # effective_lr's sqrt(2 lr wd) line per variant
reference_color = "#808080"   # ... its colour when the lines are layers

set label 101 "Effective learning rate of the scale-invariant weights over training" at screen 0.5, screen 0.9776 center font title_font
set label 102 "fashion-mnist, 10000 training samples | MLP 128-128-128 relu, batch norm before act\nSGD, momentum 0, wd 0.01, batch 64, 10000 steps | 66 seeds" at screen 0.5, screen 0.9449 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over 66 seeds (min and max in weight_stats-effective_lr.csv). dashed: sqrt(2 lr wd), the equilibrium under weight decay (SGD, momentum 0)" at screen 0.01, screen 0.0102 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "effective learning rate ||dw|| / ||w||"
set xtics ("0" 0, "2k" 2000, "4k" 4000, "6k" 6000, "8k" 8000)
set xrange [0:9900]
set logscale y 10
set yrange [0.000895039:0.580852]
set format y "%g"
set lmargin at screen 0.0700
set rmargin at screen 0.3724
set bmargin at screen 0.5398
set tmargin at screen 0.8755
set title "fc1.weight"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "weight_stats-effective_lr.csv" using (column("variant") == 0 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.05", \
  "weight_stats-effective_lr.csv" using (column("variant") == 1 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.2", \
  "weight_stats-effective_lr.csv" using (column("variant") == 2 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.8", \
  0.0316227766 with lines lw series_lw dt reference_dt lc rgb "#1f77b4" title "sqrt(2 lr wd) = 0.0316, lr=0.05", \
  0.0632455532 with lines lw series_lw dt reference_dt lc rgb "#ff7f0e" title "sqrt(2 lr wd) = 0.0632, lr=0.2", \
  0.126491106 with lines lw series_lw dt reference_dt lc rgb "#2ca02c" title "sqrt(2 lr wd) = 0.126, lr=0.8"
unset label 101
unset label 102
set lmargin at screen 0.4633
set rmargin at screen 0.7657
set bmargin at screen 0.5398
set tmargin at screen 0.8755
set title "fc2.weight"
unset key
plot "weight_stats-effective_lr.csv" using (column("variant") == 0 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.05", \
  "weight_stats-effective_lr.csv" using (column("variant") == 1 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.2", \
  "weight_stats-effective_lr.csv" using (column("variant") == 2 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.8", \
  0.0316227766 with lines lw series_lw dt reference_dt lc rgb "#1f77b4" title "sqrt(2 lr wd) = 0.0316, lr=0.05", \
  0.0632455532 with lines lw series_lw dt reference_dt lc rgb "#ff7f0e" title "sqrt(2 lr wd) = 0.0632, lr=0.2", \
  0.126491106 with lines lw series_lw dt reference_dt lc rgb "#2ca02c" title "sqrt(2 lr wd) = 0.126, lr=0.8"
set lmargin at screen 0.0700
set rmargin at screen 0.3724
set bmargin at screen 0.0918
set tmargin at screen 0.4276
set title "fc3.weight"
unset key
plot "weight_stats-effective_lr.csv" using (column("variant") == 0 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.05", \
  "weight_stats-effective_lr.csv" using (column("variant") == 1 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.2", \
  "weight_stats-effective_lr.csv" using (column("variant") == 2 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.8", \
  0.0316227766 with lines lw series_lw dt reference_dt lc rgb "#1f77b4" title "sqrt(2 lr wd) = 0.0316, lr=0.05", \
  0.0632455532 with lines lw series_lw dt reference_dt lc rgb "#ff7f0e" title "sqrt(2 lr wd) = 0.0632, lr=0.2", \
  0.126491106 with lines lw series_lw dt reference_dt lc rgb "#2ca02c" title "sqrt(2 lr wd) = 0.126, lr=0.8"
unset multiplot
unset output
