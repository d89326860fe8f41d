set terminal pngcairo size 700,520 font "DejaVu Sans,11"
set output "growth-mlp.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,1 title "mlp: microseconds per sample, training step (log-log)"
set title "against the batch size"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-mlp-batch.dat" index 0 with linespoints lw 2 title "normlab (slope -0.06)", "growth-mlp-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.39)"
unset multiplot
