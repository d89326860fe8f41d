set terminal pngcairo size 1400,520 font "DejaVu Sans,11"
set output "growth-lstm.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,2 title "lstm: microseconds per sample, training step (log-log)"
set title "against the batch size"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-lstm-batch.dat" index 0 with linespoints lw 2 title "normlab (slope -0.08)", "growth-lstm-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.27)"
set title "against hidden (batch 8)"
set xlabel "hidden"
set ylabel "us per sample"
plot "growth-lstm-size.dat" index 0 with linespoints lw 2 title "normlab (slope 1.54)", "growth-lstm-size.dat" index 1 with linespoints lw 2 title "torch (slope 1.13)"
unset multiplot
