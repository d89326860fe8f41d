/* normlab report's script: the drawing's helpers (report.1-tables.js
 * says how the pieces make the page's script) */
  /* ---- the explorable curves (a section's .explore box and its JSON) ---- */
  var SVG = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf',
                 '#7f7f7f', '#bcbd22'];
  var W = 900, H = 340, M = { l: 64, r: 16, t: 12, b: 34 };

  function node(name, attrs, parent, ns) {
    var e = ns === false ? document.createElement(name) : document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function html(name, attrs, parent, text) {
    var e = node(name, attrs, parent, false);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* a short line in a colour and style, for a legend */
  function swatch(colour, dashes, parent) {
    var svg = node('svg', { width: 24, height: 8, 'class': 'swatch', 'aria-hidden': 'true' }, parent);
    var line = node('line', { x1: 1, x2: 23, y1: 4, y2: 4, stroke: colour, 'stroke-width': 2 }, svg);
    if (dashes) line.setAttribute('stroke-dasharray', dashes);
    return svg;
  }

  function fmt(v) {
    if (v === null || !isFinite(v)) return String(v);
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(+v.toPrecision(4));
  }

  /* about n round ticks over [lo, hi] */
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 5 ? 10 : err >= 2 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    /* a span within rounding of its values (a constant, smoothed) has
     * steps that do not move t: its first tick alone */
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9 && out.length < 100; t += step)
      out.push(+t.toPrecision(12));
    return out;
  }

  /* labelled ticks of a log axis over [lo, hi] (log10 of the values): the
   * decades when there are 3 or more, else 1-2-5 or 1-2-3-5-7 within each
   * decade, else (less than a factor of about 3) round linear values; the
   * decades alone left one label on a curve over 0.3 to 3 */
  function logTicks(lo, hi) {
    var sets = [[1], [1, 2, 5], [1, 2, 3, 5, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
    for (var s = 0; s < sets.length; s++) {
      var out = [], every = s === 0 ? Math.max(1, Math.ceil((hi - lo) / 7)) : 1;
      for (var d = Math.floor(lo); d <= Math.ceil(hi); d++) {
        if (s === 0 && d % every) continue;
        sets[s].forEach(function (m) {
          var t = d + Math.log10(m);
          if (t >= lo - 1e-9 && t <= hi + 1e-9) out.push(t);
        });
      }
      if (out.length >= 3 && out.length <= 12) return out;
    }
    /* round linear values, finer until 3 fall inside: over 2.96 to 3.04 a
     * step of 0.05 labelled 3 alone */
    var lin = [];
    for (var n = 4; n <= 12 && lin.length < 3; n++)
      lin = ticks(Math.pow(10, lo), Math.pow(10, hi), n).filter(function (v) { return v > 0; });
    return lin.map(function (v) { return Math.log10(v); });
  }

  /* the q-quantile of sorted numbers, interpolated */
  function quantile(xs, q) {
    var at = (xs.length - 1) * q, i = Math.floor(at);
    return i + 1 < xs.length ? xs[i] + (xs[i + 1] - xs[i]) * (at - i) : xs[i];
  }

  /* how far a typical run's values reach, from the runs' lowest and
   * highest values (sorted): the median run's span, or the spread of the
   * runs' highest values below their median and of their lowest above it,
   * whichever is wider. Halves that the outliers do not reach: up to half
   * the runs may explode without moving it. */
  function typicalSpan(lows, highs) {
    var span = Math.max(quantile(highs, 0.5) - quantile(lows, 0.5), quantile(highs, 0.5) - quantile(highs, 0.25),
                        quantile(lows, 0.75) - quantile(lows, 0.5));
    return span > 0 ? span : Math.abs(quantile(highs, 0.5)) * 0.1 || 1;
  }

  /* the range the curves are drawn in by default, on the axis's scale (v):
   * within 3 typical spans (typicalSpan) of the median run's lowest and
   * highest values. A run that explodes to 1e33 is outside it; a run of a
   * sweep of learning rates that trains worse is not. Returns [lo, hi], or
   * null when too few runs tell. */
  function robustRange(ls, v) {
    var lows = [], highs = [];
    ls.forEach(function (l) {
      var lo = Infinity, hi = -Infinity;
      l.y.forEach(function (y) {
        var t = v(y);
        if (t === null || !isFinite(t)) return;
        lo = Math.min(lo, t); hi = Math.max(hi, t);
      });
      if (hi >= lo) { lows.push(lo); highs.push(hi); }
    });
    if (lows.length < 4) return null; /* too few to tell an outlier */
    var num = function (a, b) { return a - b; };
    lows.sort(num); highs.sort(num);
    var span = typicalSpan(lows, highs);
    return [quantile(lows, 0.5) - 3 * span, quantile(highs, 0.5) + 3 * span];
  }

  /* TensorBoard's smoothing: an exponential moving average, debiased so
   * that its first points are not pulled towards zero */
  function smooth(values, weight) {
    var last = 0, n = 0;
    return values.map(function (v) {
      if (v === null || !isFinite(v) || weight === 0) return v;
      last = last * weight + (1 - weight) * v;
      n++;
      return last / (weight === 1 ? 1 : 1 - Math.pow(weight, n));
    });
  }

  /* a run's key values as its files give them, which the filters and the
   * claims' cells match (run.k where run.v shows another text: a formula
   * normalizer's name for "expr", Explore's start) */
  function given(run) { return run.k || run.v; }

  /* a claim's cell as verdicts.csv writes it ("k=v, k2=8|16|32, k3=LO..HI")
   * as conditions on a run's keys */
  function cellTest(text, keys) {
    var parts = text.split(/,\s*(?=[A-Za-z_][\w.\-]*=)/).map(function (p) {
      var at = p.indexOf('=');
      var key = keys.indexOf(p.slice(0, at).trim()), value = p.slice(at + 1).trim();
      if (key < 0) return null; /* a key the runs do not vary: every run has it */
      /* values a|b (a '|' outside brackets), each a value, a list-valued
       * key's value ([channels, spatial], as the run holds it) or a list
       * of values [a, b] */
      if (/^\[.*\]$/.test(value) || value.indexOf('|') >= 0) {
        var alternatives = value.split(/\s*\|\s*(?![^\[]*\])/);
        return function (run) {
          var v = given(run)[key];
          return alternatives.some(function (a) {
            return a === v || (/^\[.*\]$/.test(a) && a.slice(1, -1).split(/\s*,\s*/).indexOf(v) >= 0);
          });
        };
      }
      var range = /^(-?[\d.eE+-]*?)\.\.(-?[\d.eE+-]*)$/.exec(value);
      if (range) {
        var lo = range[1] === '' ? -Infinity : +range[1], hi = range[2] === '' ? Infinity : +range[2];
        return function (run) { var x = parseFloat(given(run)[key]); return x >= lo && x <= hi; };
      }
      return function (run) { return given(run)[key] === value; };
    }).filter(Boolean);
    return function (run) { return parts.every(function (f) { return f(run); }); };
  }

  /* the runs' varied keys, sorted: by value when every one is a number */
  function distinctValues(runs, k) {
    var vals = [];
    runs.forEach(function (r) { if (vals.indexOf(r.v[k]) < 0) vals.push(r.v[k]); });
    var numericKey = vals.every(function (v) { return v !== '' && isFinite(+v); });
    vals.sort(numericKey ? function (a, b) { return a - b; } : undefined);
    return { values: vals, numeric: numericKey };
  }


  /* a line's points that hold a number, in the order of x */
  function finitePoints(l) {
    var xs = [], ys = [], sorted = true;
    l.x.forEach(function (x, i) {
      var y = l.y[i];
      if (y === null || !isFinite(y)) return;
      if (xs.length && x < xs[xs.length - 1]) sorted = false;
      xs.push(x); ys.push(y);
    });
    if (!sorted) {
      var order = xs.map(function (x, i) { return i; }).sort(function (a, b) { return xs[a] - xs[b]; });
      xs = order.map(function (i) { return xs[i]; }); ys = order.map(function (i) { return ys[i]; });
    }
    return { x: xs, y: ys, run: l.run, at: 0 };
  }

  /* the bands a mean is drawn with: at each x the runs' lowest to highest
   * value, their mean +- one standard deviation, or the 95 % t-interval of
   * their mean (the tables' interval over seeds: t975[n - 2], the 0.975
   * quantile of Student's t with n - 1 degrees of freedom, from the page's
   * JSON) */
  var BANDS = { minmax: 'their lowest to highest value (min\u2013max)',
                sd: 'their mean \u00b1 one standard deviation (\u00b11 sd)',
                ci: 'the 95 % t-interval of their mean as the tables\u2019 intervals over seeds take it: on the logit ' +
                    'scale for a percentage, the log scale for a loss, clipped to the range where a run lies on its ' +
                    'edge; none over one run' };

  /* the mean and band of each x over the lines ls (a group's runs): at
   * each x, of the runs present there, those whose numbers (the first to
   * the last) span it; a run's value between two of its points read on
   * the line between them, or, logged (the points chosen: logged only),
   * the run left out of that x. A run that ends sooner (diverged,
   * stopped) leaves the mean where it ends, listed in ends ([x, run]) to
   * be marked; no run's last value is carried on. unit: the values' ('%':
   * a percentage, 'nats' or 'bits': a loss), for the t-interval's scale
   * (ciHalf). Returns { x, mean, lo, hi, n, ends, gap }: gap[j] null where
   * every run present logged x, else [the runs present that did not, the
   * nearest x logged before it and after it among them] (issue 118: a
   * value drawn between two evaluations read as logged) */
  function pool(ls, band, t975, unit, logged) {
    var spans = ls.map(finitePoints).filter(function (s) { return s.x.length; });
    var seen = {}, xs = [];
    spans.forEach(function (s) { s.x.forEach(function (x) { if (!seen[x]) { seen[x] = true; xs.push(x); } }); });
    xs.sort(function (a, b) { return a - b; });
    var out = { x: xs, mean: [], lo: [], hi: [], n: [], ends: [], gap: [] };
    xs.forEach(function (x) {
      var n = 0, sum = 0, squares = 0, lo = Infinity, hi = -Infinity, ys = [], gap = null;
      spans.forEach(function (s) {
        var last = s.x.length - 1;
        if (x < s.x[0] || x > s.x[last]) return;
        while (s.at < last && s.x[s.at + 1] <= x) s.at++;
        var exact = s.x[s.at] === x || s.at === last;
        if (!exact) {
          gap = gap || [0, -Infinity, Infinity];
          gap[0]++; gap[1] = Math.max(gap[1], s.x[s.at]); gap[2] = Math.min(gap[2], s.x[s.at + 1]);
          if (logged) return;
        }
        var y = exact ? s.y[s.at] : s.y[s.at] + (s.y[s.at + 1] - s.y[s.at]) * (x - s.x[s.at]) / (s.x[s.at + 1] - s.x[s.at]);
        ys.push(y);
        n++; sum += y;
        lo = Math.min(lo, y); hi = Math.max(hi, y);
      });
      var mean = sum / n;
      ys.forEach(function (y) { squares += (y - mean) * (y - mean); });
      var sd = n > 1 ? Math.sqrt(squares / (n - 1)) : 0;
      out.mean.push(mean); out.n.push(n); out.gap.push(gap);
      if (band === 'ci') {
        var ci = tInterval(ys, t975, unit);
        out.lo.push(ci[0]); out.hi.push(ci[1]);
        return;
      }
      out.lo.push(band === 'sd' ? mean - sd : lo);
      out.hi.push(band === 'sd' ? mean + sd : hi);
    });
    var end = xs[xs.length - 1];
    spans.forEach(function (s) { if (s.x[s.x.length - 1] < end) out.ends.push([s.x[s.x.length - 1], s.run]); });
    return out;
  }

  /* the 95 % t-interval of the mean of ys as the tables take it
   * (nl_stats_t_interval_within): a percentage's on the logit scale of
   * [0, 100], a loss's on the log scale, back-transformed; where a value
   * lies on a bound, the plain one clipped to the range; [null, null] for
   * fewer than two values (no interval, no zero-width band) */
  function tInterval(ys, t975, unit) {
    var n = ys.length;
    if (n < 2) return [null, null];
    var top = unit === '%' ? 100 : Infinity, bounded = unit === '%' || unit === 'nats' || unit === 'bits';
    var scale = !bounded ? 'linear' : top === 100 ? 'logit' : 'log';
    if (bounded && ys.some(function (y) { return y <= 0 || y >= top; })) scale = 'clipped';
    var to = scale === 'logit' ? function (y) { return Math.log(y / 100) - Math.log1p(-y / 100); }
           : scale === 'log' ? Math.log : function (y) { return y; };
    var from = scale === 'logit' ? function (v) { return 100 / (1 + Math.exp(-v)); }
             : scale === 'log' ? Math.exp : function (v) { return v; };
    var vs = ys.map(to), m = vs.reduce(function (a, v) { return a + v; }, 0) / n;
    var ss = vs.reduce(function (a, v) { return a + (v - m) * (v - m); }, 0);
    var half = (t975[n - 2] || 1.96) * Math.sqrt(ss / (n - 1) / n);
    var lo = from(m - half), hi = from(m + half);
    if (scale === 'clipped') { lo = Math.max(lo, 0); hi = Math.min(hi, top); }
    return [lo, hi];
  }
