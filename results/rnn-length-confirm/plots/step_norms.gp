# Hidden-state norm against time step (lstm.l0, last evaluation)
# Written by normlab plot from its templates (plots/style.gp, plots/step_norms.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot step_norms.gp (PNG), or
#   gnuplot -e 'fmt="svg"' step_norms.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "step_norms"
fig_width = 1100
fig_height = 720

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

# The step_norms plot's own style (a recurrent layer's hidden-state norm
# against the time step); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.6

set label 101 "Hidden-state norm against time step (lstm.l0, last evaluation)" at screen 0.5, screen 0.9694 center font title_font
set label 102 "text | RNN_LM cell lstm, hidden 128, layers 1, context 32 | AdamW lr 0.003, batch 16, 1000 steps | 5 seeds" at screen 0.5, screen 0.9361 center font subtitle_font tc rgb subtitle_color
set label 103 "points: mean over 5 seeds; bars: min to max" at screen 0.01, screen 0.0139 left font footnote_font tc rgb footnote_color
set lmargin at screen 0.0900
set rmargin at screen 0.7800
set bmargin at screen 0.2083
set tmargin at screen 0.8889
set xrange [-0.5:31.5]
set xlabel "time step t"
set ylabel "||h_t||, mean over the test split"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "step_norms.csv" using (column("variant") == 0 ? column("t") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#7f7f7f" title "none", \
  "step_norms.csv" using (column("variant") == 1 ? column("t") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "batch"
unset output
