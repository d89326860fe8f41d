# Training loss and test error against step
# Written by normlab plot. Reads the CSV files it names by column name.
# Render from this directory: gnuplot curves.gp (PNG), or
#   gnuplot -e 'fmt="svg"' curves.gp (SVG)
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1319,495 dynamic font "Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1319,495 font "Sans,11" background rgb "white"
}
set output "curves.".fmt
set termoption noenhanced
set datafile separator comma
set border lc rgb "#444444"
set grid lc rgb "#e0e0e0" lt 1
set key opaque box lc rgb "#cccccc" samplen 2.5 spacing 1.1
set style fill transparent solid 0.18 noborder
set label 101 "Training loss and test error against step" at screen 0.5, screen 0.9556 center font ",15"
set label 102 "fashion-mnist, 10000 training samples | RESNET 16-32 relu | SGD lr 0.05, momentum 0.9, batch 32, 3 epochs | 3 seeds" at screen 0.5, screen 0.9071 center font ",10" tc rgb "#505050"
set label 103 "lines: mean over 3 seeds; bands: min to max" at screen 0.01, screen 0.0202 left font ",9" tc rgb "#606060"
set xlabel "step (optimizer updates)"
set multiplot
set format x "%.0s%c"
set lmargin at screen 0.0690
set rmargin at screen 0.3946
set bmargin at screen 0.1616
set tmargin at screen 0.7859
set title "training loss"
set ylabel "training loss (cross-entropy, nats)"
unset logscale y
set yrange [0:2.39728]
unset key
plot "curves.csv" using (column("variant") == 0 && column("panel") == 0 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 && column("panel") == 0 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "placement=post, batch", \
  "curves.csv" using (column("variant") == 1 && column("panel") == 0 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 && column("panel") == 0 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "placement=post, group", \
  "curves.csv" using (column("variant") == 2 && column("panel") == 0 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 2 && column("panel") == 0 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "placement=pre, batch", \
  "curves.csv" using (column("variant") == 3 && column("panel") == 0 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 3 && column("panel") == 0 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "placement=pre, group"
unset label 101
unset label 102
set lmargin at screen 0.4629
set rmargin at screen 0.7885
set bmargin at screen 0.1616
set tmargin at screen 0.7859
set title "test error"
set ylabel "test error (%)"
unset logscale y
set yrange [0:96.075]
unset key
plot "curves.csv" using (column("variant") == 0 && column("panel") == 1 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 && column("panel") == 1 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "placement=post, batch", \
  "curves.csv" using (column("variant") == 1 && column("panel") == 1 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 && column("panel") == 1 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "placement=post, group", \
  "curves.csv" using (column("variant") == 2 && column("panel") == 1 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 2 && column("panel") == 1 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "placement=pre, batch", \
  "curves.csv" using (column("variant") == 3 && column("panel") == 1 ? column("step") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 3 && column("panel") == 1 ? column("step") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "placement=pre, group"
unset title
unset xlabel
unset ylabel
unset border
unset tics
unset grid
unset logscale
set xrange [0:1]
set yrange [0:1]
set key at screen 0.7961, screen 0.7859 top left Left reverse nobox noopaque spacing 1.2
set lmargin at screen 0.7961
set rmargin at screen 0.9900
set bmargin at screen 0.1616
set tmargin at screen 0.7859
plot NaN with lines lw 2 lc rgb "#1f77b4" title "placement=post, batch", NaN with lines lw 2 lc rgb "#ff7f0e" title "placement=post, group", NaN with lines lw 2 lc rgb "#2ca02c" title "placement=pre, batch", NaN with lines lw 2 lc rgb "#d62728" title "placement=pre, group"
unset multiplot
unset output
