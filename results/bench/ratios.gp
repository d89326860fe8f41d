$train_mlp << EOD
"none" 2.387 2.04 1.481 1.289
"batch" 2.94 2.356 1.722 1.456
"layer" 2.771 2.227 1.625 1.402
"group(8)" 2.931 2.367 1.817 1.654
EOD
$train_cnn << EOD
"none" 2.442 1.56 1.335 1.355
"batch" 2.693 1.761 1.421 1.438
"layer" 2.531 1.661 1.282 1.405
"group(8)" 2.49 1.639 1.388 1.404
"instance" 2.4 1.932 1.538 1.478
EOD
$kernels << EOD
"batch 32x64x28x28" 10.76 2.12 1.796 5.115
"layer 32x64x28x28" 3.402 3.336 1.387 2.259
"group(8) 32x64x28x28" 3.581 3.572 1.387 2.314
"instance 32x64x28x28" 13.14 13.06 1.924 6.668
"batch 128x256x14x14" 4.739 1.634 1.482 2.428
"layer 128x256x14x14" 2.109 1.773 1.107 1.359
"group(8) 128x256x14x14" 2.345 2.037 1.175 1.418
"instance 128x256x14x14" 7.134 7.211 1.794 3.961
"batch 256x1024" 1.593 2.356 1.24 1.515
"layer 256x1024" 3.396 3.419 1.864 2.467
"group(8) 256x1024" 8.706 8.569 10.21 9.44
EOD
set terminal pngcairo size 1100,1140 font 'DejaVu Sans,10' noenhanced
set output 'ratios.png'
set multiplot layout 3,1 title 'normlab vs PyTorch (ratio > 1: normlab faster)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.333:19.7]
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
