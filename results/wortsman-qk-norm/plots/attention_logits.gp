# Largest attention logit over training (maximum over layers)
# Written by normlab plot from its templates (plots/style.gp, plots/attention_logits.gp) and
# the results; reads the CSV files it names by column name.
# Render from this directory: gnuplot attention_logits.gp (PNG), or
#   gnuplot -e 'fmt="svg"' attention_logits.gp (SVG; "pdf" for PDF)
if (!exists("fig_name")) fig_name = "attention_logits"
fig_width = 1600
fig_height = 660

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

# The attention_logits plot's own style (the largest attention logit against
# step); plots/style.gp holds what every figure shares.
series_lw = 2
series_pt = 7
series_ps = 0.5

set label 101 "Largest attention logit over training (maximum over layers)" at screen 0.5, screen 0.9667 center font title_font
set label 102 "text | LM d_model 64, layers 4, heads 4, context 32, layer norm, placement pre\nAdamW, wd 0.01, cosine schedule, batch 16, 300 steps | 3 seeds" at screen 0.5, screen 0.9182 center font subtitle_font tc rgb subtitle_color
set label 103 "lines: mean over 3 seeds (min and max in attention_logits.csv)" at screen 0.01, screen 0.0152 left font footnote_font tc rgb footnote_color
set multiplot
set xlabel "step (optimizer updates)"
set ylabel "largest pre-softmax logit"
set xtics ("0" 0, "50" 50, "100" 100, "150" 150, "200" 200, "250" 250)
set xrange [0:275]
set logscale y 10
set yrange [0.0999173:1.33004e+06]
set format y "%g"
set lmargin at screen 0.0700
set rmargin at screen 0.3781
set bmargin at screen 0.1364
set tmargin at screen 0.8152
set title "model.qk_norm = false"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
plot "attention_logits.csv" using (column("panel") == 0 && column("variant") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.001", \
  "attention_logits.csv" using (column("panel") == 0 && column("variant") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.003", \
  "attention_logits.csv" using (column("panel") == 0 && column("variant") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.01", \
  "attention_logits.csv" using (column("panel") == 0 && column("variant") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.03", \
  "attention_logits.csv" using (column("panel") == 0 && column("variant") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=0.1", \
  "attention_logits.csv" using (column("panel") == 0 && column("variant") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=0.3"
unset label 101
unset label 102
set lmargin at screen 0.4656
set rmargin at screen 0.7737
set bmargin at screen 0.1364
set tmargin at screen 0.8152
set title "model.qk_norm = true"
unset key
plot "attention_logits.csv" using (column("panel") == 1 && column("variant") == 0 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#1f77b4" title "lr=0.001", \
  "attention_logits.csv" using (column("panel") == 1 && column("variant") == 1 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#ff7f0e" title "lr=0.003", \
  "attention_logits.csv" using (column("panel") == 1 && column("variant") == 2 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#2ca02c" title "lr=0.01", \
  "attention_logits.csv" using (column("panel") == 1 && column("variant") == 3 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#d62728" title "lr=0.03", \
  "attention_logits.csv" using (column("panel") == 1 && column("variant") == 4 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#9467bd" title "lr=0.1", \
  "attention_logits.csv" using (column("panel") == 1 && column("variant") == 5 ? column("step") : NaN):(column("mean")) with linespoints lw series_lw pt series_pt ps series_ps lc rgb "#8c564b" title "lr=0.3"
unset multiplot
unset output
