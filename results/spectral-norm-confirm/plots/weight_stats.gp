# Update-to-weight ratio per layer over training
# Written by normlab plot from its templates (plots/style.gp, plots/weight_stats.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot weight_stats.gp (PNG), or
#   gnuplot -e 'fmt="svg"' weight_stats.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "weight_stats"
fig_width = 1960
fig_height = 1340

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

set label 101 "Update-to-weight ratio per layer over training" at screen 0.5, screen 0.9836 center font title_font
set label 102 "fashion-mnist, 10000 training samples | MLP 256-256-256-256-256-256 relu, no norm\nSGD, momentum 0.9, batch 64, 3 epochs | 7 seeds" at screen 0.5, screen 0.9597 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over 7 seeds (min and max in weight_stats.csv)" at screen 0.01, screen 0.0075 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "||w_after - w_before|| / ||w_before||"
set xtics ("0" 0, "100" 100, "200" 200, "300" 300, "400" 400)
set xrange [0:460]
set yrange [-0.0226269:0.248896]
set lmargin at screen 0.0700
set rmargin at screen 0.2696
set bmargin at screen 0.6831
set tmargin at screen 0.9090
set title "fc1.weight"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
unset label 101
unset label 102
set lmargin at screen 0.3410
set rmargin at screen 0.5406
set bmargin at screen 0.6831
set tmargin at screen 0.9090
set title "fc2.weight"
unset key
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
set lmargin at screen 0.6120
set rmargin at screen 0.8116
set bmargin at screen 0.6831
set tmargin at screen 0.9090
set title "fc3.weight"
unset key
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
set lmargin at screen 0.0700
set rmargin at screen 0.2696
set bmargin at screen 0.3751
set tmargin at screen 0.6010
set title "fc4.weight"
unset key
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
set lmargin at screen 0.3410
set rmargin at screen 0.5406
set bmargin at screen 0.3751
set tmargin at screen 0.6010
set title "fc5.weight"
unset key
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
set lmargin at screen 0.6120
set rmargin at screen 0.8116
set bmargin at screen 0.3751
set tmargin at screen 0.6010
set title "fc6.weight"
unset key
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
set lmargin at screen 0.0700
set rmargin at screen 0.2696
set bmargin at screen 0.0672
set tmargin at screen 0.2930
set title "classifier.weight"
unset key
plot "weight_stats.csv" using (column("variant") == 0 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.01", \
  "weight_stats.csv" using (column("variant") == 1 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.03", \
  "weight_stats.csv" using (column("variant") == 2 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.1", \
  "weight_stats.csv" using (column("variant") == 3 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.3", \
  "weight_stats.csv" using (column("variant") == 4 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=1", \
  "weight_stats.csv" using (column("variant") == 5 && column("layer") == 6 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=3"
unset multiplot
unset output
