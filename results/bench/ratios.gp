$train_mlp << EOD
"none" 7.141 4.934 2.673 1.531
"batch" 8.452 5.865 3.108 1.692
"layer" 7.791 5.366 2.876 1.654
"group(8)" 8.133 5.599 3.145 1.806
EOD
$train_cnn << EOD
"none" 4.295 3.128 2.643 2.324
"batch" 4.609 3.384 2.666 2.373
"layer" 4.336 3.201 2.353 2.374
"group(8)" 4.35 3.137 2.346 2.296
"instance" 4.808 3.436 2.839 2.462
EOD
$kernels << EOD
"batch 32x64x28x28" 12.2 2.307 2.154 5.494
"layer 32x64x28x28" 3.546 3.569 1.392 2.232
"group(8) 32x64x28x28" 3.936 3.868 1.577 2.548
"instance 32x64x28x28" 16.44 16.39 2.536 7.454
"batch 128x256x14x14" 7.495 1.804 2.35 3.757
"layer 128x256x14x14" 2.749 2.474 1.243 1.544
"group(8) 128x256x14x14" 2.816 2.588 1.474 1.801
"instance 128x256x14x14" 7.873 7.969 1.813 4.054
"batch 256x1024" 3.324 3.164 2.453 3.003
"layer 256x1024" 3.921 3.881 2.945 3.4
"group(8) 256x1024" 15.4 15.2 16.56 16.7
EOD
set terminal pngcairo size 1100,1140 font 'DejaVu Sans,10' noenhanced
set output 'ratios.png'
set multiplot layout 3,1 title 'normlab vs PyTorch (ratio > 1: normlab faster)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.333:25]
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
