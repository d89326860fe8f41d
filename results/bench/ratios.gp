$train_mlp << EOD
"none" 6.62 4.715 2.313 1.413
"batch" 7.56 5.383 2.628 1.536
"layer" 7.277 5.126 2.468 1.511
"group(8)" 7.538 5.351 2.719 1.777
EOD
$train_cnn << EOD
"none" 3.404 2.584 2.145 1.96
"batch" 3.788 2.822 2.251 2.07
"layer" 3.559 2.687 1.978 1.937
"group(8)" 3.588 2.694 1.933 1.956
"instance" 3.977 3.25 2.474 2.116
EOD
$kernels << EOD
"batch 32x64x28x28" 12.1 2.11 2.019 5.494
"layer 32x64x28x28" 3.405 3.418 1.392 2.232
"group(8) 32x64x28x28" 3.384 3.356 1.383 2.18
"instance 32x64x28x28" 11.75 11.67 2.02 6.544
"batch 128x256x14x14" 7.346 1.741 1.984 3.624
"layer 128x256x14x14" 2.749 2.139 1.215 1.439
"group(8) 128x256x14x14" 2.314 2.117 1.198 1.47
"instance 128x256x14x14" 7.292 7.263 1.813 4.054
"batch 256x1024" 1.532 2.13 1.195 1.432
"layer 256x1024" 3.332 3.335 1.858 2.401
"group(8) 256x1024" 8.627 8.528 10.22 9.37
EOD
set terminal pngcairo size 1100,1140 font 'DejaVu Sans,10' noenhanced
set output 'ratios.png'
set multiplot layout 3,1 title 'normlab vs PyTorch (ratio > 1: normlab faster)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.333:18.2]
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
