# Gradient norm per layer at initialization (step 0)
# Written by normlab plot from its templates (plots/style.gp, plots/grad_norms.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot grad_norms.gp (PNG), or
#   gnuplot -e 'fmt="svg"' grad_norms.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "grad_norms"
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

# The grad_norms plot's own style (each layer's gradient norm at step 0,
# input to output); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 1.0

set label 101 "Gradient norm per layer at initialization (step 0)" at screen 0.5, screen 0.9694 center font title_font
set label 102 "text | LM d_model 64, layers 6, heads 4, context 32, layer norm, placement post\nAdamW lr 0.01, wd 0.01, batch 16, 300 steps | 55 seeds" at screen 0.5, screen 0.9250 center font subtitle_font tc rgb subtitle_color
set label 103 "points: mean over 55 seeds; bars: min to max" at screen 0.01, screen 0.0139 left font footnote_font tc rgb footnote_color
set lmargin at screen 0.0900
set rmargin at screen 0.7800
set bmargin at screen 0.2083
set tmargin at screen 0.8667
set xtics rotate by -40 left ("tok_emb" 0, "pos_emb" 1, "blocks.0" 2, "blocks.1" 3, "blocks.2" 4, "blocks.3" 5, "blocks.4" 6, "blocks.5" 7, "head" 8)
set xrange [-0.5:8.5]
set logscale y 10
set yrange [0.0531347:2.06487]
set ytics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2)
set xlabel "layer (input to output)" offset 0,-1
set ylabel "L2 norm of the layer's parameter gradients"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "grad_norms.csv" using (column("variant") == 0 ? column("layer") : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "all runs"
unset output
