# Final training loss against lr
# Written by normlab plot from its templates (plots/style.gp, plots/final.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot final-train_loss-lr.gp (PNG), or
#   gnuplot -e 'fmt="svg"' final-train_loss-lr.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "final-train_loss-lr"
fig_width = 650
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

set label 101 "Final training loss against lr" at screen 0.5, screen 0.9614 center font title_font
set label 102 "fashion-mnist, 10000 training samples | MLP 256-256-256-256-256-256 relu, no norm\nSGD, momentum 0.9, batch 64, 3 epochs | 7 seeds" at screen 0.5, screen 0.9053 center font subtitle_font tc rgb subtitle_color
set label 103 "points: mean over 7 seeds; bars: min to max" at screen 0.01, screen 0.0175 left font footnote_font tc rgb footnote_color
set multiplot
unset key
set ylabel "final training loss (cross-entropy, nats)"
set yrange [0:2.646075799]
set logscale x 10
set xtics ("0.01" 0.01, "0.03" 0.03, "0.1" 0.1, "0.3" 0.3, "1" 1, "3" 3)
set xrange [0.00625:4.8]
set xlabel "train.optimizer.lr (log10 scale)"
set lmargin at screen 0.1385
set rmargin at screen 0.9538
set bmargin at screen 0.1579
set tmargin at screen 0.7860
set title ""
plot "final-train_loss-lr.csv" using (column("panel") == 0 && column("series") == 0 ? column("x")*10**(0.0000) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "all runs"
unset label 101
unset label 102
unset multiplot
unset output
