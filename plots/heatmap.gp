# The heatmap's own style (a final metric over learning rate x batch size);
# plots/style.gp holds what every figure shares. Bright is good: normlab
# reverses the palette for metrics where higher is better.
set palette defined (0 "#fde725", 0.25 "#5ec962", 0.5 "#21918c", 0.75 "#3b528b", 1 "#440154")
