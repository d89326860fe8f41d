# Loss landscape along the gradient over training
# Written by normlab plot from its templates (plots/style.gp, plots/landscape.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot landscape.gp (PNG), or
#   gnuplot -e 'fmt="svg"' landscape.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "landscape"
fig_width = 1700
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

# The landscape plot's own style (Santurkar et al. 2018, Fig. 4: the loss
# and gradient-predictiveness bands along the gradient, and the effective
# beta-smoothness, against step); plots/style.gp holds what every figure
# shares, the bands' fill included.
band_edge_lw = 1     # a band's edges, min and max over the step sizes
series_lw = 2        # the beta-smoothness line
series_pt = 7
series_ps = 0.5

set label 101 "Loss landscape along the gradient over training" at screen 0.5, screen 0.9645 center font title_font
set label 102 "fashion-mnist, 10000 training samples | CNN 16-32-64 relu | SGD lr 0.02, momentum 0.9, batch 64, 2 epochs | 2 seeds" at screen 0.5, screen 0.9258 center font subtitle_font tc rgb subtitle_color
set label 103 "bands: min to max over the step sizes eta = lr*0.5, lr*1, lr*2, lr*4 (the step's learning rate times each), on the step's batch before its update. edges and lines: means over 2 seeds (landscape.csv)" at screen 0.01, screen 0.0161 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set xtics ("0" 0, "50" 50, "100" 100, "150" 150, "200" 200, "250" 250, "300" 300)
set xrange [0:300]
set lmargin at screen 0.0600
set rmargin at screen 0.2608
set bmargin at screen 0.1452
set tmargin at screen 0.8290
set title "loss along the gradient"
set ylabel "L_B(w - eta g), min to max over eta"
set logscale y 10
set yrange [0.125557:27.1816]
set ytics ("0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20)
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "landscape.csv" using (column("variant") == 0 ? column("step") : NaN):(column("loss_min")):(column("loss_max")) with filledcurves fc rgb "#1f77b4" title "none, distribution=none", \
  "" using (column("variant") == 0 ? column("step") : NaN):(column("loss_min")) with lines lw band_edge_lw lc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 ? column("step") : NaN):(column("loss_max")) with lines lw band_edge_lw lc rgb "#1f77b4" notitle, \
  "landscape.csv" using (column("variant") == 1 ? column("step") : NaN):(column("loss_min")):(column("loss_max")) with filledcurves fc rgb "#ff7f0e" title "batch, distribution=none", \
  "" using (column("variant") == 1 ? column("step") : NaN):(column("loss_min")) with lines lw band_edge_lw lc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 ? column("step") : NaN):(column("loss_max")) with lines lw band_edge_lw lc rgb "#ff7f0e" notitle, \
  "landscape.csv" using (column("variant") == 2 ? column("step") : NaN):(column("loss_min")):(column("loss_max")) with filledcurves fc rgb "#2ca02c" title "batch, distribution=gaussian", \
  "" using (column("variant") == 2 ? column("step") : NaN):(column("loss_min")) with lines lw band_edge_lw lc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 2 ? column("step") : NaN):(column("loss_max")) with lines lw band_edge_lw lc rgb "#2ca02c" notitle
unset label 101
unset label 102
set lmargin at screen 0.3314
set rmargin at screen 0.5322
set bmargin at screen 0.1452
set tmargin at screen 0.8290
set title "gradient predictiveness"
set ylabel "||grad L_B(w - eta g) - g||, min to max over eta"
set logscale y 10
set yrange [0.046765:74.5172]
set ytics autofreq
set format y "%g"
unset key
plot "landscape.csv" using (column("variant") == 0 ? column("step") : NaN):(column("grad_pred_min")):(column("grad_pred_max")) with filledcurves fc rgb "#1f77b4" title "none, distribution=none", \
  "" using (column("variant") == 0 ? column("step") : NaN):(column("grad_pred_min")) with lines lw band_edge_lw lc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 ? column("step") : NaN):(column("grad_pred_max")) with lines lw band_edge_lw lc rgb "#1f77b4" notitle, \
  "landscape.csv" using (column("variant") == 1 ? column("step") : NaN):(column("grad_pred_min")):(column("grad_pred_max")) with filledcurves fc rgb "#ff7f0e" title "batch, distribution=none", \
  "" using (column("variant") == 1 ? column("step") : NaN):(column("grad_pred_min")) with lines lw band_edge_lw lc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 ? column("step") : NaN):(column("grad_pred_max")) with lines lw band_edge_lw lc rgb "#ff7f0e" notitle, \
  "landscape.csv" using (column("variant") == 2 ? column("step") : NaN):(column("grad_pred_min")):(column("grad_pred_max")) with filledcurves fc rgb "#2ca02c" title "batch, distribution=gaussian", \
  "" using (column("variant") == 2 ? column("step") : NaN):(column("grad_pred_min")) with lines lw band_edge_lw lc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 2 ? column("step") : NaN):(column("grad_pred_max")) with lines lw band_edge_lw lc rgb "#2ca02c" notitle
set lmargin at screen 0.6027
set rmargin at screen 0.8035
set bmargin at screen 0.1452
set tmargin at screen 0.8290
set title "effective beta-smoothness"
set ylabel "max over eta of ||grad L_B(w - eta g) - g|| / (eta ||g||)"
set logscale y 10
set yrange [4.76604:166.781]
set ytics ("5" 5, "10" 10, "20" 20, "50" 50, "100" 100)
unset key
plot "landscape.csv" using (column("variant") == 0 ? column("step") : NaN):(column("beta_smoothness")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "none, distribution=none", \
  "landscape.csv" using (column("variant") == 1 ? column("step") : NaN):(column("beta_smoothness")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "batch, distribution=none", \
  "landscape.csv" using (column("variant") == 2 ? column("step") : NaN):(column("beta_smoothness")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "batch, distribution=gaussian"
unset multiplot
unset output
