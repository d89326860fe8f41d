/* normlab report's script: sorts a table by the column whose header is
 * clicked, filters a section's tables, curves and claims by the values of
 * its varied keys, draws the runs' curves (hover, smoothing, zoom, log
 * scale) and their parallel coordinates from the section's JSON, and
 * reloads a live page. No library, nothing fetched. Built into the binary
 * with report.css. */
(function () {
  'use strict';
  var explorers = {}; /* a section's id: its explore views, told of each filter */

  /* a cell's sort key: its data-v number when it has one (NaN sorts last), else its text */
  function sortKey(td) {
    if (!td) return null;
    var v = td.getAttribute('data-v');
    if (v !== null) {
      var x = parseFloat(v);
      return isNaN(x) ? null : x;
    }
    var t = td.textContent.trim();
    return t === '' ? null : t;
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

  /* long names may break after their _ and . (final_test_error, model.norm.type): a
   * column is as wide as its numbers, not its name */
  function breakable(e) {
    Array.prototype.slice.call(e.childNodes).forEach(function (n) {
      if (n.nodeType !== 3 || !/[_.]\w/.test(n.nodeValue)) return;
      n.nodeValue.split(/(?<=[_.])(?=\w)/).forEach(function (piece, i) {
        if (i) e.insertBefore(document.createElement('wbr'), n);
        e.insertBefore(document.createTextNode(piece), n);
      });
      e.removeChild(n);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    var names = [];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      names.push(th.textContent.trim());
      var button = document.createElement('button');
      button.type = 'button';
      button.title = 'sort by this column';
      while (th.firstChild) button.appendChild(th.firstChild);
      breakable(button);
      th.appendChild(button);
      button.addEventListener('click', function () { sortBy(table, col, th); });
    });
    /* on a phone a row becomes a card, each value after its column's name */
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      Array.prototype.forEach.call(tr.cells, function (td, col) {
        td.setAttribute('data-h', names[col] || '');
        if (td.classList.contains('name')) breakable(td.querySelector('a') || td);
      });
    });
  });

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
      if (/^\[.*\]$/.test(value) || value.indexOf('|') >= 0) {
        var list = value.replace(/^\[|\]$/g, '').split(/\s*[|,]\s*/);
        return function (run) { return list.indexOf(run.v[key]) >= 0; };
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
    var group = box.getAttribute('data-group');
    var self = this, keep = data.runs.map(function () { return true; });
    var zoom = null, hovered = -1;
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
    var pc = node('svg', { 'class': 'pc', viewBox: '0 0 ' + W + ' 300', role: 'img' }, html('div', {}, box));
    var count = html('p', { 'class': 'count' }, box);

    /* the drawn lines: per kept run with the tag, its steps and values */
    var drawn = [], scale = null;
    function lines() {
      var t = +tag.value, w = +smoothing.value, out = [];
      data.curves.forEach(function (c) {
        if (!keep[c[0]]) return;
        c[2].forEach(function (series) {
          if (series[0] !== t) return;
          var ys = smooth(series[1], w);
          out.push({ run: c[0], x: c[1], y: ys, raw: series[1] });
        });
      });
      return out;
    }

    function domain(ls) {
      var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      ls.forEach(function (l) {
        l.x.forEach(function (x, i) {
          var y = l.y[i];
          if (y === null || !isFinite(y) || (log.checked && y <= 0)) return;
          x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        });
      });
      if (!isFinite(x0)) return null;
      if (x1 === x0) x1 = x0 + 1;
      if (log.checked) { y0 = Math.log10(y0); y1 = Math.log10(y1); }
      if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
      var pad = (y1 - y0) * 0.04;
      return { x0: x0, x1: x1, y0: y0 - pad, y1: y1 + pad };
    }

    function axes(d) {
      var g = node('g', { 'class': 'axes' }, chart);
      var yt = log.checked ? ticks(d.y0, d.y1, 5).filter(function (t) { return d.y1 - d.y0 < 1 || t % 1 === 0; })
                           : ticks(d.y0, d.y1, 6);
      yt.forEach(function (t) {
        var y = scale.y(t);
        node('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, 'class': 'grid' }, g);
        node('text', { x: M.l - 6, y: y + 4, 'text-anchor': 'end' }, g).textContent = fmt(log.checked ? Math.pow(10, t)
                                                                                                     : t);
      });
      ticks(d.x0, d.x1, 8).forEach(function (t) {
        var x = scale.x(t);
        node('line', { x1: x, x2: x, y1: M.t, y2: H - M.b, 'class': 'grid' }, g);
        node('text', { x: x, y: H - M.b + 16, 'text-anchor': 'middle', 'class': 'xtick' }, g).textContent = fmt(t);
      });
      node('text', { x: W - M.r, y: H - 4, 'text-anchor': 'end' }, g).textContent = 'step';
      node('rect', { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, 'class': 'frame' }, g);
    }

    function draw() {
      while (chart.firstChild) chart.removeChild(chart.firstChild);
      drawn = lines();
      var d = zoom || domain(drawn);
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
      tip.appendChild(document.createTextNode(' step ' + x + ': ' + data.tags[+tag.value] + ' ' + fmt(y) +
                                              (+smoothing.value > 0 ? ' (smoothed; ' + fmt(raw) + ' as logged)' : '')));
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
    tag.addEventListener('change', function () { zoom = null; draw(); });
    smoothing.addEventListener('input', draw);
    log.addEventListener('change', function () { zoom = null; draw(); });
    by.addEventListener('change', function () { colourBy(+by.value); draw(); legendDraw(); });

    /* parallel coordinates: an axis per varied key but the seed, then the metric */
    function pcDraw() {
      while (pc.firstChild) pc.removeChild(pc.firstChild);
      var m = +metric.value, PH = 300, top = 34, bottom = PH - 16;
      var axesKeys = data.varied.filter(function (k) { return k !== data.seed; });
      var values = data.runs.map(function (r) { return r.m[m]; });
      var finite = values.filter(function (v, i) { return keep[i] && v !== null && isFinite(v); });
      var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
      if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
      var n = axesKeys.length + 1, xs = [];
      for (var i = 0; i < n; i++) xs.push(70 + i * (W - 140) / Math.max(1, n - 1));
      var axes = axesKeys.map(function (k) {
        var vals = [];
        data.runs.forEach(function (r) { if (vals.indexOf(r.v[k]) < 0) vals.push(r.v[k]); });
        var numericKey = vals.every(function (v) { return v !== '' && isFinite(+v); });
        vals.sort(numericKey ? function (a, b) { return a - b; } : undefined);
        return { name: data.keys[k], key: k, values: vals };
      });
      function y(a, v) {
        if (!a) return bottom - (v - lo) / (hi - lo) * (bottom - top);
        var i = a.values.indexOf(v);
        return a.values.length === 1 ? (top + bottom) / 2 : bottom - i / (a.values.length - 1) * (bottom - top);
      }
      data.runs.forEach(function (r, run) {
        if (!keep[run]) return;
        var v = values[run], ok = v !== null && isFinite(v);
        var pts = axes.map(function (a, i) { return xs[i] + ',' + y(a, r.v[a.key]).toFixed(1); });
        if (ok) pts.push(xs[n - 1] + ',' + y(null, v).toFixed(1));
        var t = ok ? (v - lo) / (hi - lo) : 0;
        var line = node('polyline', { points: pts.join(' '), 'class': ok ? 'pcline' : 'pcline missing',
                                      stroke: ok ? ramp(t) : '#999' }, pc);
        node('title', {}, line).textContent = r.n + ': ' + data.metrics[m] + ' ' + (ok ? fmt(v) : 'none');
      });
      axes.concat([null]).forEach(function (a, i) {
        var g = node('g', { 'class': 'pcaxis' }, pc);
        node('line', { x1: xs[i], x2: xs[i], y1: top, y2: bottom }, g);
        node('text', { x: xs[i], y: 14, 'text-anchor': 'middle', 'class': 'pcname' }, g).textContent =
          a ? a.name : data.metrics[m];
        (a ? a.values : ticks(lo, hi, 5)).forEach(function (v) {
          node('text', { x: xs[i] + 5, y: y(a, v) + 4 }, g).textContent = a ? (v === '' ? '(not set)' : v) : fmt(v);
        });
      });
    }

    /* light to dark over the metric's range */
    function ramp(t) {
      var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
      var f = Math.max(0, Math.min(1, t)) * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(f));
      var c = stops[i].map(function (a, j) { return Math.round(a + (stops[i + 1][j] - a) * (f - i)); });
      return 'rgb(' + c.join(',') + ')';
    }
    metric.addEventListener('change', pcDraw);

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
      self.redraw();
      claims();
    };
    this.redraw = function () {
      draw();
      legendDraw();
      pcDraw();
      var n = keep.filter(Boolean).length;
      count.textContent = n + ' of ' + data.runs.length + ' runs drawn';
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
