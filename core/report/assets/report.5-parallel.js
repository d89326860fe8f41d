/* normlab report's script: a section's parallel coordinates of its runs'
 * varied keys and a final metric against a key, below its curves
 * (report.4-explore.js), whose runs they share: ex tells which runs are
 * listed (the filters' and the regular expression's), shown (also not
 * switched off, and within the ranges dragged here) and switched off, a
 * run's colour, a metric's unit, the sweep's lead metric, the varied keys
 * but the seed (byKeys), and changed(), which redraws the curves and keeps
 * the view (report.1-tables.js says how the pieces make the page's script) */
  function Parallel(box, data, ex) {
    var listed = ex.listed, shown = ex.shown, colour = ex.colour, metricUnit = ex.metricUnit, lead = ex.lead;
    var pcHead = html('p', { 'class': 'controls' }, box, 'Parallel coordinates of the varied keys, each line a ' +
                      'run, coloured by ');
    var metric = html('select', { 'class': 'metric', 'aria-label': 'the final metric of the parallel coordinates and the scatter plot' }, pcHead);
    var numeric = data.metrics.filter(function (m, i) {
      return data.runs.some(function (r) { return r.m[i] !== null && isFinite(r.m[i]); });
    });
    numeric.forEach(function (m) { html('option', { value: data.metrics.indexOf(m) }, metric, m); });
    /* the sweep's own metric, as its tables lead with it */
    if (numeric.indexOf(lead) >= 0) metric.value = data.metrics.indexOf(lead);
    else if (numeric.indexOf('final_test_error') >= 0) metric.value = data.metrics.indexOf('final_test_error');
    var pcBox = html('div', { 'class': 'pcbox' }, box);
    var pc = node('svg', { 'class': 'pc', viewBox: '0 0 900 300', role: 'img' }, pcBox);
    var pcLegend = html('p', { 'class': 'pclegend' }, box);
    var brushed = data.runs.map(function () { return true; });
    /* an axis's index: [lo, hi], the range dragged on it, in its data: a
     * key's axis in its values' places (0 the first value, 1 the next, ...;
     * [NaN, NaN] none), the metric's in its values. A link's range keeps
     * the same runs whatever the metric's axis spans (the runs the filters
     * list), at any window width */
    var brushes = {};
    var count = html('p', { 'class': 'count' }, box);

    /* parallel coordinates: an axis per varied key but the seed, then the
     * metric. Dragging along an axis keeps the runs whose line crosses it
     * in the dragged range (several axes: all of them); a click on an axis
     * clears its range. The curves above draw the runs kept. */
    var PH = 300, PT = 34, PB = PH - 16, pcAxes = [];
    var axes = data.varied.filter(function (k) { return k !== data.seed; }).map(function (k) {
      return { name: data.keys[k], key: k, values: distinctValues(data.runs, k).values };
    });
    /* the metric's axis as last drawn: [lo, hi] */
    var span = [0, 1];
    /* axis i's pixel of t, a place on a key's axis or a value on the
     * metric's, and back */
    function toPx(i, t) {
      var a = axes[i];
      if (!a) return PB - (t - span[0]) / (span[1] - span[0]) * (PB - PT);
      return a.values.length === 1 ? (PT + PB) / 2 - t * (PB - PT) : PB - t / (a.values.length - 1) * (PB - PT);
    }
    function fromPx(i, y) {
      var a = axes[i];
      if (!a) return span[0] + (PB - y) / (PB - PT) * (span[1] - span[0]);
      return a.values.length === 1 ? ((PT + PB) / 2 - y) / (PB - PT) : (PB - y) / (PB - PT) * (a.values.length - 1);
    }
    /* a dragged range's pixels, top and bottom */
    function brushPx(i) { return [toPx(i, brushes[i][1]), toPx(i, brushes[i][0])]; }
    function pcDraw() {
      while (pc.firstChild) pc.removeChild(pc.firstChild);
      var m = +metric.value;
      var values = data.runs.map(function (r) { return r.m[m]; });
      var finite = values.filter(function (v, i) { return listed(i) && v !== null && isFinite(v); });
      var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
      if (!(hi > lo)) { lo = (isFinite(lo) ? lo : 0) - 0.5; hi = lo + 1; }
      span = [lo, hi];
      var n = axes.length + 1, xs = [];
      for (var i = 0; i < n; i++) xs.push(n === 1 ? 450 : 70 + i * 760 / (n - 1));
      function y(a, v) { return toPx(a ? axes.indexOf(a) : axes.length, a ? a.values.indexOf(v) : v); }
      pcAxes = [];
      data.runs.forEach(function (r, run) {
        if (!listed(run)) return;
        var v = values[run], ok = v !== null && isFinite(v);
        var ys = axes.map(function (a) { return y(a, r.v[a.key]); });
        ys.push(ok ? y(null, v) : null);
        var pts = ys.map(function (yy, i) { return yy === null ? null : xs[i] + ',' + yy.toFixed(1); });
        var t = ok ? (v - lo) / (hi - lo) : 0;
        var line = node('polyline', { points: pts.filter(Boolean).join(' '), 'class': 'pcline' + (ok ? '' : ' missing') + (ex.off(run) ? ' off' : ''),
                                      stroke: ok ? ramp(t) : '#999', 'data-run': run }, pc);
        node('title', {}, line).textContent = r.n + ': ' + data.metrics[m] + ' ' + (ok ? fmt(v) + metricUnit(m) : 'none');
        pcAxes.push([run, ys, line]);
      });
      axes.concat([null]).forEach(function (a, i) {
        var g = node('g', { 'class': 'pcaxis' }, pc);
        node('line', { x1: xs[i], x2: xs[i], y1: PT, y2: PB }, g);
        /* the first name starts at its axis and the last ends there: centred,
         * a long key ran off the figure's left edge */
        var anchor = n > 1 && i === 0 ? 'start' : n > 1 && i === n - 1 ? 'end' : 'middle';
        node('text', { x: xs[i] + (anchor === 'start' ? -8 : anchor === 'end' ? 8 : 0), y: 14, 'text-anchor': anchor,
                       'class': 'pcname' }, g).textContent = a ? a.name : data.metrics[m] +
                                                            (metricUnit(m) ? ' (' + metricUnit(m).trim() + ')' : '');
        (a ? a.values : ticks(lo, hi, 5)).forEach(function (v) {
          node('text', { x: xs[i] + 5, y: y(a, v) + 4 }, g).textContent = a ? (v === '' ? '(not set)' : v) : fmt(v);
        });
        var b = brushes[i] ? brushPx(i).map(function (p) { return Math.max(PT - 6, Math.min(PB + 6, p)); }) : null;
        if (b && b[1] >= b[0]) node('rect', { x: xs[i] - 9, y: b[0], width: 18, height: b[1] - b[0], 'class': 'brush' }, g);
        var hit = node('rect', { x: xs[i] - 14, y: PT - 6, width: 28, height: PB - PT + 12, 'class': 'brusharea',
                                 'data-axis': i }, g);
        node('title', {}, hit).textContent = 'drag along the axis to keep the runs in a range; click to clear it';
      });
      pcLegendDraw(m, lo, hi);
      pcBrushed();
    }

    /* what the colours mean, under the figure */
    function pcLegendDraw(m, lo, hi) {
      while (pcLegend.firstChild) pcLegend.removeChild(pcLegend.firstChild);
      pcLegend.appendChild(document.createTextNode('Colour: ' + data.metrics[m] + ' ' + fmt(lo) + metricUnit(m) + ' '));
      var stops = [];
      for (var i = 0; i <= 4; i++) stops.push(ramp(i / 4));
      html('span', { 'class': 'ramp', style: 'background:linear-gradient(to right,' + stops.join(',') + ')' }, pcLegend);
      pcLegend.appendChild(document.createTextNode(' ' + fmt(hi) + metricUnit(m) + '; '));
      html('span', { 'class': 'nodata' }, pcLegend);
      pcLegend.appendChild(document.createTextNode(' no value. Drag along an axis to keep the runs in a range.'));
    }

    /* the runs inside every brushed range: the others dim here and leave the curves */
    function pcBrushed() {
      var any = Object.keys(brushes).length > 0;
      brushed = data.runs.map(function () { return true; });
      pcAxes.forEach(function (p) {
        var inside = Object.keys(brushes).every(function (i) {
          var yy = p[1][+i], b = brushPx(+i);
          return yy !== null && yy >= b[0] - 0.5 && yy <= b[1] + 0.5;
        });
        brushed[p[0]] = inside;
        p[2].classList.toggle('dim', any && !inside);
      });
    }

    var brushing = null;
    function pcAt(ev) {
      var p = pc.createSVGPoint();
      p.x = ev.clientX; p.y = ev.clientY;
      return p.matrixTransform(pc.getScreenCTM().inverse());
    }
    pc.addEventListener('mousedown', function (ev) {
      var axis = ev.target.getAttribute && ev.target.getAttribute('data-axis');
      if (axis === null || ev.button !== 0) return;
      /* no text selection under the drag */
      ev.preventDefault();
      var p = pcAt(ev);
      brushing = { axis: +axis, from: Math.max(PT, Math.min(PB, p.y)) };
    });
    window.addEventListener('mousemove', function (ev) {
      if (!brushing) return;
      var y = Math.max(PT, Math.min(PB, pcAt(ev).y));
      brushes[brushing.axis] = [fromPx(brushing.axis, Math.max(y, brushing.from)),
                                fromPx(brushing.axis, Math.min(y, brushing.from))];
      brushing.moved = Math.abs(y - brushing.from) >= 3;
      pcDraw();
    });
    window.addEventListener('mouseup', function () {
      if (!brushing) return;
      if (!brushing.moved) delete brushes[brushing.axis];
      brushing = null;
      pcDraw();
      ex.changed();
    });

    /* light to dark over the metric's range */
    function ramp(t) {
      var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
      var f = Math.max(0, Math.min(1, t)) * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(f));
      var c = stops[i].map(function (a, j) { return Math.round(a + (stops[i + 1][j] - a) * (f - i)); });
      return 'rgb(' + c.join(',') + ')';
    }
    metric.addEventListener('change', function () { brushes = {}; pcDraw(); ex.changed(); });

    /* a final metric against a key, a dot per run shown (HParams' scatter
     * plot): the key's values along x (a number's on a log axis when they
     * span 20 times or more), the metric chosen for the parallel
     * coordinates up */
    var scHead = html('p', { 'class': 'controls' }, box, 'A final metric against a key, each dot a run shown: ');
    var scBox = html('label', {}, scHead, 'key ');
    var scKey = html('select', { 'class': 'sx' }, scBox);
    data.varied.forEach(function (k) { html('option', { value: k }, scKey, data.keys[k]); });
    var scSays = html('span', { 'class': 'small' }, scHead);
    var scatter = node('svg', { 'class': 'scatter', viewBox: '0 0 900 300', role: 'img' }, html('div', { 'class': 'pcbox' }, box));
    if (!data.varied.length) scHead.hidden = scatter.parentNode.hidden = true;
    function scDraw() {
      while (scatter.firstChild) scatter.removeChild(scatter.firstChild);
      if (!data.varied.length) return;
      var k = +scKey.value, m = +metric.value, w = 900, h = 300, mg = { l: 64, r: 16, t: 12, b: 40 };
      scSays.textContent = ' against it: ' + data.metrics[m] + ' (the metric chosen above).';
      scatter.setAttribute('aria-label', data.metrics[m] + ' of each run shown against ' + data.keys[k]);
      var kv = distinctValues(data.runs, k), vals = kv.values, nums = vals.map(Number);
      var logX = kv.numeric && nums[0] > 0 && nums[nums.length - 1] / nums[0] >= 20;
      var runs = [];
      data.runs.forEach(function (r, run) {
        if (shown(run) && r.m[m] !== null && isFinite(r.m[m])) runs.push(run);
      });
      /* the y range fits the runs that did not diverge, when some did not */
      var fine = runs.filter(function (run) { return data.runs[run].s !== 'diverged'; });
      var ys = (fine.length ? fine : runs).map(function (run) { return data.runs[run].m[m]; });
      var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      if (!ys.length) { y0 = 0; y1 = 1; }
      if (!(y1 > y0)) { var pad0 = Math.abs(y0) * 0.1 || 0.5; y0 -= pad0; y1 += pad0; }
      var pad = (y1 - y0) * 0.06;
      y0 -= pad; y1 += pad;
      var xv = function (v) { return kv.numeric ? (logX ? Math.log10(+v) : +v) : vals.indexOf(v); };
      var x0 = xv(vals[0]), x1 = xv(vals[vals.length - 1]);
      if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
      var xpad = (x1 - x0) * 0.05;
      x0 -= xpad; x1 += xpad;
      function sx(v) { return mg.l + (xv(v) - x0) / (x1 - x0) * (w - mg.l - mg.r); }
      function sy(v) { return h - mg.b - (Math.max(y0, Math.min(y1, v)) - y0) / (y1 - y0) * (h - mg.t - mg.b); }
      var g = node('g', { 'class': 'axes' }, scatter);
      ticks(y0, y1, 5).forEach(function (v) {
        node('line', { x1: mg.l, x2: w - mg.r, y1: sy(v), y2: sy(v), 'class': 'grid' }, g);
        node('text', { x: mg.l - 6, y: sy(v) + 4, 'text-anchor': 'end' }, g).textContent = fmt(v);
      });
      vals.forEach(function (v) {
        node('line', { x1: sx(v), x2: sx(v), y1: mg.t, y2: h - mg.b, 'class': 'grid' }, g);
        node('text', { x: sx(v), y: h - mg.b + 16, 'text-anchor': 'middle', 'class': 'xtick' }, g).textContent =
          v === '' ? '(not set)' : v;
      });
      node('text', { x: w - mg.r, y: h - 4, 'text-anchor': 'end' }, g).textContent = data.keys[k] + (logX ? ' (log scale)' : '');
      node('text', { x: mg.l + 4, y: mg.t + 14, 'class': 'yname' }, g).textContent =
        data.metrics[m] + (metricUnit(m) ? ' (' + metricUnit(m).trim() + ')' : '');
      node('rect', { x: mg.l, y: mg.t, width: w - mg.l - mg.r, height: h - mg.t - mg.b, 'class': 'frame' }, g);
      runs.forEach(function (run) {
        var r = data.runs[run], v = r.m[m], beyond = v < y0 || v > y1;
        var dot = node('circle', { cx: sx(r.v[k]).toFixed(1), cy: sy(v).toFixed(1), r: beyond ? 3 : 4.5,
                                   'class': beyond ? 'dot beyond' : 'dot', fill: colour(run), 'data-run': run }, scatter);
        node('title', {}, dot).textContent = r.n + ': ' + data.keys[k] + '=' + r.v[k] + ', ' + data.metrics[m] + ' ' + fmt(v) +
          metricUnit(m) + (beyond ? ' (beyond the range drawn)' : '');
      });
    }
    scKey.addEventListener('change', function () { scDraw(); saveView(); });


    /* the view's parts kept here, into the URL's fragment (put): what
     * differs from the page's first view; the metric and key ... */
    this.stateChoices = function (put) {
      if (metric.value !== metric0) put('metric', data.metrics[+metric.value]);
      if (data.varied.length && scKey.value !== scKey0) put('key', data.keys[+scKey.value]);
    };
    /* ... and the ranges dragged */
    this.stateRanges = function (put) {
      Object.keys(brushes).forEach(function (i) {
        var a = axes[+i], b = brushPx(+i);
        if (!a) {
          put('range.' + data.metrics[+metric.value], brushes[i].map(function (v) { return +v.toPrecision(6); }).join('..'));
          return;
        }
        /* a key's range: the values it keeps, as the axis names them */
        var kept = a.values.filter(function (v, j) { var p = toPx(+i, j); return p >= b[0] - 0.5 && p <= b[1] + 0.5; });
        put('range.' + a.name, kept.map(function (v) { return v === '' ? '(not set)' : v; }).join('|'));
      });
    };
    /* the view the fragment holds (param: a parameter's value, or null),
     * where it names what this page has */
    this.restore = function (param, pick, key) {
      var m = param('metric');
      if (m !== null) pick(metric, String(data.metrics.indexOf(m)));
      pick(scKey, key(param('key')));
      axes.forEach(function (a, i) {
        var r = param('range.' + a.name);
        if (r === null) return;
        var at = (r === '' ? [] : r.split('|')).map(function (v) { return a.values.indexOf(v === '(not set)' ? '' : v); });
        if (at.indexOf(-1) >= 0) return; /* a value this page's runs do not have */
        brushes[i] = at.length ? [Math.min.apply(null, at), Math.max.apply(null, at)] : [NaN, NaN];
      });
      var mr = (param('range.' + data.metrics[+metric.value]) || '').split('..').map(parseFloat);
      if (mr.length === 2 && mr.every(isFinite) && mr[1] >= mr[0]) brushes[axes.length] = mr;
    };
    this.brushed = function (run) { return brushed[run]; };
    this.clear = function () { brushes = {}; };
    this.draw = pcDraw;
    this.scatter = scDraw;
    this.count = count;
    var metric0 = metric.value;
    /* the scatter against the key of numbers with the most values (a learning rate), else the first */
    var scFirst = ex.byKeys.slice().sort(function (a, b) {
      var x = distinctValues(data.runs, a), y = distinctValues(data.runs, b);
      return (y.numeric - x.numeric) || (y.values.length - x.values.length);
    })[0];
    if (scFirst !== undefined) scKey.value = scFirst;
    var scKey0 = scKey.value;
  }
