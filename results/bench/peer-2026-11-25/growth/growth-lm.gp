set terminal pngcairo size 1400,520 font "DejaVu Sans,11"
set output "growth-lm.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,2 title "lm: microseconds per sample, training step (log-log)"
set title "against the batch size"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-lm-batch.dat" index 0 with linespoints lw 2 title "normlab (slope 0.00)", "growth-lm-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.03)"
set title "against layers (batch 16)"
set xlabel "layers"
set ylabel "us per sample"
plot "growth-lm-size.dat" index 0 with linespoints lw 2 title "normlab (slope 0.96)", "growth-lm-size.dat" index 1 with linespoints lw 2 title "torch (slope 0.95)"
unset multiplot
