set terminal pngcairo size 1400,520 font "DejaVu Sans,11"
set output "growth-resnet.png"
set logscale xy
set grid
set key top right
set multiplot layout 1,2 title "resnet: microseconds per sample, training (log-log)"
set title "against the batch size, whole runs, torch eager"
set xlabel "batch size"
set ylabel "us per sample"
plot "growth-resnet-batch.dat" index 0 with linespoints lw 2 title "normlab (slope 0.08)", "growth-resnet-batch.dat" index 1 with linespoints lw 2 title "torch (slope -0.16)"
set title "against the width w of widths [w, 2w] (batch 16, whole runs, torch eager)"
set xlabel "width w"
set ylabel "us per sample"
plot "growth-resnet-size.dat" index 0 with linespoints lw 2 title "normlab (slope 1.25)", "growth-resnet-size.dat" index 1 with linespoints lw 2 title "torch (slope 1.08)"
unset multiplot
