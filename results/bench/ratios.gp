$train_mlp << EOD
"none" 6.401 3.844 1.508 1.307
"batch" 7.545 4.496 1.789 1.468
"layer" 6.961 4.211 1.687 1.435
"group(8)" 7.305 4.346 1.835 1.673
EOD
$train_cnn << EOD
"none" 2.935 2.044 1.637 1.617
"batch" 3.141 2.309 1.833 1.776
"layer" 3.004 2.144 1.602 1.689
"group(8)" 2.987 2.071 1.55 1.655
"instance" 3.261 2.458 1.892 1.753
EOD
$kernels << EOD
"batch 32x64x28x28" 11.77 2.12 2.026 5.707
"layer 32x64x28x28" 3.41 3.429 1.4 2.267
"group(8) 32x64x28x28" 3.377 3.275 1.406 2.282
"instance 32x64x28x28" 11.85 11.73 2.037 6.452
"batch 128x256x14x14" 7.298 1.649 2.008 3.452
"layer 128x256x14x14" 2.497 2.195 1.201 1.5
"group(8) 128x256x14x14" 2.557 2.231 1.215 1.474
"instance 128x256x14x14" 7.253 7.278 1.831 4.004
"batch 256x1024" 1.635 2.351 1.222 1.534
"layer 256x1024" 3.376 3.344 1.851 2.429
"group(8) 256x1024" 8.634 8.535 10.16 9.429
EOD
set terminal pngcairo size 1100,1140 font 'DejaVu Sans,10' noenhanced
set output 'ratios.png'
set multiplot layout 3,1 title 'normlab vs PyTorch (ratio > 1: normlab faster)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.333:17.8]
set grid ytics
set ytics (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)
set lmargin 14
set key outside right top vertical
set xtics rotate by 25 right nomirror
set ylabel 'ratio (log scale)'
set title 'MLP training: normlab samples/s / PyTorch best setting'
set xrange [-0.6:3.6]
set xlabel 'normalizer'
plot $train_mlp using 2:xtic(1) title 'batch 2', \
     $train_mlp using 3:xtic(1) title 'batch 8', \
     $train_mlp using 4:xtic(1) title 'batch 32', \
     $train_mlp using 5:xtic(1) title 'batch 128', \
     1 with lines dt 1 lw 1 lc rgb 'black' title 'parity', 1.5 with lines dt 2 lw 2 lc rgb 'dark-green' title '1.5x', 3 with lines dt 3 lw 2 lc rgb 'blue' title '3x'
set title 'CNN training: normlab samples/s / PyTorch best setting'
set xrange [-0.6:4.6]
set xlabel 'normalizer'
plot $train_cnn using 2:xtic(1) title 'batch 2', \
     $train_cnn using 3:xtic(1) title 'batch 8', \
     $train_cnn using 4:xtic(1) title 'batch 32', \
     $train_cnn using 5:xtic(1) title 'batch 128', \
     1 with lines dt 1 lw 1 lc rgb 'black' title 'parity', 1.5 with lines dt 2 lw 2 lc rgb 'dark-green' title '1.5x', 3 with lines dt 3 lw 2 lc rgb 'blue' title '3x'
set title 'normalizers: normlab GB/s / PyTorch best setting'
set xrange [-0.6:10.6]
set xlabel 'normalizer and shape'
plot $kernels using 2:xtic(1) title 'fwd_train', \
     $kernels using 3:xtic(1) title 'fwd_eval', \
     $kernels using 4:xtic(1) title 'bwd', \
     $kernels using 5:xtic(1) title 'fwd_bwd', \
     1 with lines dt 1 lw 1 lc rgb 'black' title 'parity', 1.5 with lines dt 2 lw 2 lc rgb 'dark-green' title '1.5x', 3 with lines dt 3 lw 2 lc rgb 'blue' title '3x'
unset multiplot
