# Signal propagation at initialization: the residual stream after each block
# Written by normlab plot from its templates (plots/style.gp, plots/signal_propagation.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot signal_propagation.gp (PNG), or
#   gnuplot -e 'fmt="svg"' signal_propagation.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "signal_propagation"
fig_width = 1500
fig_height = 760

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

# The signal_propagation plot's own style (the average channel mean^2 and
# variance at initialization against depth); plots/style.gp holds what
# every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.7

set label 101 "Signal propagation at initialization: the residual stream after each block" at screen 0.5, screen 0.9711 center font title_font
set label 102 "fashion-mnist, 4000 training samples | RESNET 8-16 relu pre act | SGD, momentum 0.9, batch 64, 40 steps | 1 seed" at screen 0.5, screen 0.9395 center font subtitle_font tc rgb subtitle_color
set multiplot
set xlabel "residual block (input to output; names in the data file)"
set xrange [-0.5:15.5]
set lmargin at screen 0.0700
set rmargin at screen 0.3683
set bmargin at screen 0.1447
set tmargin at screen 0.8605
set ylabel "average channel mean^2"
set logscale y 10
set yrange [0.000400522:18088.9]
set format y "%g"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "signal_propagation.csv" using (strcol("stat") eq "mean_sq" && column("variant") == 0 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "batch, skip_init=false", \
  "signal_propagation.csv" using (strcol("stat") eq "mean_sq" && column("variant") == 1 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "group, skip_init=false", \
  "signal_propagation.csv" using (strcol("stat") eq "mean_sq" && column("variant") == 2 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "none, skip_init=false", \
  "signal_propagation.csv" using (strcol("stat") eq "mean_sq" && column("variant") == 3 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "none, skip_init=true"
unset label 101
unset label 102
set lmargin at screen 0.4617
set rmargin at screen 0.7600
set bmargin at screen 0.1447
set tmargin at screen 0.8605
set ylabel "average channel variance"
set logscale y 10
set yrange [1.00189:16012.4]
set format y "%g"
unset key
plot "signal_propagation.csv" using (strcol("stat") eq "var" && column("variant") == 0 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "batch, skip_init=false", \
  "signal_propagation.csv" using (strcol("stat") eq "var" && column("variant") == 1 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "group, skip_init=false", \
  "signal_propagation.csv" using (strcol("stat") eq "var" && column("variant") == 2 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "none, skip_init=false", \
  "signal_propagation.csv" using (strcol("stat") eq "var" && column("variant") == 3 ? column("depth") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "none, skip_init=true"
unset multiplot
unset output
