$train_mlp << EOD
"none" 3.471 2.975 2.102 1.499
"batch" 4.536 3.444 2.14 1.541
"layer" 3.743 3.15 2.122 1.539
"group(8)" 5.046 3.258 2.562 1.941
"rms" 5.847 4.769 3.059 1.963
"batch_renorm" 7.971 5.531 4.396 2.507
"ghost_batch" 5.056 4.885 3.442 2.015
"dyt" 6.016 4.837 2.928 1.844
EOD
$train_cnn << EOD
"none" 3 2.628 2.393 2.009
"batch" 3.369 3.696 2.066 2.342
"layer" 3.086 2.877 2.014 2.32
"group(8)" 3.317 2.061 1.878 2.36
"rms" 4.445 3.541 2.521 4.204
"batch_renorm" 6.616 6.063 4.381 5.595
"ghost_batch" 4.064 3.512 2.63 2.03
"dyt" 3.722 3.256 2.691 3.105
"instance" 4.454 3.042 2.119 2.405
"frn" 5.357 5.428 3.879 4.547
EOD
set terminal pngcairo size 1100,760 font 'DejaVu Sans,10' noenhanced
set output 'ratios.png'
set multiplot layout 2,1 title 'normlab vs PyTorch (ratio > 1: normlab faster)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.333:12]
set grid ytics
set ytics (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)
set lmargin 14
set key outside right top vertical
set xtics rotate by 25 right nomirror
set ylabel 'ratio (log scale)'
set title 'MLP training: normlab samples/s / PyTorch best setting'
set xrange [-0.6:7.6]
set xlabel 'normalizer'
plot $train_mlp using 2:xtic(1) title 'batch 2', \
     $train_mlp using 3:xtic(1) title 'batch 8', \
     $train_mlp using 4:xtic(1) title 'batch 32', \
     $train_mlp using 5:xtic(1) title 'batch 128', \
     1 with lines dt 1 lw 1 lc rgb 'black' title 'parity', 1.5 with lines dt 2 lw 2 lc rgb 'dark-green' title '1.5x', 3 with lines dt 3 lw 2 lc rgb 'blue' title '3x'
set title 'CNN training: normlab samples/s / PyTorch best setting'
set xrange [-0.6:9.6]
set xlabel 'normalizer'
plot $train_cnn using 2:xtic(1) title 'batch 2', \
     $train_cnn using 3:xtic(1) title 'batch 8', \
     $train_cnn using 4:xtic(1) title 'batch 32', \
     $train_cnn using 5:xtic(1) title 'batch 128', \
     1 with lines dt 1 lw 1 lc rgb 'black' title 'parity', 1.5 with lines dt 2 lw 2 lc rgb 'dark-green' title '1.5x', 3 with lines dt 3 lw 2 lc rgb 'blue' title '3x'
unset multiplot
