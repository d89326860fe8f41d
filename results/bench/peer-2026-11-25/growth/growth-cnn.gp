set terminal pngcairo size 700,520 font "DejaVu Sans,11"
set output "growth-cnn.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,1 title "cnn: microseconds per sample, training step (log-log)"
set title "against the batch size"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-cnn-batch.dat" index 0 with linespoints lw 2 title "normlab (slope 0.01)", "growth-cnn-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.00)"
unset multiplot
