# Final test error against learning rate
# Written by normlab plot from its templates (plots/style.gp, plots/lr.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot lr.gp (PNG), or
#   gnuplot -e 'fmt="svg"' lr.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "lr"
fig_width = 1150
fig_height = 732

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

# The lr plot's own style (a final metric against learning rate, and the
# ranges each series tolerates); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 1.1
diverged_pt = 2              # a cross at the top where a run diverged
diverged_ps = 2.2
diverged_lw = 2.5
diverged_key_color = "#444444"
threshold_color = "#777777"  # the dashed tolerance threshold
range_opacity = 0.75         # the bars of the tolerated ranges

set label 101 "Final test error against learning rate" at screen 0.5, screen 0.9699 center font title_font
set label 102 "fashion-mnist, 4000 training samples | RESNET 8-16 relu, no norm | SGD, momentum 0.9, batch 64, 40 steps | 8 seeds" at screen 0.5, screen 0.9372 center font subtitle_font tc rgb subtitle_color
set multiplot
set lmargin at screen 0.1174
set rmargin at screen 0.7600
set bmargin at screen 0.3101
set tmargin at screen 0.8907
set logscale x 10
set xtics ("0.1" 0.1, "1" 1)
set xrange [0.0625:1.6]
set xlabel "learning rate (log scale)"
set ylabel "final test error (%)"
set yrange [0:107.144]
set key at screen 0.7722, screen 0.8907 top left Left reverse nobox noopaque spacing 1.2
set label 103 "points: mean over 8 seeds; bars: min to max. diverged runs: crosses at the top, left out of the means" at screen 0.01, screen 0.0137 left font footnote_font tc rgb footnote_color
set label 2 "diverged" at graph 0.01, first 102.323 left offset 0,1.1 font ",9" tc rgb "#555555"
set arrow 2 from graph 0, first 97.2332 to graph 1, first 97.2332 nohead lw 0.5 lc rgb "#bbbbbb"
plot NaN with linespoints lw series_lw pt series_pt lc rgb "#1f77b4" title "skip_init=false", \
  "lr.csv" using (column("series") == 0 && column("diverged") > 0 ? column("lr")*10**(-0.0100) : NaN):(102.323) with points pt diverged_pt ps diverged_ps lw diverged_lw lc rgb "#1f77b4" notitle, \
  "lr.csv" using (column("series") == 1 && column("n") > 0 ? column("lr")*10**(0.0100) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "skip_init=true", \
  "lr.csv" using (column("series") == 1 && column("diverged") > 0 ? column("lr")*10**(0.0100) : NaN):(102.323) with points pt diverged_pt ps diverged_ps lw diverged_lw lc rgb "#ff7f0e" notitle, \
  NaN with points pt diverged_pt ps diverged_ps lw diverged_lw lc rgb diverged_key_color title "diverged (any seed)"
unset label 101
unset label 102
unset arrow
unset label
unset key
unset title
set lmargin at screen 0.1174
set rmargin at screen 0.7600
set bmargin at screen 0.0751
set tmargin at screen 0.2077
set xlabel ""
set format x ""
set ylabel ""
set yrange [1.6:-0.6]
set ytics ("skip_init=false" 0, "skip_init=true" 1) font ",9"
set grid xtics noytics
set label 3 "widest tolerated range: no run diverged and mean test error <= nan% (given)" at graph 0, graph 1 left offset 0,0.7 font ",9" tc rgb "#555555"
set label 4 "no learning rate meets the threshold" at graph 0.5, graph 0.5 center
plot NaN notitle
unset multiplot
unset output
