# Batch norm: test accuracy in eval mode (running statistics) vs train mode (batch statistics)
# Written by normlab plot. Reads the CSV files it names by column name.
# Render from this directory: gnuplot train_eval_gap.gp (PNG), or
#   gnuplot -e 'fmt="svg"' train_eval_gap.gp (SVG)
if (!exists("fmt")) fmt = "png"
if (fmt eq "svg") {
    set terminal svg size 1150,680 dynamic font "Sans,12" background rgb "white"
} else {
    set terminal pngcairo size 1150,680 font "Sans,11" background rgb "white"
}
set output "train_eval_gap.".fmt
set termoption noenhanced
set datafile separator comma
set border lc rgb "#444444"
set grid lc rgb "#e0e0e0" lt 1
set key opaque box lc rgb "#cccccc" samplen 2.5 spacing 1.1
set style fill transparent solid 0.18 noborder
set label 101 "Batch norm: test accuracy in eval mode (running statistics) vs train mode (batch statistics)" at screen 0.5, screen 0.9676 center font ",15"
set label 102 "fashion-mnist, 10000 training samples | CNN 32-64 relu | SGD, momentum 0.9, 3 epochs | 3 seeds" at screen 0.5, screen 0.9324 center font ",10" tc rgb "#505050"
set lmargin at screen 0.0800
set rmargin at screen 0.7000
set bmargin at screen 0.1324
set tmargin at screen 0.8824
set logscale x 2
set xtics ("2" 2, "4" 4, "8" 8, "16" 16, "32" 32, "64" 64)
set xrange [1.37931:92.8]
set xlabel "batch size (samples per step, log2 scale)"
set ylabel "final test accuracy (%)"
set key outside right top Left reverse nobox noopaque width 1 spacing 1.2
set label 103 "points: mean over 3 seeds; bars: min to max. train mode normalizes each test batch with its own statistics" at screen 0.01, screen 0.0147 left font ",9" tc rgb "#606060"
plot "train_eval_gap.csv" using (column("series") == 0 && strcol("mode") eq "eval" ? column("batch_size")*2**(-0.0150) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw 2 dt 1 pt 7 ps 1.1 lc rgb "#1f77b4" title "eval mode (running statistics)", \
  "train_eval_gap.csv" using (column("series") == 0 && strcol("mode") eq "train" ? column("batch_size")*2**(0.0150) : NaN):(column("mean")):(column("min")):(column("max")) with yerrorlines lw 2 dt 2 pt 6 ps 1.1 lc rgb "#1f77b4" title "train mode (batch statistics)"
unset output
