set terminal pngcairo size 1400,520 font "DejaVu Sans,11"
set output "growth-vit.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,2 title "vit: microseconds per sample, training step (log-log)"
set title "against the batch size"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-vit-batch.dat" index 0 with linespoints lw 2 title "normlab (slope 0.01)", "growth-vit-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.17)"
set title "against layers (batch 16)"
set xlabel "layers"
set ylabel "us per sample"
plot "growth-vit-size.dat" index 0 with linespoints lw 2 title "normlab (slope 0.99)", "growth-vit-size.dat" index 1 with linespoints lw 2 title "torch (slope 0.96)"
unset multiplot
