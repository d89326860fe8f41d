/* normlab report's script: sorts a table by the column whose header is
 * clicked, filters a section's tables, curves and claims by the values of
 * its varied keys, draws the runs' curves (hover, smoothing, zoom, log
 * scale; a mean over seeds or a key's runs with a min-max band; runs
 * switched off or kept by a regular expression), a small chart per
 * curve, their parallel coordinates and a final metric against a key from
 * the section's JSON, keeps that view in the URL's fragment, and reloads
 * a live page. No library, nothing fetched. Built into the binary
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

  /* the runs' varied keys, sorted: by value when every one is a number */
  function distinctValues(runs, k) {
    var vals = [];
    runs.forEach(function (r) { if (vals.indexOf(r.v[k]) < 0) vals.push(r.v[k]); });
    var numericKey = vals.every(function (v) { return v !== '' && isFinite(+v); });
    vals.sort(numericKey ? function (a, b) { return a - b; } : undefined);
    return { values: vals, numeric: numericKey };
  }

  /* the view (filter, runs switched off, grouping, smoothing, metric,
   * zoom, ranges dragged) kept in the URL's fragment,
   * "#view&s1.tag=test%2Floss&s1.re=...": opened with it, the page shows
   * that view again. A fragment without "view" is an anchor (a run's
   * details), left alone. */
  var VIEW = (function () {
    var h = location.hash.slice(1);
    return /^view(&|$)/.test(h) ? new URLSearchParams(h.slice(4)) : null;
  })();
  var viewTimer = null;
  /* written a moment after the last change: a dragged slider would
   * otherwise replace the history entry at every step */
  function saveView() {
    window.clearTimeout(viewTimer);
    viewTimer = window.setTimeout(function () {
      var p = new URLSearchParams();
      Object.keys(explorers).forEach(function (g) { explorers[g].forEach(function (e) { e.state(p); }); });
      var s = p.toString(), hash = '#view' + (s ? '&' + s : '');
      /* the first view over an anchor (a run's details) leaves the anchor */
      if (!s && !/^#view(&|$)/.test(location.hash)) return;
      if (location.hash !== hash) history.replaceState(history.state, '', hash);
    }, 50);
  }

  /* the mean and the lowest and highest of each step's values, over the
   * lines ls (a group's runs): [steps, means, lows, highs] */
  function pool(ls) {
    var at = {};
    ls.forEach(function (l) {
      l.x.forEach(function (x, i) {
        var y = l.y[i];
        if (y !== null && isFinite(y)) (at[x] = at[x] || []).push(y);
      });
    });
    var xs = Object.keys(at).map(Number).sort(function (a, b) { return a - b; });
    var mean = [], lo = [], hi = [];
    xs.forEach(function (x) {
      var ys = at[x];
      mean.push(ys.reduce(function (a, b) { return a + b; }, 0) / ys.length);
      lo.push(Math.min.apply(null, ys));
      hi.push(Math.max.apply(null, ys));
    });
    return [xs, mean, lo, hi];
  }

  function Explore(box) {
    var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
    /* a curve whose steps are those of the curve d places before holds d
     * in their place (curves.c) */
    data.curves.forEach(function (c, i) { if (typeof c[1] === 'number') c[1] = data.curves[i - c[1]][1]; });
    /* the units the numbers are in (the page's: % for errors and
     * accuracies), named beside them: " %", " nats", or nothing */
    function unitOf(list, i) { var u = (data[list] || [])[i]; return u ? (u === '%' ? ' %' : ' ' + u) : ''; }
    function tagUnit(t) { return unitOf('tag_units', t === undefined ? +tag.value : t); }
    function metricUnit(m) { return unitOf('units', m); }
    var group = box.getAttribute('data-group');
    function param(name) { return VIEW ? VIEW.get(group + '.' + name) : null; }
    var self = this, keep = data.runs.map(function () { return true; });
    /* the runs switched off (legend, runs table) and those the regular expression keeps */
    var off = data.runs.map(function () { return false; });
    var match = data.runs.map(function () { return true; });
    /* the runs the parallel coordinates' dragged ranges keep */
    var brushed = data.runs.map(function () { return true; });
    function listed(run) { return keep[run] && match[run]; }
    function shown(run) { return listed(run) && brushed[run] && !off[run]; }
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

    /* the groups a mean is drawn of: '' none (a curve per run), '~seed'
     * the runs equal in every varied key but the seed, or a key's index:
     * the runs sharing its value */
    var groups = [], groupOf = [];
    function grouping() { return groupBy.value; }
    function regroup() {
      var g = grouping(), keys = g === '~seed' ? byKeys : g === '' ? [] : [+g];
      groups = [];
      groupOf = data.runs.map(function (run) {
        var label = keys.map(function (k) { return data.keys[k] + '=' + run.v[k]; }).join(', ') || 'all runs';
        if (groups.indexOf(label) < 0) groups.push(label);
        return groups.indexOf(label);
      });
    }

    var controls = html('div', { 'class': 'controls' }, box);
    var tagBox = html('label', {}, controls, 'curve ');
    var tag = html('select', { 'class': 'tag' }, tagBox);
    data.tags.forEach(function (t, i) { html('option', { value: i }, tag, t); });
    /* the sweep's own metric (the one its tables lead with: a language
     * model's loss, a classifier's error) first, as a curve: test/loss,
     * test/error or, not logged, its complement test/accuracy */
    var lead = data.lead || 'final_test_error';
    function leadTag() {
      var name = lead.replace(/^(final|best)_/, '').replace('_', '/');
      var tries = [name, name.replace(/error$/, 'accuracy'), 'train/loss'];
      for (var i = 0; i < tries.length; i++) if (data.tags.indexOf(tries[i]) >= 0) return data.tags.indexOf(tries[i]);
      return 0;
    }
    tag.value = leadTag();
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
    var groupBox = html('label', {}, controls, 'mean of ');
    var groupBy = html('select', { 'class': 'group' }, groupBox);
    html('option', { value: '' }, groupBy, 'no mean: a curve per run');
    if (data.seed >= 0 && data.varied.indexOf(data.seed) >= 0 && byKeys.length)
      html('option', { value: '~seed' }, groupBy, 'the seeds of each cell (every key but ' + data.keys[data.seed] + ')');
    data.varied.forEach(function (k) {
      if (k !== data.seed) html('option', { value: k }, groupBy, 'the runs sharing their ' + data.keys[k]);
    });
    if (!data.varied.length) groupBox.hidden = true;
    var reset = html('button', { type: 'button', 'class': 'reset' }, controls, 'zoom out');
    var reBox = html('div', { 'class': 'controls' }, box);
    var reLabel = html('label', {}, reBox, 'runs matching ');
    var re = html('input', { type: 'text', 'class': 're', spellcheck: 'false', size: 28,
                             placeholder: 'a regular expression',
                             title: 'a regular expression, case-insensitive, tried on each run\'s name and each ' +
                                    'key=value it has; empty: every run' }, reLabel);
    var reSays = html('span', { 'class': 'resays', role: 'status', 'aria-live': 'polite' }, reBox);
    re.setAttribute('aria-describedby', group + '-resays');
    reSays.id = group + '-resays';
    html('span', { 'class': 'small' }, reBox, 'Click a legend entry, or a run\'s box in the runs table, to switch ' +
         'its curves off or on.');
    var note = html('p', { 'class': 'groupnote' }, box);
    var frame = html('div', { 'class': 'chartbox' }, box);
    /* the runs left outside the default range, and the way to see them */
    var away = html('p', { 'class': 'outliers', hidden: '' }, box);
    var chart = node('svg', { 'class': 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, frame);
    var tip = html('div', { 'class': 'tip', hidden: '' }, frame);
    var legend = html('div', { 'class': 'legend', role: 'group', 'aria-label': 'switch curves off or on' }, box);
    html('p', { 'class': 'controls' }, box, 'Every curve, a chart each (click a name to draw it large above):');
    var multiples = html('div', { 'class': 'multiples' }, box);
    /* the tags some run logged a number of: a column left empty (a test
     * split's grad_norm) gets no chart */
    var logged = data.tags.map(function () { return false; });
    data.curves.forEach(function (c) {
      c[2].forEach(function (s) { logged[s[0]] = logged[s[0]] || s[1].some(function (y) { return y !== null; }); });
    });
    var smalls = data.tags.map(function (t, i) {
      if (!logged[i]) return null;
      var fig = html('div', { 'class': 'mini' }, multiples);
      var cap = html('div', { 'class': 'minicap' }, fig);
      var pick = html('button', { type: 'button', 'class': 'pick', title: 'draw ' + t + ' in the chart above' }, cap,
                      t + (tagUnit(i) ? ' (' + tagUnit(i).trim() + ')' : ''));
      pick.addEventListener('click', function () {
        tag.value = i; zoom = null; full = false; draw(); saveView();
        frame.scrollIntoView({ block: 'nearest' });
      });
      return node('svg', { 'class': 'minichart', viewBox: '0 0 300 190', role: 'img', 'aria-label': t + ' of the runs shown',
                           'data-tag': t }, fig);
    });

    /* the drawn lines of tag t: per run shown that has it, its steps and
     * values; grouped, per group its mean and the band of its runs */
    var drawn = [], scale = null;
    function lines(t) {
      var w = +smoothing.value, out = [];
      data.curves.forEach(function (c) {
        if (!shown(c[0])) return;
        c[2].forEach(function (series) {
          if (series[0] !== t) return;
          out.push({ run: c[0], x: c[1], y: smooth(series[1], w), raw: series[1], name: data.runs[c[0]].n,
                     colour: colour(c[0]) });
        });
      });
      if (grouping() === '') return out;
      var members = groups.map(function () { return []; });
      out.forEach(function (l) { members[groupOf[l.run]].push(l); });
      var pooled = [];
      members.forEach(function (ls, g) {
        if (!ls.length) return;
        var p = pool(ls), raw = pool(ls.map(function (l) { return { x: l.x, y: l.raw }; }));
        pooled.push({ group: g, runs: ls.map(function (l) { return l.run; }), x: p[0], y: p[1], lo: p[2], hi: p[3],
                      raw: raw[1], name: groups[g], colour: PALETTE[g % PALETTE.length] });
      });
      return pooled;
    }

    /* a line that went wrong: of a run the sweep calls diverged, or one
     * whose values end in NaN. The default range fits the others, were
     * they only a few: a sweep of learning rates where most runs blow up
     * to 1e22 draws the few that trained. */
    function wrong(l) {
      var runs = l.runs || [l.run];
      if (runs.some(function (r) { return data.runs[r].s === 'diverged'; })) return true;
      var last = l.raw[l.raw.length - 1];
      return (last === null || !isFinite(last)) && l.raw.some(function (y) { return y !== null && isFinite(y); });
    }

    /* the range drawn: every point's when full, else the robust range's
     * (robustRange) of the lines that did not go wrong, the lines with
     * points beyond it listed (d.outside) */
    function domain(ls) {
      var v = function (y) { return y === null || !isFinite(y) || (log.checked && y <= 0) ? null
                                                                                      : log.checked ? Math.log10(y) : y; };
      var fence = null;
      if (!full) {
        var fine = ls.filter(function (l) { return !wrong(l); });
        fence = robustRange(fine.length ? fine : ls, v);
        if (!fence && fine.length && fine.length < ls.length) {
          /* too few to tell outliers among: the range of the lines that went right */
          fence = [Infinity, -Infinity];
          fine.forEach(function (l) {
            l.y.forEach(function (y) { var t = v(y); if (t !== null) { fence[0] = Math.min(fence[0], t); fence[1] = Math.max(fence[1], t); } });
          });
          if (!(fence[1] >= fence[0])) fence = null;
        }
      }
      var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, out = [];
      ls.forEach(function (l) {
        var beyond = false;
        l.x.forEach(function (x, i) {
          var y = v(l.y[i]);
          if (y === null) return;
          x0 = Math.min(x0, x); x1 = Math.max(x1, x);
          if (fence && (y < fence[0] || y > fence[1])) { beyond = true; return; }
          y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        });
        if (beyond) out.push(l);
      });
      if (!isFinite(x0) || !isFinite(y0)) return null;
      if (x1 === x0) x1 = x0 + 1;
      /* a constant (one learning rate, its smoothing's rounding aside): a
       * band around it, not +-0.5 around 0.01 */
      if (y1 - y0 <= Math.abs(y0) * 1e-9) { var h = Math.abs(y0) * 0.1 || 0.5; y0 -= h; y1 += h; }
      var pad = (y1 - y0) * 0.04;
      return { x0: x0, x1: x1, y0: y0 - pad, y1: y1 + pad, outside: out };
    }

    /* names the runs the range leaves out, with a button for the full range */
    function awayDraw() {
      while (away.firstChild) away.removeChild(away.firstChild);
      var names = [], worst = [];
      outside.forEach(function (l) {
        var top = -Infinity, bottom = Infinity, at = names.indexOf(l.name);
        l.y.forEach(function (y) { if (y !== null && isFinite(y)) { top = Math.max(top, y); bottom = Math.min(bottom, y); } });
        if (at < 0) { names.push(l.name); worst.push([bottom, top]); return; }
        worst[at] = [Math.min(worst[at][0], bottom), Math.max(worst[at][1], top)];
      });
      away.hidden = !names.length && !full;
      if (away.hidden) return;
      if (full) {
        away.appendChild(document.createTextNode('The full range of every run. '));
      } else {
        worst = names.map(function (n, i) { return n + ' (' + fmt(worst[i][0]) + ' to ' + fmt(worst[i][1]) + tagUnit() + ')'; });
        away.appendChild(document.createTextNode(names.length + (grouping() ? (names.length === 1 ? ' mean lies' : ' means lie')
                                                                            : (names.length === 1 ? ' run lies' : ' runs lie')) +
          ' outside the range drawn, which fits the others: ' + worst.slice(0, 8).join(', ') +
          (worst.length > 8 ? ', ' : '. ')));
        if (worst.length > 8) {
          var more = html('details', { 'class': 'more' }, away);
          html('summary', {}, more, 'and ' + (worst.length - 8) + ' more');
          more.appendChild(document.createTextNode(worst.slice(8).join(', ') + '.'));
        }
      }
      var b = html('button', { type: 'button', 'class': 'fullrange' }, away, full ? 'fit the typical runs' : 'show the full range');
      b.addEventListener('click', function () { full = !full; zoom = null; draw(); saveView(); });
    }

    /* the lines ls of tag t in svg, w x h with margins m, over the domain
     * d: axes, a band per group, a path per line. Returns the scale. */
    function render(svg, ls, d, t, w, h, m, id) {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
      /* the range drawn, in the values' units, for a reader of the page's DOM (the browser test) */
      if (d) {
        svg.setAttribute('data-y0', log.checked ? Math.pow(10, d.y0) : d.y0);
        svg.setAttribute('data-y1', log.checked ? Math.pow(10, d.y1) : d.y1);
      }
      if (!d) {
        svg.removeAttribute('data-y0');
        svg.removeAttribute('data-y1');
        node('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle' }, svg).textContent =
          'no run shown has this curve' + (log.checked ? ' with values above zero' : '');
        return null;
      }
      var s = {
        d: d,
        x: function (x) { return m.l + (x - d.x0) / (d.x1 - d.x0) * (w - m.l - m.r); },
        y: function (y) { return h - m.b - (y - d.y0) / (d.y1 - d.y0) * (h - m.t - m.b); },
        v: function (v) { return log.checked ? (v > 0 ? Math.log10(v) : NaN) : v; }
      };
      var small = w < 400, g = node('g', { 'class': 'axes' }, svg);
      var yt = log.checked ? logTicks(d.y0, d.y1) : ticks(d.y0, d.y1, small ? 4 : 6);
      yt.forEach(function (v) {
        var y = s.y(v);
        node('line', { x1: m.l, x2: w - m.r, y1: y, y2: y, 'class': 'grid' }, g);
        node('text', { x: m.l - 6, y: y + 4, 'text-anchor': 'end' }, g).textContent = fmt(log.checked ? Math.pow(10, v) : v);
      });
      ticks(d.x0, d.x1, small ? 3 : Math.max(3, Math.round(w / 110))).forEach(function (v) {
        var x = s.x(v);
        node('line', { x1: x, x2: x, y1: m.t, y2: h - m.b, 'class': 'grid' }, g);
        node('text', { x: x, y: h - m.b + 16, 'text-anchor': 'middle', 'class': 'xtick' }, g).textContent = fmt(v);
      });
      node('text', { x: w - m.r, y: h - 4, 'text-anchor': 'end' }, g).textContent = 'step';
      if (!small)
        node('text', { x: m.l + 4, y: m.t + 14, 'class': 'yname' }, g).textContent =
          data.tags[t] + (tagUnit(t) ? ' (' + tagUnit(t).trim() + ')' : '');
      node('rect', { x: m.l, y: m.t, width: w - m.l - m.r, height: h - m.t - m.b, 'class': 'frame' }, g);
      var clip = group + '-clip-' + id;
      node('rect', { x: m.l, y: m.t, width: w - m.l - m.r, height: h - m.t - m.b },
           node('clipPath', { id: clip }, node('defs', {}, svg)));
      var inner = node('g', { 'clip-path': 'url(#' + clip + ')' }, svg);
      function at(x, y) {
        var v = s.v(y);
        return v === null || !isFinite(v) ? null : s.x(x).toFixed(1) + ' ' + s.y(v).toFixed(1);
      }
      ls.forEach(function (l) {
        if (!l.lo) return;
        /* the band: the lowest values forth, the highest back */
        var lo = [], hi = [];
        l.x.forEach(function (x, j) {
          var a = at(x, l.lo[j]), b = at(x, l.hi[j]);
          if (a && b) { lo.push(a); hi.unshift(b); }
        });
        if (lo.length) node('path', { d: 'M' + lo.concat(hi).join('L') + 'Z', fill: l.colour, 'class': 'spread' }, inner);
      });
      ls.forEach(function (l, i) {
        var path = '', pen = 'M';
        l.x.forEach(function (x, j) {
          var p = at(x, l.y[j]);
          if (!p) { pen = 'M'; return; }
          path += pen + p;
          pen = 'L';
        });
        l.path = node('path', { d: path, stroke: l.colour, 'class': l.lo ? 'line mean' : 'line', 'data-line': i }, inner);
      });
      return s;
    }

    function draw() {
      W = width();
      drawn = lines(+tag.value);
      var d = domain(drawn);
      outside = d ? d.outside : [];
      awayDraw();
      smoothText.textContent = (+smoothing.value).toFixed(2);
      scale = render(chart, drawn, zoom || d, +tag.value, W, H, M, 'main');
      hovered = -1;
      noteDraw();
      smalls.forEach(function (svg, t) {
        if (!svg) return;
        var ls = t === +tag.value ? drawn : lines(t);
        render(svg, ls, domain(ls), t, 300, 190, { l: 48, r: 18, t: 8, b: 26 }, t);
        svg.parentNode.classList.toggle('chosen', t === +tag.value);
      });
    }

    /* what a curve is, said above the chart */
    function noteDraw() {
      var g = grouping();
      if (g === '') { note.textContent = 'Each curve is one run.'; return; }
      var sizes = drawn.map(function (l) { return l.runs.length; });
      var few = Math.min.apply(null, sizes), many = Math.max.apply(null, sizes);
      var n = !sizes.length ? 'no run' : few === many ? few + (few === 1 ? ' run' : ' runs') : few + ' to ' + many + ' runs';
      note.textContent = (g === '~seed' ? 'Grouped by every key but ' + data.keys[data.seed] + ': each curve is the mean ' +
                          'over the seeds of one cell (' + n + ')'
                                        : 'Grouped by ' + data.keys[+g] + ': each curve is the mean of the runs shown ' +
                          'that share its value (' + n + ', over the seeds and any other key shown)') +
        '; the band spans their lowest to highest value at each step (min\u2013max).';
    }

    /* the legend: an entry per colour (a group's when grouped), a button
     * that switches its runs' curves off, or on again */
    function legendDraw() {
      while (legend.firstChild) legend.removeChild(legend.firstChild);
      var grouped = grouping() !== '', labels = grouped ? groups : cells, of = grouped ? groupOf : cellOf;
      labels.forEach(function (label, c) {
        var runs = [];
        data.runs.forEach(function (r, run) { if (listed(run) && of[run] === c) runs.push(run); });
        if (!runs.length) return;
        var on = runs.filter(function (run) { return !off[run]; }).length;
        var item = html('button', { type: 'button', 'class': 'item' + (on ? '' : ' off'), 'aria-pressed': on ? 'true' : 'false',
                                    title: (on ? 'switch off' : 'switch on') + ' the curves of ' + label }, legend);
        html('i', { style: 'background:' + PALETTE[c % PALETTE.length] }, item);
        item.appendChild(document.createTextNode(label + ' (' + (on < runs.length ? on + ' of ' : '') + runs.length + ')'));
        item.addEventListener('click', function () {
          runs.forEach(function (run) { off[run] = on > 0; });
          changed();
        });
      });
    }

    /* a box per row of the runs table: its run's curves drawn or not */
    var runTable = document.getElementById(group + '-runtable'), boxes = [];
    if (runTable) Array.prototype.forEach.call(runTable.tBodies[0].rows, function (tr) {
      var a = tr.cells[0].querySelector('a[href^="#' + group + '-run-"]');
      var run = a ? +a.getAttribute('href').slice(('#' + group + '-run-').length) - 1 : -1;
      if (!(run >= 0 && run < data.runs.length)) return;
      var cb = html('input', { type: 'checkbox', 'class': 'draw', checked: '', 'aria-label': 'draw ' + data.runs[run].n,
                               title: 'draw this run\'s curves' });
      tr.cells[0].insertBefore(cb, tr.cells[0].firstChild);
      cb.addEventListener('change', function () { off[run] = !cb.checked; changed(); });
      boxes.push([run, cb, tr]);
    });
    function boxesDraw() {
      boxes.forEach(function (b) { b[1].checked = !off[b[0]]; b[2].classList.toggle('off', off[b[0]]); });
    }

    /* the runs the regular expression keeps: those whose name or a
     * key=value matches it. One that does not compile says so and keeps
     * every run. */
    function refilter() {
      var text = re.value, rx = null;
      reSays.textContent = '';
      re.removeAttribute('aria-invalid');
      if (text !== '') {
        try { rx = new RegExp(text, 'i'); } catch (e) {
          rx = null;
          re.setAttribute('aria-invalid', 'true');
          reSays.textContent = 'not a regular expression (' + e.message.replace(/^Invalid regular expression: /, '') +
                               '): every run is shown';
        }
      }
      match = data.runs.map(function (r) {
        return !rx || rx.test(r.n) || data.keys.some(function (k, i) { return rx.test(k + '=' + r.v[i]); });
      });
      if (rx) {
        var n = match.filter(Boolean).length;
        reSays.textContent = n + ' of ' + data.runs.length + ' runs match';
      }
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
      node('circle', { cx: scale.x(x), cy: scale.y(scale.v(y)), r: 4, 'class': 'mark', fill: l.colour }, chart);
      tip.textContent = '';
      html('strong', {}, tip, l.name);
      tip.appendChild(document.createTextNode(' step ' + x + ': ' + data.tags[+tag.value] + ' ' +
                                              (l.lo ? 'mean ' : '') + fmt(y) + tagUnit() +
                                              (+smoothing.value > 0 ? ' (smoothed; ' + fmt(raw) + tagUnit() + ' as logged)' : '') +
                                              (l.lo ? ' of ' + l.runs.length + ' runs, ' + fmt(l.lo[hit.point]) + ' to ' +
                                                      fmt(l.hi[hit.point]) : '')));
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
      saveView();
    });
    chart.addEventListener('mouseleave', function () { tip.hidden = true; });
    function unzoom() { zoom = null; draw(); saveView(); }
    chart.addEventListener('dblclick', unzoom);
    reset.addEventListener('click', unzoom);
    tag.addEventListener('change', function () { zoom = null; full = false; draw(); saveView(); });
    var wide = W;
    window.addEventListener('resize', function () { if (width() !== wide) { wide = width(); draw(); } });
    smoothing.addEventListener('input', function () { draw(); saveView(); });
    log.addEventListener('change', function () { zoom = null; draw(); saveView(); });
    by.addEventListener('change', function () { colourBy(+by.value); changed(); });
    groupBy.addEventListener('change', function () { regroup(); zoom = null; changed(); });
    re.addEventListener('input', function () { refilter(); zoom = null; changed(); });
    /* the runs switched off or on, or matched anew: every view redrawn */
    function changed() { pcDraw(); self.redraw(true); saveView(); }

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
    var brushes = {}; /* an axis's index: [lo, hi] in its pixels, the runs kept by dragging on it */
    var count = html('p', { 'class': 'count' }, box);

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
      var finite = values.filter(function (v, i) { return listed(i) && v !== null && isFinite(v); });
      var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite);
      if (!(hi > lo)) { lo = (isFinite(lo) ? lo : 0) - 0.5; hi = lo + 1; }
      var n = axesKeys.length + 1, xs = [];
      for (var i = 0; i < n; i++) xs.push(n === 1 ? 450 : 70 + i * 760 / (n - 1));
      var axes = axesKeys.map(function (k) {
        return { name: data.keys[k], key: k, values: distinctValues(data.runs, k).values };
      });
      function y(a, v) {
        if (!a) return PB - (v - lo) / (hi - lo) * (PB - PT);
        var i = a.values.indexOf(v);
        return a.values.length === 1 ? (PT + PB) / 2 : PB - i / (a.values.length - 1) * (PB - PT);
      }
      pcAxes = [];
      data.runs.forEach(function (r, run) {
        if (!listed(run)) return;
        var v = values[run], ok = v !== null && isFinite(v);
        var ys = axes.map(function (a) { return y(a, r.v[a.key]); });
        ys.push(ok ? y(null, v) : null);
        var pts = ys.map(function (yy, i) { return yy === null ? null : xs[i] + ',' + yy.toFixed(1); });
        var t = ok ? (v - lo) / (hi - lo) : 0;
        var line = node('polyline', { points: pts.filter(Boolean).join(' '), 'class': 'pcline' + (ok ? '' : ' missing') + (off[run] ? ' off' : ''),
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
      saveView();
    });

    /* light to dark over the metric's range */
    function ramp(t) {
      var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
      var f = Math.max(0, Math.min(1, t)) * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(f));
      var c = stops[i].map(function (a, j) { return Math.round(a + (stops[i + 1][j] - a) * (f - i)); });
      return 'rgb(' + c.join(',') + ')';
    }
    metric.addEventListener('change', function () { brushes = {}; pcDraw(); self.redraw(true); saveView(); });

    /* the claims whose cells hold no run shown dim */
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

    /* the view, into the URL's fragment's parameters p: what differs
     * from the page's first view */
    this.state = function (p) {
      function put(name, value) { p.set(group + '.' + name, value); }
      if (+tag.value !== leadTag()) put('tag', data.tags[+tag.value]);
      if (+smoothing.value > 0) put('smooth', smoothing.value);
      if (log.checked) put('log', '1');
      if (byKeys.length && +by.value !== byKeys[0]) put('colour', data.keys[+by.value]);
      if (grouping() !== '') put('mean', grouping() === '~seed' ? '~seed' : data.keys[+grouping()]);
      if (re.value !== '') put('re', re.value);
      var offs = [];
      off.forEach(function (o, run) { if (o) offs.push(run + 1); });
      if (offs.length) put('off', offs.join(','));
      if (metric.value !== metric0) put('metric', data.metrics[+metric.value]);
      if (data.varied.length && scKey.value !== scKey0) put('key', data.keys[+scKey.value]);
      if (full) put('full', '1');
      if (zoom) put('zoom', [zoom.x0, zoom.x1, zoom.y0, zoom.y1].join(','));
      var bs = Object.keys(brushes).map(function (i) { return i + ':' + brushes[i][0].toFixed(1) + ':' + brushes[i][1].toFixed(1); });
      if (bs.length) put('ranges', bs.join(','));
    };

    /* the view the fragment holds, where it names what this page has */
    function restore() {
      function key(name) { var k = data.keys.indexOf(name); return k >= 0 ? String(k) : null; }
      function pick(select, value) {
        if (value !== null && Array.prototype.some.call(select.options, function (o) { return o.value === value; }))
          select.value = value;
      }
      var t = param('tag');
      if (t !== null && data.tags.indexOf(t) >= 0) tag.value = data.tags.indexOf(t);
      var sm = parseFloat(param('smooth'));
      if (sm >= 0 && sm <= 0.99) smoothing.value = sm;
      log.checked = param('log') === '1';
      pick(by, key(param('colour')));
      if (byKeys.length) colourBy(+by.value);
      pick(groupBy, param('mean') === '~seed' ? '~seed' : key(param('mean')));
      if (param('re') !== null) re.value = param('re');
      (param('off') || '').split(',').forEach(function (n) { if (+n >= 1 && +n <= off.length) off[+n - 1] = true; });
      var m = param('metric');
      if (m !== null) pick(metric, String(data.metrics.indexOf(m)));
      pick(scKey, key(param('key')));
      full = param('full') === '1';
      var z = (param('zoom') || '').split(',').map(Number);
      if (z.length === 4 && z.every(isFinite) && z[1] > z[0] && z[3] > z[2]) zoom = { x0: z[0], x1: z[1], y0: z[2], y1: z[3] };
      (param('ranges') || '').split(',').forEach(function (b) {
        var r = b.split(':').map(Number);
        if (r.length === 3 && r.every(isFinite) && r[2] >= r[1]) brushes[r[0]] = [r[1], r[2]];
      });
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
      saveView();
    };
    this.redraw = function (fromPc) {
      if (!fromPc) pcDraw();
      draw();
      legendDraw();
      boxesDraw();
      scDraw();
      var n = 0, b = 0, o = 0;
      data.runs.forEach(function (r, i) {
        if (!listed(i)) return;
        n++;
        if (brushed[i]) b++;
        if (off[i]) o++;
      });
      count.textContent = n + ' of ' + data.runs.length + ' runs drawn' +
        (b < n ? '; ' + b + ' of them within the ranges dragged on the parallel coordinates' : '') +
        (o ? '; ' + o + ' of them switched off' : '');
    };
    var metric0 = metric.value;
    /* the scatter against the key of numbers with the most values (a learning rate), else the first */
    var scFirst = byKeys.slice().sort(function (a, b) {
      var x = distinctValues(data.runs, a), y = distinctValues(data.runs, b);
      return (y.numeric - x.numeric) || (y.values.length - x.values.length);
    })[0];
    if (scFirst !== undefined) scKey.value = scFirst;
    var scKey0 = scKey.value;
    restore();
    regroup();
    refilter();
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
