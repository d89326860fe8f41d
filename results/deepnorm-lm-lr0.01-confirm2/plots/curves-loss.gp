# Training loss and test loss against step
# Written by normlab plot from its templates (plots/style.gp, plots/curves.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot curves-loss.gp (PNG), or
#   gnuplot -e 'fmt="svg"' curves-loss.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "curves-loss"
fig_width = 1337
fig_height = 495

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

# The curves plot's own style (training loss and a test metric against
# step); plots/style.gp holds what every figure shares.
curve_lw = 2                 # a variant's mean line (its band: style.gp's fill style)
point_type = 7               # a variant with a single point is drawn as points
point_size = 0.9
run_train_color = "#1f77b4"  # a single run: its training loss
run_test_color = "#d62728"   #   and its test metric
run_point_size = 0.6

set label 101 "Training loss and test loss against step" at screen 0.5, screen 0.9556 center font title_font
set label 102 "text | LM d_model 64, layers 12, heads 4, context 32, layer norm, placement post\nAdamW lr 0.01, wd 0.01, batch 16, 300 steps | 63 seeds" at screen 0.5, screen 0.8909 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over 63 seeds; bands: min to max" at screen 0.01, screen 0.0202 left font footnote_font tc rgb footnote_color
set xlabel "step (optimizer updates)"
set multiplot
set xtics ("0" 0, "50" 50, "100" 100, "150" 150, "200" 200, "250" 250, "300" 300)
set xrange [0:300]
set lmargin at screen 0.0681
set rmargin at screen 0.3893
set bmargin at screen 0.1616
set tmargin at screen 0.7535
set title "training loss"
set ylabel "training loss (cross-entropy, nats)"
unset logscale y
set yrange [2.07346:3.77565]
unset key
plot "curves-loss.csv" using (column("variant") == 0 && column("panel") == 0 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 && column("panel") == 0 ? column("step") : NaN):(column("mean")) with lines lw curve_lw lc rgb "#1f77b4" title "residual_scale=none", \
  "curves-loss.csv" using (column("variant") == 1 && column("panel") == 0 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 && column("panel") == 0 ? column("step") : NaN):(column("mean")) with lines lw curve_lw lc rgb "#ff7f0e" title "residual_scale=deepnorm"
unset label 101
unset label 102
set lmargin at screen 0.4566
set rmargin at screen 0.7779
set bmargin at screen 0.1616
set tmargin at screen 0.7535
set title "test loss"
set ylabel "test loss (cross-entropy, nats)"
unset logscale y
set yrange [2.07725:4.38278]
unset key
plot "curves-loss.csv" using (column("variant") == 0 && column("panel") == 1 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 && column("panel") == 1 ? column("step") : NaN):(column("mean")) with lines lw curve_lw lc rgb "#1f77b4" title "residual_scale=none", \
  "curves-loss.csv" using (column("variant") == 1 && column("panel") == 1 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 && column("panel") == 1 ? column("step") : NaN):(column("mean")) with lines lw curve_lw lc rgb "#ff7f0e" title "residual_scale=deepnorm"
unset title
unset xlabel
unset ylabel
unset border
unset tics
unset grid
unset logscale
set xrange [0:1]
set yrange [0:1]
set key at screen 0.7853, screen 0.7535 top left Left reverse nobox noopaque spacing 1.2
set lmargin at screen 0.7853
set rmargin at screen 0.9900
set bmargin at screen 0.1616
set tmargin at screen 0.7535
plot NaN with lines lw curve_lw lc rgb "#1f77b4" title "residual_scale=none", NaN with lines lw curve_lw lc rgb "#ff7f0e" title "residual_scale=deepnorm"
unset multiplot
unset output
