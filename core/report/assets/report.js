/* normlab report's script: sorts a table by the column whose header is
 * clicked, filters a section's tables, curves and claims by the values of
 * its varied keys, draws the runs' curves (hover, smoothing, zoom, log
 * scale) and their parallel coordinates from the section's JSON, and
 * reloads a live page. No library, nothing fetched. Built into the binary
 * with report.css. */
(function () {
  'use strict';
  var explorers = {}; /* a section's id: its explore views, told of each filter */

  /* a cell's sort key: its data-v number when it has one (NaN sorts last),
   * a number written as text (a key's value, 0.03) by value, else its text:
   * localeCompare's numeric option reads digit runs alone, which put a
   * learning rate of 0.1 before 0.03 */
  function sortKey(td) {
    if (!td) return null;
    var v = td.getAttribute('data-v');
    if (v !== null) {
      var x = parseFloat(v);
      return isNaN(x) ? null : x;
    }
    var t = td.textContent.trim();
    return t === '' ? null : /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? parseFloat(t) : t;
  }

  function compare(x, y) {
    if (x === null) return y === null ? 0 : 1;
    if (y === null) return -1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y), undefined, { numeric: true });
  }

  function sortBy(table, col, th) {
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(table.querySelectorAll('th[aria-sort]'), function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
      /* missing values last either way */
      if (x === null || y === null) return compare(x, y);
      var c = compare(x, y);
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  /* long names may break after their _ and . (final_test_error, model.norm.type), and
   * a setting after its = and | (model.norm.type=|gaussian, groups=2|4|16|128): a column is as wide
   * as its numbers, not its name. Only before a letter: 0.05 and 1e-3 stay
   * whole */
  function breakable(e) {
    Array.prototype.slice.call(e.childNodes).forEach(function (n) {
      if (n.nodeType === 1 && n.tagName !== 'SCRIPT' && n.tagName !== 'svg') return breakable(n);
      if (n.nodeType !== 3 || !/[_.=][A-Za-z]|\|\w/.test(n.nodeValue)) return;
      n.nodeValue.split(/(?<=[A-Za-z0-9\]][_.=])(?=[A-Za-z])|(?<=\|)(?=\w)/).forEach(function (piece, i) {
        if (i) e.insertBefore(document.createElement('wbr'), n);
        e.insertBefore(document.createTextNode(piece), n);
      });
      e.removeChild(n);
    });
  }

  /* a runs table's columns that hold one value in every run (steps,
   * threads, a metric no run logged) say it once above the table: on a
   * sweep of 20 columns they pushed the last ones past the page's edge and
   * squeezed the run names onto seven lines. Filter keys stay. */
  function foldConstant(table) {
    var head = table.tHead.rows[0], rows = table.tBodies[0].rows, same = [];
    if (rows.length < 2) return;
    Array.prototype.forEach.call(head.cells, function (th, col) {
      if (col === 0 || th.hasAttribute('data-key')) return;
      var first = rows[0].cells[col] ? rows[0].cells[col].textContent.trim() : null;
      var all = Array.prototype.every.call(rows, function (r) {
        return r.cells[col] && r.cells[col].textContent.trim() === first;
      });
      if (all) same.push([col, th.textContent.trim(), first]);
    });
    if (!same.length) return;
    var note = html('p', { 'class': 'small constant' }, null,
                    'The same in every run, so not a column: ' + same.map(function (c) {
                      return c[1] + ' ' + (c[2] === '' || c[2] === '\u2013' ? 'none' : c[2]);
                    }).join('; ') + '.');
    var box = table.closest('.scroll') || table;
    box.parentNode.insertBefore(note, box);
    same.reverse().forEach(function (c) {
      head.deleteCell(c[0]);
      Array.prototype.forEach.call(rows, function (r) { r.deleteCell(c[0]); });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('table[id$="-runtable"]'), foldConstant);

  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    var names = [];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      names.push(th.textContent.trim());
      var button = document.createElement('button');
      button.type = 'button';
      button.title = 'sort by this column';
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener('click', function () { sortBy(table, col, th); });
    });
    /* on a phone a row becomes a card, each value after its column's name */
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      Array.prototype.forEach.call(tr.cells, function (td, col) { td.setAttribute('data-h', names[col] || ''); });
    });
  });
  /* every table's names (config keys in the claims' cells, the runs'
   * names, the keys of a run's config) wrap at their parts, never inside
   * one: "train.schedule.wa|rmup_steps" did in a narrow claims column */
  Array.prototype.forEach.call(document.querySelectorAll('table'), breakable);
  /* a table still wider than its box packs its cells closer before it
   * scrolls */
  function fit() {
    Array.prototype.forEach.call(document.querySelectorAll('.scroll > table'), function (t) {
      t.classList.remove('dense');
      if (t.offsetWidth > t.parentNode.clientWidth + 1) t.classList.add('dense');
    });
  }
  fit();
  window.addEventListener('resize', fit);

  /* A filter box (data-for=GROUP) holds a select per key (data-key); the
   * tables of the group show the rows whose cell in that key's column (th
   * data-key) has the chosen value (td data-k). A group may have several
   * boxes (above the table over seeds and above the runs): they agree. */
  function applyFilters(group) {
    var want = [];
    var box = document.querySelector('.filters[data-for="' + group + '"]');
    Array.prototype.forEach.call(box.querySelectorAll('select'), function (s) {
      /* '*' is every value; a value is '=' and the key's text ('=' alone: not set) */
      if (s.value !== '*') want.push([s.getAttribute('data-key'), s.value.slice(1)]);
    });
    var tables = document.querySelectorAll('table[data-group="' + group + '"]');
    Array.prototype.forEach.call(tables, function (table) {
      var cols = {};
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
        var k = th.getAttribute('data-key');
        if (k !== null) cols[k] = i;
      });
      var shown = 0, rows = table.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function (tr) {
        var keep = want.every(function (w) {
          if (!(w[0] in cols)) return true;
          var td = tr.cells[cols[w[0]]];
          return td && td.getAttribute('data-k') === w[1];
        });
        tr.hidden = !keep;
        if (keep) shown++;
      });
      var count = document.getElementById(table.id + '-count');
      if (count) count.textContent = shown + ' of ' + rows.length + ' rows shown';
    });
    (explorers[group] || []).forEach(function (e) { e.filter(want); });
  }

  Array.prototype.forEach.call(document.querySelectorAll('.filters select'), function (select) {
    select.addEventListener('change', function () {
      var group = select.closest('.filters').getAttribute('data-for');
      var twins = document.querySelectorAll('.filters[data-for="' + group + '"] select[data-key="' +
                                            select.getAttribute('data-key').replace(/["\\]/g, '\\$&') + '"]');
      Array.prototype.forEach.call(twins, function (t) { t.value = select.value; });
      applyFilters(group);
    });
  });

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
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
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
          var v = run.v[key];
          return alternatives.some(function (a) {
            return a === v || (/^\[.*\]$/.test(a) && a.slice(1, -1).split(/\s*,\s*/).indexOf(v) >= 0);
          });
        };
      }
      var range = /^(-?[\d.eE+-]*?)\.\.(-?[\d.eE+-]*)$/.exec(value);
      if (range) {
        var lo = range[1] === '' ? -Infinity : +range[1], hi = range[2] === '' ? Infinity : +range[2];
        return function (run) { var x = parseFloat(run.v[key]); return x >= lo && x <= hi; };
      }
      return function (run) { return run.v[key] === value; };
    }).filter(Boolean);
    return function (run) { return parts.every(function (f) { return f(run); }); };
  }

  function Explore(box) {
    var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
    /* a curve whose steps are those of the curve d places before holds d
     * in their place (curves.c) */
    data.curves.forEach(function (c, i) { if (typeof c[1] === 'number') c[1] = data.curves[i - c[1]][1]; });
    /* the units the numbers are in (the page's: % for errors and
     * accuracies), named beside them: " %", " nats", or nothing */
    function unitOf(list, i) { var u = (data[list] || [])[i]; return u ? (u === '%' ? ' %' : ' ' + u) : ''; }
    function tagUnit() { return unitOf('tag_units', +tag.value); }
    function metricUnit(m) { return unitOf('units', m); }
    var group = box.getAttribute('data-group');
    var self = this, keep = data.runs.map(function () { return true; });
    var zoom = null, hovered = -1, full = false, outside = [];
    /* the chart as wide as its box (up to 900 units), so that its labels
     * keep their size on a phone instead of shrinking with a 900-wide view */
    var W = width();
    function width() { return Math.max(340, Math.min(900, Math.round(box.clientWidth || 900))); }
    /* a colour per value of the key chosen to colour by (the first varied
     * key but the seed, at first): the runs that share it share a colour */
    var byKeys = data.varied.filter(function (k) { return k !== data.seed; });
    var cells = [], cellOf = [];
    function colourBy(k) {
      cells = [];
      cellOf = data.runs.map(function (run) {
        var label = k === undefined ? 'all runs' : data.keys[k] + '=' + run.v[k];
        if (cells.indexOf(label) < 0) cells.push(label);
        return cells.indexOf(label);
      });
    }
    colourBy(byKeys[0]);
    function colour(run) { return PALETTE[cellOf[run] % PALETTE.length]; }

    var controls = html('div', { 'class': 'controls' }, box);
    var tagBox = html('label', {}, controls, 'curve ');
    var tag = html('select', { 'class': 'tag' }, tagBox);
    data.tags.forEach(function (t, i) { html('option', { value: i }, tag, t); });
    var first = data.tags.indexOf('train/loss');
    tag.value = first >= 0 ? first : 0;
    var smoothBox = html('label', {}, controls, 'smoothing ');
    var smoothing = html('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: 0, 'class': 'smooth' },
                         smoothBox);
    var smoothText = html('output', {}, smoothBox, '0');
    var logBox = html('label', {}, controls);
    var log = html('input', { type: 'checkbox', 'class': 'log' }, logBox);
    logBox.appendChild(document.createTextNode(' log scale'));
    var byBox = html('label', {}, controls, 'colour by ');
    var by = html('select', { 'class': 'by' }, byBox);
    byKeys.forEach(function (k) { html('option', { value: k }, by, data.keys[k]); });
    if (!byKeys.length) byBox.hidden = true;
    var reset = html('button', { type: 'button', 'class': 'reset' }, controls, 'zoom out');
    var frame = html('div', { 'class': 'chartbox' }, box);
    /* the runs left outside the default range, and the way to see them */
    var away = html('p', { 'class': 'outliers', hidden: '' }, box);
    var chart = node('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, frame);
    var tip = html('div', { 'class': 'tip', hidden: '' }, frame);
    var legend = html('div', { 'class': 'legend' }, box);

    var pcHead = html('p', { 'class': 'controls' }, box, 'Parallel coordinates of the varied keys, each line a ' +
                      'run, coloured by ');
    var metric = html('select', { 'class': 'metric' }, pcHead);
    var numeric = data.metrics.filter(function (m, i) {
      return data.runs.some(function (r) { return r.m[i] !== null && isFinite(r.m[i]); });
    });
    numeric.forEach(function (m) { html('option', { value: data.metrics.indexOf(m) }, metric, m); });
    if (numeric.indexOf('final_test_error') >= 0) metric.value = data.metrics.indexOf('final_test_error');
    var pcBox = html('div', { 'class': 'pcbox' }, box);
    var pc = node('svg', { 'class': 'pc', viewBox: '0 0 900 300', role: 'img' }, pcBox);
    var pcLegend = html('p', { 'class': 'pclegend' }, box);
    var brushes = {}; /* an axis's index: [lo, hi] in its pixels, the runs kept by dragging on it */
    var count = html('p', { 'class': 'count' }, box);

    /* the drawn lines: per kept run with the tag, its steps and values */
    var drawn = [], scale = null;
    function lines() {
      var t = +tag.value, w = +smoothing.value, out = [];
      data.curves.forEach(function (c) {
        if (!keep[c[0]] || !brushed[c[0]]) return;
        c[2].forEach(function (series) {
          if (series[0] !== t) return;
          var ys = smooth(series[1], w);
          out.push({ run: c[0], x: c[1], y: ys, raw: series[1] });
        });
      });
      return out;
    }

    /* the range drawn: every point's when full, else the robust range's
     * (robustRange) points, the runs with points beyond it listed */
    function domain(ls) {
      var v = function (y) { return y === null || !isFinite(y) || (log.checked && y <= 0) ? null
                                                                                      : log.checked ? Math.log10(y) : y; };
      var fence = full ? null : robustRange(ls, v);
      var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      outside = [];
      ls.forEach(function (l) {
        var out = false;
        l.x.forEach(function (x, i) {
          var y = v(l.y[i]);
          if (y === null) return;
          x0 = Math.min(x0, x); x1 = Math.max(x1, x);
          if (fence && (y < fence[0] || y > fence[1])) { out = true; return; }
          y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        });
        if (out) outside.push(l);
      });
      if (!isFinite(x0) || !isFinite(y0)) return null;
      if (x1 === x0) x1 = x0 + 1;
      /* a constant (one learning rate): a band around it, not +-0.5 around 0.01 */
      if (y1 === y0) { var h = Math.abs(y0) * 0.1 || 0.5; y0 -= h; y1 += h; }
      var pad = (y1 - y0) * 0.04;
      return { x0: x0, x1: x1, y0: y0 - pad, y1: y1 + pad };
    }

    /* names the runs the range leaves out, with a button for the full range */
    function awayDraw() {
      while (away.firstChild) away.removeChild(away.firstChild);
      var runs = [];
      outside.forEach(function (l) { if (runs.indexOf(l.run) < 0) runs.push(l.run); });
      away.hidden = !runs.length && !full;
      if (away.hidden) return;
      if (full) {
        away.appendChild(document.createTextNode('The full range of every run. '));
      } else {
        var worst = runs.map(function (r) {
          var top = -Infinity, bottom = Infinity;
          outside.forEach(function (l) {
            if (l.run !== r) return;
            l.y.forEach(function (y) { if (y !== null && isFinite(y)) { top = Math.max(top, y); bottom = Math.min(bottom, y); } });
          });
          return data.runs[r].n + ' (' + fmt(bottom) + ' to ' + fmt(top) + tagUnit() + ')';
        });
        away.appendChild(document.createTextNode(runs.length + (runs.length === 1 ? ' run lies' : ' runs lie') +
          ' outside the range drawn, which fits the others: ' + worst.slice(0, 8).join(', ') +
          (worst.length > 8 ? ', ' : '. ')));
        if (worst.length > 8) {
          var more = html('details', { 'class': 'more' }, away);
          html('summary', {}, more, 'and ' + (worst.length - 8) + ' more');
          more.appendChild(document.createTextNode(worst.slice(8).join(', ') + '.'));
        }
      }
      var b = html('button', { type: 'button', 'class': 'fullrange' }, away, full ? 'fit the typical runs' : 'show the full range');
      b.addEventListener('click', function () { full = !full; zoom = null; draw(); });
    }

    function axes(d) {
      var g = node('g', { 'class': 'axes' }, chart);
      var yt = log.checked ? logTicks(d.y0, d.y1) : ticks(d.y0, d.y1, 6);
      yt.forEach(function (t) {
        var y = scale.y(t);
        node('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, 'class': 'grid' }, g);
        node('text', { x: M.l - 6, y: y + 4, 'text-anchor': 'end' }, g).textContent = fmt(log.checked ? Math.pow(10, t)
                                                                                                     : t);
      });
      ticks(d.x0, d.x1, Math.max(3, Math.round(W / 110))).forEach(function (t) {
        var x = scale.x(t);
        node('line', { x1: x, x2: x, y1: M.t, y2: H - M.b, 'class': 'grid' }, g);
        node('text', { x: x, y: H - M.b + 16, 'text-anchor': 'middle', 'class': 'xtick' }, g).textContent = fmt(t);
      });
      node('text', { x: W - M.r, y: H - 4, 'text-anchor': 'end' }, g).textContent = 'step';
      node('text', { x: M.l + 4, y: M.t + 14, 'class': 'yname' }, g).textContent =
        data.tags[+tag.value] + (tagUnit() ? ' (' + tagUnit().trim() + ')' : '');
      node('rect', { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, 'class': 'frame' }, g);
    }

    function draw() {
      while (chart.firstChild) chart.removeChild(chart.firstChild);
      W = width();
      chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
      drawn = lines();
      var d = domain(drawn);
      awayDraw();
      d = zoom || d;
      /* the range drawn, in the values' units, for a reader of the page's DOM (the browser test) */
      if (d) {
        chart.setAttribute('data-y0', log.checked ? Math.pow(10, d.y0) : d.y0);
        chart.setAttribute('data-y1', log.checked ? Math.pow(10, d.y1) : d.y1);
      }
      smoothText.textContent = (+smoothing.value).toFixed(2);
      if (!d) {
        scale = null;
        node('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, chart).textContent =
          'no run shown has this curve' + (log.checked ? ' with values above zero' : '');
        return;
      }
      scale = {
        d: d,
        x: function (x) { return M.l + (x - d.x0) / (d.x1 - d.x0) * (W - M.l - M.r); },
        y: function (y) { return H - M.b - (y - d.y0) / (d.y1 - d.y0) * (H - M.t - M.b); },
        v: function (v) { return log.checked ? (v > 0 ? Math.log10(v) : NaN) : v; }
      };
      axes(d);
      var clip = group + '-clip';
      node('rect', { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b },
           node('clipPath', { id: clip }, node('defs', {}, chart)));
      var g = node('g', { 'clip-path': 'url(#' + clip + ')' }, chart);
      drawn.forEach(function (l, i) {
        var path = '', pen = 'M';
        l.x.forEach(function (x, j) {
          var y = scale.v(l.y[j]);
          if (y === null || !isFinite(y)) { pen = 'M'; return; }
          path += pen + scale.x(x).toFixed(1) + ' ' + scale.y(y).toFixed(1);
          pen = 'L';
        });
        l.path = node('path', { d: path, stroke: colour(l.run), 'class': 'line', 'data-line': i }, g);
      });
      hovered = -1;
    }

    function legendDraw() {
      while (legend.firstChild) legend.removeChild(legend.firstChild);
      cells.forEach(function (label, c) {
        var n = 0;
        keep.forEach(function (k, run) { if (k && cellOf[run] === c) n++; });
        if (!n) return;
        var item = html('span', {}, legend);
        html('i', { style: 'background:' + PALETTE[c % PALETTE.length] }, item);
        item.appendChild(document.createTextNode(label + ' (' + n + ')'));
      });
    }

    /* the viewBox point under a mouse event */
    function at(ev) {
      var p = chart.createSVGPoint();
      p.x = ev.clientX; p.y = ev.clientY;
      return p.matrixTransform(chart.getScreenCTM().inverse());
    }

    /* the drawn point nearest to the mouse, within 40 units */
    function nearest(p) {
      var best = null, bestD = 40 * 40;
      drawn.forEach(function (l, i) {
        l.x.forEach(function (x, j) {
          var y = scale.v(l.y[j]);
          if (y === null || !isFinite(y)) return;
          var dx = scale.x(x) - p.x, dy = scale.y(y) - p.y, dd = dx * dx + dy * dy;
          if (dd < bestD) { bestD = dd; best = { line: i, point: j }; }
        });
      });
      return best;
    }

    function hover(ev) {
      if (!scale) return;
      var p = at(ev), hit = nearest(p);
      if (hovered >= 0 && drawn[hovered]) drawn[hovered].path.classList.remove('hot');
      var mark = chart.querySelector('.mark');
      if (mark) mark.parentNode.removeChild(mark);
      if (!hit) { tip.hidden = true; hovered = -1; return; }
      var l = drawn[hit.line], x = l.x[hit.point], y = l.y[hit.point], raw = l.raw[hit.point];
      hovered = hit.line;
      l.path.classList.add('hot');
      l.path.parentNode.appendChild(l.path);
      node('circle', { cx: scale.x(x), cy: scale.y(scale.v(y)), r: 4, 'class': 'mark', fill: colour(l.run) }, chart);
      tip.textContent = '';
      html('strong', {}, tip, data.runs[l.run].n);
      tip.appendChild(document.createTextNode(' step ' + x + ': ' + data.tags[+tag.value] + ' ' + fmt(y) + tagUnit() +
                                              (+smoothing.value > 0 ? ' (smoothed; ' + fmt(raw) + tagUnit() + ' as logged)' : '')));
      tip.hidden = false;
      var r = frame.getBoundingClientRect();
      tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - tip.offsetWidth - 4) + 'px';
      tip.style.top = (ev.clientY - r.top + 14) + 'px';
    }

    /* drag a box: zoom to it; double-click: zoom out */
    var drag = null, band = null;
    chart.addEventListener('mousedown', function (ev) {
      if (!scale || ev.button !== 0) return;
      drag = at(ev);
      band = node('rect', { 'class': 'band', x: drag.x, y: drag.y, width: 0, height: 0 }, chart);
      ev.preventDefault();
    });
    chart.addEventListener('mousemove', function (ev) {
      if (!drag) return hover(ev);
      var p = at(ev);
      band.setAttribute('x', Math.min(p.x, drag.x)); band.setAttribute('width', Math.abs(p.x - drag.x));
      band.setAttribute('y', Math.min(p.y, drag.y)); band.setAttribute('height', Math.abs(p.y - drag.y));
    });
    window.addEventListener('mouseup', function (ev) {
      if (!drag) return;
      var p = at(ev), s = scale, from = drag;
      drag = null;
      band.parentNode.removeChild(band);
      if (Math.abs(p.x - from.x) < 6 || Math.abs(p.y - from.y) < 6) return;
      function dx(x) { return s.d.x0 + (x - M.l) / (W - M.l - M.r) * (s.d.x1 - s.d.x0); }
      function dy(y) { return s.d.y0 + (H - M.b - y) / (H - M.t - M.b) * (s.d.y1 - s.d.y0); }
      zoom = { x0: dx(Math.min(p.x, from.x)), x1: dx(Math.max(p.x, from.x)), y0: dy(Math.max(p.y, from.y)),
               y1: dy(Math.min(p.y, from.y)) };
      draw();
    });
    chart.addEventListener('mouseleave', function () { tip.hidden = true; });
    chart.addEventListener('dblclick', function () { zoom = null; draw(); });
    reset.addEventListener('click', function () { zoom = null; draw(); });
    tag.addEventListener('change', function () { zoom = null; full = false; draw(); });
    var wide = W;
    window.addEventListener('resize', function () { if (width() !== wide) { wide = width(); draw(); } });
    smoothing.addEventListener('input', draw);
    log.addEventListener('change', function () { zoom = null; draw(); });
    by.addEventListener('change', function () { colourBy(+by.value); draw(); legendDraw(); });

    /* parallel coordinates: an axis per varied key but the seed, then the metric */
    /* parallel coordinates: an axis per varied key but the seed, then the
     * metric. Dragging along an axis keeps the runs whose line crosses it
     * in the dragged range (several axes: all of them); a click on an axis
     * clears its range. The curves above draw the runs kept. */
    var PH = 300, PT = 34, PB = PH - 16, pcAxes = [];
    function pcDraw() {
      while (pc.firstChild) pc.removeChild(pc.firstChild);
      var m = +metric.value;
      var axesKeys = data.varied.filter(function (k) { return k !== data.seed; });
      var values = data.runs.map(function (r) { return r.m[m]; });
      var finite = values.filter(function (v, i) { return keep[i] && v !== null && isFinite(v); });
      var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
      if (!(hi > lo)) { lo = (isFinite(lo) ? lo : 0) - 0.5; hi = lo + 1; }
      var n = axesKeys.length + 1, xs = [];
      for (var i = 0; i < n; i++) xs.push(n === 1 ? 450 : 70 + i * 760 / (n - 1));
      var axes = axesKeys.map(function (k) {
        var vals = [];
        data.runs.forEach(function (r) { if (vals.indexOf(r.v[k]) < 0) vals.push(r.v[k]); });
        var numericKey = vals.every(function (v) { return v !== '' && isFinite(+v); });
        vals.sort(numericKey ? function (a, b) { return a - b; } : undefined);
        return { name: data.keys[k], key: k, values: vals };
      });
      function y(a, v) {
        if (!a) return PB - (v - lo) / (hi - lo) * (PB - PT);
        var i = a.values.indexOf(v);
        return a.values.length === 1 ? (PT + PB) / 2 : PB - i / (a.values.length - 1) * (PB - PT);
      }
      pcAxes = [];
      data.runs.forEach(function (r, run) {
        if (!keep[run]) return;
        var v = values[run], ok = v !== null && isFinite(v);
        var ys = axes.map(function (a) { return y(a, r.v[a.key]); });
        ys.push(ok ? y(null, v) : null);
        var pts = ys.map(function (yy, i) { return yy === null ? null : xs[i] + ',' + yy.toFixed(1); });
        var t = ok ? (v - lo) / (hi - lo) : 0;
        var line = node('polyline', { points: pts.filter(Boolean).join(' '), 'class': ok ? 'pcline' : 'pcline missing',
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
        if (brushes[i]) node('rect', { x: xs[i] - 9, y: brushes[i][0], width: 18, height: brushes[i][1] - brushes[i][0],
                                       'class': 'brush' }, g);
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
    var brushed = data.runs.map(function () { return true; });
    function pcBrushed() {
      var any = Object.keys(brushes).length > 0;
      brushed = data.runs.map(function () { return true; });
      pcAxes.forEach(function (p) {
        var inside = Object.keys(brushes).every(function (i) {
          var yy = p[1][+i];
          return yy !== null && yy >= brushes[i][0] - 0.5 && yy <= brushes[i][1] + 0.5;
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
      brushes[brushing.axis] = [Math.min(y, brushing.from), Math.max(y, brushing.from)];
      brushing.moved = Math.abs(y - brushing.from) >= 3;
      pcDraw();
    });
    window.addEventListener('mouseup', function () {
      if (!brushing) return;
      if (!brushing.moved) delete brushes[brushing.axis];
      brushing = null;
      pcDraw();
      self.redraw(true);
    });

    /* light to dark over the metric's range */
    function ramp(t) {
      var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
      var f = Math.max(0, Math.min(1, t)) * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(f));
      var c = stops[i].map(function (a, j) { return Math.round(a + (stops[i + 1][j] - a) * (f - i)); });
      return 'rgb(' + c.join(',') + ')';
    }
    metric.addEventListener('change', function () { brushes = {}; pcDraw(); self.redraw(true); });

    /* the claims whose cells hold no run shown dim */
    function claims() {
      var table = document.getElementById(group + '-verdicttable');
      if (!table) return;
      var dimmed = 0, rows = table.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function (tr) {
        var texts = (tr.getAttribute('data-cells') || '').split('\t').filter(Boolean);
        var inside = !texts.length || texts.some(function (t) {
          var test = cellTest(t, data.keys);
          return data.runs.some(function (r, i) { return keep[i] && test(r); });
        });
        tr.classList.toggle('outside', !inside);
        if (!inside) dimmed++;
      });
      var c = document.getElementById(group + '-verdicttable-count');
      if (c) c.textContent = dimmed ? (rows.length - dimmed) + ' of ' + rows.length + ' claims concern the runs ' +
                                      'shown; the others are dimmed' : '';
    }

    this.filter = function (want) {
      keep = data.runs.map(function (r) {
        return want.every(function (w) {
          if (w[0] === 'status') return r.s === w[1];
          var k = data.keys.indexOf(w[0]);
          return k < 0 || r.v[k] === w[1];
        });
      });
      zoom = null;
      brushes = {};
      self.redraw();
      claims();
    };
    this.redraw = function (fromPc) {
      if (!fromPc) pcDraw();
      draw();
      legendDraw();
      var n = keep.filter(Boolean).length, b = keep.filter(function (k, i) { return k && brushed[i]; }).length;
      count.textContent = n + ' of ' + data.runs.length + ' runs drawn' +
        (b < n ? '; ' + b + ' of them within the ranges dragged on the parallel coordinates' : '');
    };
    this.redraw();
    (explorers[group] = explorers[group] || []).push(this);
  }

  Array.prototype.forEach.call(document.querySelectorAll('.explore'), function (box) { new Explore(box); });

  /* a table or figure wider than the screen says so: on a phone the
   * columns past the edge (the numbers, often) are otherwise out of sight */
  function markWide() {
    Array.prototype.forEach.call(document.querySelectorAll('.scroll, .figscroll'), function (box) {
      box.classList.toggle('wide', box.scrollWidth > box.clientWidth + 1);
    });
  }
  window.addEventListener('resize', markWide);
  markWide();

  /* a link to a run's details opens them */
  function openTarget() {
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target && target.tagName === 'DETAILS') target.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();

  /* a live page (normlab report --watch) reloads itself while the sweep
   * runs; the filters chosen and the place read survive the reload */
  var memo = 'normlab-report:' + location.pathname;
  var kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(memo) || 'null'); } catch (e) { kept = null; }
  if (kept) {
    sessionStorage.removeItem(memo);
    Object.keys(kept.filters || {}).forEach(function (group) {
      var any = null;
      Object.keys(kept.filters[group]).forEach(function (key) {
        var box = document.querySelectorAll('.filters[data-for="' + group + '"] select');
        Array.prototype.forEach.call(box, function (s) {
          if (s.getAttribute('data-key') === key) { s.value = kept.filters[group][key]; any = s; }
        });
      });
      if (any) applyFilters(group);
    });
    window.scrollTo(0, kept.y || 0);
  }
  var live = +document.body.getAttribute('data-live');
  if (live > 0) {
    window.setTimeout(function () {
      var filters = {};
      Array.prototype.forEach.call(document.querySelectorAll('.filters select'), function (s) {
        var group = s.closest('.filters').getAttribute('data-for');
        (filters[group] = filters[group] || {})[s.getAttribute('data-key')] = s.value;
      });
      try { sessionStorage.setItem(memo, JSON.stringify({ filters: filters, y: window.scrollY })); } catch (e) {}
      location.reload();
    }, live * 1000);
  }

  /* printing shows every run's details */
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
  });
})();
