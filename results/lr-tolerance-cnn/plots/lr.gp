# Final test error against learning rate
# Written by normlab plot. Reads the CSV files it names by column name.
# Render from this directory: gnuplot lr.gp (PNG), or
#   gnuplot -e 'fmt="svg"' lr.gp (SVG)
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1150,784 dynamic font "Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1150,784 font "Sans,11" background rgb "white"
}
set output "lr.".fmt
set termoption noenhanced
set datafile separator comma
set border lc rgb "#444444"
set grid lc rgb "#e0e0e0" lt 1
set key opaque box lc rgb "#cccccc" samplen 2.5 spacing 1.1
set style fill transparent solid 0.18 noborder
set label 101 "Final test error against learning rate" at screen 0.5, screen 0.9719 center font ",15"
set label 102 "fashion-mnist, 10000 training samples | CNN 16-32 relu | SGD, momentum 0.9, batch 64, 2 epochs | 2 seeds" at screen 0.5, screen 0.9413 center font ",10" tc rgb "#505050"
set multiplot
set lmargin at screen 0.0900
set rmargin at screen 0.7600
set bmargin at screen 0.3559
set tmargin at screen 0.8980
set logscale x 10
set xtics ("0.001" 0.001, "0.003" 0.003, "0.01" 0.01, "0.03" 0.03, "0.1" 0.1, "0.3" 0.3, "1" 1, "3" 3, "10" 10)
set xrange [0.000625:16]
set xlabel "learning rate (log scale)"
set ylabel "final test error (%)"
set yrange [0:106.554]
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
set label 103 "points: mean over 2 seeds; bars: min to max. diverged runs: crosses at the top, left out of the means" at screen 0.01, screen 0.0128 left font ",9" tc rgb "#606060"
set arrow 1 from graph 0, first 17.875 to graph 1, first 17.875 nohead dt 2 lw 1.5 lc rgb "#777777" back
set label 1 "threshold 17.9%" at graph 0.99, first 17.875 right offset 0,0.6 front font ",8" tc rgb "#555555"
set label 2 "diverged" at graph 0.01, first 101.759 left offset 0,1.1 font ",9" tc rgb "#555555"
set arrow 2 from graph 0, first 96.6978 to graph 1, first 96.6978 nohead lw 0.5 lc rgb "#bbbbbb"
plot "lr.csv" using (column("series") == 0 && column("n") > 0 ? column("lr")*10**(-0.0300) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw 2 pt 7 ps 1.1 lc rgb "#7f7f7f" title "none", \
  "lr.csv" using (column("series") == 0 && column("diverged") > 0 ? column("lr")*10**(-0.0300) : NaN):(101.759) with points pt 2 ps 2.2 lw 2.5 lc rgb "#7f7f7f" notitle, \
  "lr.csv" using (column("series") == 1 && column("n") > 0 ? column("lr")*10**(-0.0100) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw 2 pt 7 ps 1.1 lc rgb "#1f77b4" title "batch", \
  "lr.csv" using (column("series") == 1 && column("diverged") > 0 ? column("lr")*10**(-0.0100) : NaN):(101.759) with points pt 2 ps 2.2 lw 2.5 lc rgb "#1f77b4" notitle, \
  "lr.csv" using (column("series") == 2 && column("n") > 0 ? column("lr")*10**(0.0100) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw 2 pt 7 ps 1.1 lc rgb "#2ca02c" title "layer", \
  "lr.csv" using (column("series") == 2 && column("diverged") > 0 ? column("lr")*10**(0.0100) : NaN):(101.759) with points pt 2 ps 2.2 lw 2.5 lc rgb "#2ca02c" notitle, \
  "lr.csv" using (column("series") == 3 && column("n") > 0 ? column("lr")*10**(0.0300) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw 2 pt 7 ps 1.1 lc rgb "#ff7f0e" title "group", \
  "lr.csv" using (column("series") == 3 && column("diverged") > 0 ? column("lr")*10**(0.0300) : NaN):(101.759) with points pt 2 ps 2.2 lw 2.5 lc rgb "#ff7f0e" notitle, \
  NaN with points pt 2 ps 2.2 lw 2.5 lc rgb "#444444" title "diverged (any seed)"
unset label 101
unset label 102
unset arrow
unset label
unset key
unset title
set lmargin at screen 0.0900
set rmargin at screen 0.7600
set bmargin at screen 0.0702
set tmargin at screen 0.2602
set xlabel ""
set format x ""
set ylabel ""
set yrange [3.6:-0.6]
set ytics ("none" 0, "batch" 1, "layer" 2, "group" 3) font ",9"
set grid xtics noytics
set label 3 "widest tolerated range: no run diverged and mean test error <= 17.9% (best + 5 points)" at graph 0, graph 1 left offset 0,0.7 font ",9" tc rgb "#555555"
plot "lr-ranges.csv" using (column("series") == 0 ? sqrt(column("lo")*column("hi")) : NaN):(column("row")):(column("lo_box")):(column("hi_box")):(column("row")-0.3):(column("row")+0.3) with boxxyerror fs solid 0.75 noborder lc rgb "#7f7f7f" notitle, \
  "lr-ranges.csv" using (column("series") == 1 ? sqrt(column("lo")*column("hi")) : NaN):(column("row")):(column("lo_box")):(column("hi_box")):(column("row")-0.3):(column("row")+0.3) with boxxyerror fs solid 0.75 noborder lc rgb "#1f77b4" notitle, \
  "lr-ranges.csv" using (column("series") == 2 ? sqrt(column("lo")*column("hi")) : NaN):(column("row")):(column("lo_box")):(column("hi_box")):(column("row")-0.3):(column("row")+0.3) with boxxyerror fs solid 0.75 noborder lc rgb "#2ca02c" notitle, \
  "lr-ranges.csv" using (column("series") == 3 ? sqrt(column("lo")*column("hi")) : NaN):(column("row")):(column("lo_box")):(column("hi_box")):(column("row")-0.3):(column("row")+0.3) with boxxyerror fs solid 0.75 noborder lc rgb "#ff7f0e" notitle, \
  "lr-ranges.csv" using (column("hi_box")):(column("row")):(strcol("text")) with labels left offset 0.8,0 font ",9" notitle
unset multiplot
unset output
