# Final test error against batch size
# Written by normlab plot from its templates (plots/style.gp, plots/batch_size.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot batch_size.gp (PNG), or
#   gnuplot -e 'fmt="svg"' batch_size.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "batch_size"
fig_width = 1100
fig_height = 680

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

# The batch_size plot's own style (a final metric against batch size);
# plots/style.gp holds what every figure shares.
series_lw = 2                # a series' line and error bars
series_pt = 7
series_ps = 1.1

set label 101 "Final test error against batch size" at screen 0.5, screen 0.9676 center font title_font
set label 102 "fashion-mnist, 4000 training samples | CNN 32-64 relu, switchable norm before act\nSGD lr 0.04 at batch 64, linear in the batch, momentum 0.9, 2 epochs | 20 seeds" at screen 0.5, screen 0.9206 center font subtitle_font tc rgb subtitle_color
set label 103 "points: mean over 20 seeds; bars: min to max" at screen 0.01, screen 0.0147 left font footnote_font tc rgb footnote_color
set lmargin at screen 0.0800
set rmargin at screen 0.8000
set bmargin at screen 0.1324
set tmargin at screen 0.8588
set logscale x 2
set xtics ("2" 2, "64" 64)
set xrange [1.37931:92.8]
set xlabel "batch size (samples per step, log2 scale)"
set ylabel "final test error (%)"
set yrange [0:*]
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "batch_size.csv" using (column("series") == 0 ? column("batch_size")*2**(0.0000) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "all runs"
unset output
