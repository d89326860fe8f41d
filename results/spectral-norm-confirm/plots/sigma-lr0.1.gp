# Spectral normalization: sigma estimate and exact value per layer
# Written by normlab plot from its templates (plots/style.gp, plots/weight_stats.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot sigma-lr0.1.gp (PNG), or
#   gnuplot -e 'fmt="svg"' sigma-lr0.1.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "sigma-lr0.1"
fig_width = 1120
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

# The weight_stats plot's own style (a weight tensor's update ratio, norm or
# effective learning rate against step, per layer); plots/style.gp holds
# what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5
reference_dt = 2              # effective_lr's sqrt(2 lr wd) line per variant
reference_color = "#808080"   # ... its colour when the lines are layers

set label 101 "Spectral normalization: sigma estimate and exact value per layer" at screen 0.5, screen 0.9645 center font title_font
set label 102 "fashion-mnist, 10000 training samples | MLP 256-256-256-256-256-256 relu, no norm\nSGD lr 0.1, momentum 0.9, batch 64, 3 epochs | 1 seeds, runs with lr=0.1, seed=501" at screen 0.5, screen 0.9129 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over 1 seeds (min and max in sigma-lr0.1.csv)" at screen 0.01, screen 0.0161 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "sigma of the weight (estimate u^T W v; exact)"
set xtics ("0" 0, "100" 100, "200" 200, "300" 300, "400" 400)
set xrange [0:460]
set yrange [1.38427:4.1105]
set lmargin at screen 0.0700
set rmargin at screen 0.6854
set bmargin at screen 0.1452
set tmargin at screen 0.8032
set title ""
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "fc1.weight", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "fc1.weight exact", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "fc2.weight", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "fc2.weight exact", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "fc3.weight", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "fc3.weight exact", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#e377c2" title "fc4.weight", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 7 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#17becf" title "fc4.weight exact", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 8 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#bcbd22" title "fc5.weight", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 9 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#7f7f7f" title "fc5.weight exact", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 10 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "fc6.weight", \
  "sigma-lr0.1.csv" using (column("variant") == 0 && column("layer") == 11 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "fc6.weight exact"
unset label 101
unset label 102
unset multiplot
unset output
