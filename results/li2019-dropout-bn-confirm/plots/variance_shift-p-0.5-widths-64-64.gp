# Variance shift per batch norm over training
# Written by normlab plot from its templates (plots/style.gp, plots/variance_shift.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot variance_shift-p-0.5-widths-64-64.gp (PNG), or
#   gnuplot -e 'fmt="svg"' variance_shift-p-0.5-widths-64-64.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "variance_shift-p-0.5-widths-64-64"
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

# The variance_shift plot's own style (each batch norm's running variance
# over its input's test-time variance against step, per layer);
# plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5
reference_dt = 2              # the no-shift line at 1
reference_color = "#808080"

set label 101 "Variance shift per batch norm over training" at screen 0.5, screen 0.9645 center font title_font
set label 102 "fashion-mnist, 10000 training samples | MLP 64-64 relu, batch norm before act\nSGD lr 0.05, momentum 0.9, batch 64, 5 epochs | 5 seeds, runs with p=0.5, widths=[64, 64]" at screen 0.5, screen 0.9129 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over 5 seeds (min and max in variance_shift-p-0.5-widths-64-64.csv)" at screen 0.01, screen 0.0161 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "running variance / test-time input variance"
set xtics ("0" 0, "200" 200, "400" 400, "600" 600)
set xrange [0:780]
set yrange [0.623067:3.04447]
set lmargin at screen 0.0700
set rmargin at screen 0.3724
set bmargin at screen 0.1452
set tmargin at screen 0.8032
set title "norm1"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "variance_shift-p-0.5-widths-64-64.csv" using (column("variant") == 0 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "placement=before_norm", \
  "variance_shift-p-0.5-widths-64-64.csv" using (column("variant") == 1 && column("layer") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "placement=after_norm", \
  1 with lines lw series_lw dt reference_dt lc rgb reference_color title "1 (no shift)"
unset label 101
unset label 102
set lmargin at screen 0.4633
set rmargin at screen 0.7657
set bmargin at screen 0.1452
set tmargin at screen 0.8032
set title "norm2"
unset key
plot "variance_shift-p-0.5-widths-64-64.csv" using (column("variant") == 0 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "placement=before_norm", \
  "variance_shift-p-0.5-widths-64-64.csv" using (column("variant") == 1 && column("layer") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "placement=after_norm", \
  1 with lines lw series_lw dt reference_dt lc rgb reference_color title "1 (no shift)"
unset multiplot
unset output
