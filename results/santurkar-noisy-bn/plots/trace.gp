# Activation percentiles over training: act2.in, unit 0 (mean over seeds)
# Written by normlab plot from its templates (plots/style.gp, plots/trace.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot trace.gp (PNG), or
#   gnuplot -e 'fmt="svg"' trace.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "trace"
fig_width = 1580
fig_height = 1720

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

# The trace plot's own style (activation percentiles over training);
# plots/style.gp holds what every figure shares.
median_color = "#08306b"     # the middle percentile
median_lw = 2.5
median_dt = 1
# the other percentiles, from the outermost pair inwards
percentile_colors = "#4292c6 #6baed6 #2171b5 #9ecae1 #08519c #c6dbef"
percentile_lw = 1.8
percentile_dt = 2

set label 101 "Activation percentiles over training: act2.in, unit 0 (mean over seeds)" at screen 0.5, screen 0.9872 center font title_font
set label 102 "fashion-mnist, 10000 training samples | CNN 16-32 relu | SGD, momentum 0.9, batch 64, 5 epochs | 2 seeds" at screen 0.5, screen 0.9733 center font subtitle_font tc rgb subtitle_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "value of act2.in (on each traced step's training batch)"
set xtics ("0" 0, "200" 200, "400" 400, "600" 600)
set yrange [-20.6557:5.61609]
set xrange [0:770]
set label 103 "showing the first 12 of 14 variants" at screen 0.01, screen 0.0058 left font footnote_font tc rgb footnote_color
set lmargin at screen 0.0800
set rmargin at screen 0.3420
set bmargin at screen 0.7670
set tmargin at screen 0.9384
unset key
set title "convs_per_stage=1, lr=0.05, none, distribution=none"
plot "trace.csv" using (column("variant") == 0 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 0 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 0 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
unset label 101
unset label 102
set lmargin at screen 0.3990
set rmargin at screen 0.6610
set bmargin at screen 0.7670
set tmargin at screen 0.9384
unset key
set title "convs_per_stage=1, lr=0.05, batch, distribution=none"
plot "trace.csv" using (column("variant") == 1 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 1 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 1 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.7180
set rmargin at screen 0.9800
set bmargin at screen 0.7670
set tmargin at screen 0.9384
unset key
set title "convs_per_stage=1, lr=0.05, batch, distribution=gaussian, scale_std=0.5, shift_std=0.5"
plot "trace.csv" using (column("variant") == 2 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 2 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 2 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.0800
set rmargin at screen 0.3420
set bmargin at screen 0.5317
set tmargin at screen 0.7031
unset key
set title "convs_per_stage=1, lr=0.05, batch, distribution=gaussian, scale_std=0.1, shift_std=0.1"
plot "trace.csv" using (column("variant") == 3 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 3 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 3 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.3990
set rmargin at screen 0.6610
set bmargin at screen 0.5317
set tmargin at screen 0.7031
unset key
set title "convs_per_stage=1, lr=0.01, none, distribution=none"
plot "trace.csv" using (column("variant") == 4 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 4 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 4 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.7180
set rmargin at screen 0.9800
set bmargin at screen 0.5317
set tmargin at screen 0.7031
unset key
set title "convs_per_stage=1, lr=0.01, batch, distribution=none"
plot "trace.csv" using (column("variant") == 5 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 5 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 5 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.0800
set rmargin at screen 0.3420
set bmargin at screen 0.2964
set tmargin at screen 0.4677
unset key
set title "convs_per_stage=1, lr=0.01, batch, distribution=gaussian, scale_std=0.5, shift_std=0.5"
plot "trace.csv" using (column("variant") == 6 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 6 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 6 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.3990
set rmargin at screen 0.6610
set bmargin at screen 0.2964
set tmargin at screen 0.4677
unset key
set title "convs_per_stage=1, lr=0.01, batch, distribution=gaussian, scale_std=0.1, shift_std=0.1"
plot "trace.csv" using (column("variant") == 7 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 7 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 7 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.7180
set rmargin at screen 0.9800
set bmargin at screen 0.2964
set tmargin at screen 0.4677
unset key
set title "convs_per_stage=2, lr=0.05, none, distribution=none"
plot "trace.csv" using (column("variant") == 8 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 8 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 8 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.0800
set rmargin at screen 0.3420
set bmargin at screen 0.0610
set tmargin at screen 0.2324
unset key
set title "convs_per_stage=2, lr=0.05, batch, distribution=none"
plot "trace.csv" using (column("variant") == 9 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 9 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 9 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.3990
set rmargin at screen 0.6610
set bmargin at screen 0.0610
set tmargin at screen 0.2324
unset key
set title "convs_per_stage=2, lr=0.05, batch, distribution=gaussian, scale_std=0.1, shift_std=0.1"
plot "trace.csv" using (column("variant") == 10 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 10 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 10 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
set lmargin at screen 0.7180
set rmargin at screen 0.9800
set bmargin at screen 0.0610
set tmargin at screen 0.2324
unset key
set title "convs_per_stage=2, lr=0.01, none, distribution=none"
plot "trace.csv" using (column("variant") == 11 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", \
  "trace.csv" using (column("variant") == 11 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", \
  "trace.csv" using (column("variant") == 11 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
unset title
unset xlabel
unset ylabel
unset border
unset tics
unset grid
set xrange [0:1]
set yrange [0:1]
unset logscale
set key center center horizontal maxrows 1 nobox noopaque
set lmargin at screen 0.0800
set rmargin at screen 0.9800
set bmargin at screen 0.0000
set tmargin at screen 0.0262
plot NaN with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "15th percentile", NaN with linespoints pt 7 ps 0.3 lw median_lw dt median_dt lc rgb median_color title "50th percentile", NaN with linespoints pt 7 ps 0.3 lw percentile_lw dt percentile_dt lc rgb word(percentile_colors, 1) title "85th percentile"
unset multiplot
unset output
