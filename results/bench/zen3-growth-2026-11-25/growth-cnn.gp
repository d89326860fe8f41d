set terminal pngcairo size 1400,520 font "DejaVu Sans,11"
set output "growth-cnn.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,2 title "cnn: microseconds per sample, training (log-log)"
set title "against the batch size, the step"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-cnn-batch.dat" index 0 with linespoints lw 2 title "normlab (slope 0.06)", "growth-cnn-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.01)"
set title "against the width w of widths [w, 2w] (batch 32, whole runs, torch eager)"
set xlabel "width w"
set ylabel "us per sample"
plot "growth-cnn-size.dat" index 0 with linespoints lw 2 title "normlab (slope 0.95)", "growth-cnn-size.dat" index 1 with linespoints lw 2 title "torch (slope 0.96)"
unset multiplot
