# Activation percentiles over training: act3.in, unit 0 (mean over seeds)
# Written by normlab plot. Reads the CSV files it names by column name.
# Render from this directory: gnuplot trace.gp (PNG), or
#   gnuplot -e 'fmt="svg"' trace.gp (SVG)
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1120,580 dynamic font "Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1120,580 font "Sans,11" background rgb "white"
}
set output "trace.".fmt
set termoption noenhanced
set datafile separator comma
set border lc rgb "#444444"
set grid lc rgb "#e0e0e0" lt 1
set key opaque box lc rgb "#cccccc" samplen 2.5 spacing 1.1
set style fill transparent solid 0.18 noborder
set label 101 "Activation percentiles over training: act3.in, unit 0 (mean over seeds)" at screen 0.5, screen 0.9621 center font ",15"
set label 102 "fashion-mnist | MLP 100-100-100 sigmoid | SGD lr 0.5, momentum 0, batch 60, 50000 steps | 3 seeds" at screen 0.5, screen 0.9207 center font ",10" tc rgb "#505050"
set multiplot
set xlabel "step (optimizer updates)"
set format x "%.0s%c"
set ylabel "value of act3.in (over 1000 test samples)"
set yrange [-5.93301:2.27454]
set xrange [0:50000]
set lmargin at screen 0.0800
set rmargin at screen 0.4898
set bmargin at screen 0.1810
set tmargin at screen 0.8172
unset key
set title "none"
plot "trace.csv" using (column("variant") == 0 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw 1.8 dt 2 lc rgb "#4292c6" title "15th percentile", \
  "trace.csv" using (column("variant") == 0 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw 2.5 dt 1 lc rgb "#08306b" title "50th percentile", \
  "trace.csv" using (column("variant") == 0 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw 1.8 dt 2 lc rgb "#4292c6" title "85th percentile"
unset label 101
unset label 102
set lmargin at screen 0.5702
set rmargin at screen 0.9800
set bmargin at screen 0.1810
set tmargin at screen 0.8172
unset key
set title "batch"
plot "trace.csv" using (column("variant") == 1 ? column("step") : NaN):(column("p15")) with linespoints pt 7 ps 0.3 lw 1.8 dt 2 lc rgb "#4292c6" title "15th percentile", \
  "trace.csv" using (column("variant") == 1 ? column("step") : NaN):(column("p50")) with linespoints pt 7 ps 0.3 lw 2.5 dt 1 lc rgb "#08306b" title "50th percentile", \
  "trace.csv" using (column("variant") == 1 ? column("step") : NaN):(column("p85")) with linespoints pt 7 ps 0.3 lw 1.8 dt 2 lc rgb "#4292c6" title "85th percentile"
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
set tmargin at screen 0.0776
plot NaN with linespoints pt 7 ps 0.3 lw 1.8 dt 2 lc rgb "#4292c6" title "15th percentile", NaN with linespoints pt 7 ps 0.3 lw 2.5 dt 1 lc rgb "#08306b" title "50th percentile", NaN with linespoints pt 7 ps 0.3 lw 1.8 dt 2 lc rgb "#4292c6" title "85th percentile"
unset multiplot
unset output
