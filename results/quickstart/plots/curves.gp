# Training loss and test error against epoch
# Written by normlab plot. Reads the CSV files it names by column name.
# Render from this directory: gnuplot curves.gp (PNG), or
#   gnuplot -e 'fmt="svg"' curves.gp (SVG)
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1300,1530 dynamic font "Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1300,1530 font "Sans,11" background rgb "white"
}
set output "curves.".fmt
set termoption noenhanced
set datafile separator comma
set border lc rgb "#444444"
set grid lc rgb "#e0e0e0" lt 1
set key opaque box lc rgb "#cccccc" samplen 2.5 spacing 1.1
set style fill transparent solid 0.18 noborder
set label 101 "Training loss and test error against epoch" at screen 0.5, screen 0.9856 center font ",15"
set label 102 "fashion-mnist, 10000 training samples | MLP 256-256 relu | SGD, momentum 0.9, 2 epochs | 2 seeds" at screen 0.5, screen 0.9699 center font ",10" tc rgb "#505050"
set label 103 "lines: mean over 2 seeds; bands: min to max. x in epochs: the batch size varies, so steps per epoch differ" at screen 0.01, screen 0.0065 left font ",9" tc rgb "#606060"
set xlabel "epoch (passes over the training set)"
set multiplot
set lmargin at screen 0.0700
set rmargin at screen 0.4004
set bmargin at screen 0.7626
set tmargin at screen 0.9307
set title "none: training loss"
set ylabel "training loss (cross-entropy, nats)"
unset logscale y
set yrange [0:2.81219]
unset key
plot "curves.csv" using (column("variant") == 0 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 1 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 2 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 2 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 3 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 3 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
unset label 101
unset label 102
set lmargin at screen 0.4696
set rmargin at screen 0.8000
set bmargin at screen 0.7626
set tmargin at screen 0.9307
set title "none: test error"
set ylabel "test error (%)"
unset logscale y
set yrange [0:98.6475]
unset key
plot "curves.csv" using (column("variant") == 0 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 0 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 1 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 1 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 2 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 2 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 3 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 3 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
set lmargin at screen 0.0700
set rmargin at screen 0.4004
set bmargin at screen 0.5258
set tmargin at screen 0.6940
set title "batch: training loss"
set ylabel "training loss (cross-entropy, nats)"
unset logscale y
set yrange [0:2.81219]
unset key
plot "curves.csv" using (column("variant") == 4 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 4 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 5 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 5 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 6 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 6 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 7 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 7 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
set lmargin at screen 0.4696
set rmargin at screen 0.8000
set bmargin at screen 0.5258
set tmargin at screen 0.6940
set title "batch: test error"
set ylabel "test error (%)"
unset logscale y
set yrange [0:98.6475]
unset key
plot "curves.csv" using (column("variant") == 4 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 4 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 5 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 5 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 6 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 6 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 7 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 7 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
set lmargin at screen 0.0700
set rmargin at screen 0.4004
set bmargin at screen 0.2891
set tmargin at screen 0.4572
set title "layer: training loss"
set ylabel "training loss (cross-entropy, nats)"
unset logscale y
set yrange [0:2.81219]
unset key
plot "curves.csv" using (column("variant") == 8 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 8 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 9 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 9 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 10 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 10 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 11 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 11 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
set lmargin at screen 0.4696
set rmargin at screen 0.8000
set bmargin at screen 0.2891
set tmargin at screen 0.4572
set title "layer: test error"
set ylabel "test error (%)"
unset logscale y
set yrange [0:98.6475]
unset key
plot "curves.csv" using (column("variant") == 8 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 8 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 9 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 9 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 10 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 10 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 11 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 11 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
set lmargin at screen 0.0700
set rmargin at screen 0.4004
set bmargin at screen 0.0523
set tmargin at screen 0.2204
set title "group: training loss"
set ylabel "training loss (cross-entropy, nats)"
unset logscale y
set yrange [0:2.81219]
unset key
plot "curves.csv" using (column("variant") == 12 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 12 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 13 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 13 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 14 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 14 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 15 && column("panel") == 0 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 15 && column("panel") == 0 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
set lmargin at screen 0.4696
set rmargin at screen 0.8000
set bmargin at screen 0.0523
set tmargin at screen 0.2204
set title "group: test error"
set ylabel "test error (%)"
unset logscale y
set yrange [0:98.6475]
unset key
plot "curves.csv" using (column("variant") == 12 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#1f77b4" notitle, \
  "" using (column("variant") == 12 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", \
  "curves.csv" using (column("variant") == 13 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#ff7f0e" notitle, \
  "" using (column("variant") == 13 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", \
  "curves.csv" using (column("variant") == 14 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#2ca02c" notitle, \
  "" using (column("variant") == 14 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", \
  "curves.csv" using (column("variant") == 15 && column("panel") == 1 ? column("epoch") : NaN):(column("min")):(column("max")) with filledcurves fc rgb "#d62728" notitle, \
  "" using (column("variant") == 15 && column("panel") == 1 ? column("epoch") : NaN):(column("mean")) with lines lw 2 lc rgb "#d62728" title "batch_size=32"
unset title
unset xlabel
unset ylabel
unset border
unset tics
unset grid
unset logscale
set xrange [0:1]
set yrange [0:1]
set key at screen 0.8077, screen 0.9307 top left Left reverse nobox noopaque spacing 1.2
set lmargin at screen 0.8077
set rmargin at screen 0.9900
set bmargin at screen 0.0523
set tmargin at screen 0.9307
plot NaN with lines lw 2 lc rgb "#1f77b4" title "batch_size=2", NaN with lines lw 2 lc rgb "#ff7f0e" title "batch_size=4", NaN with lines lw 2 lc rgb "#2ca02c" title "batch_size=8", NaN with lines lw 2 lc rgb "#d62728" title "batch_size=32"
unset multiplot
unset output
