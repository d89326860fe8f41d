/* normlab report's script: a section's explorable curves, from its JSON
 * (report.1-tables.js says how the pieces make the page's script) */

  /* The explorer over several directories (normlab report A B): its runs
   * and curves are those of each directory's own explorer (the part's
   * data), joined here rather than written into the page again (curves.c,
   * rp_curves_together); d holds what only the view of all knows: its
   * keys (the directory's first), the metrics, and per directory where
   * each key is among its own (key_of) or its runs' values of the keys it
   * does not vary (fill) and the texts they read as (fl). */
  function joinParts(d) {
    d.runs = []; d.curves = []; d.tags = []; d.tag_units = []; d.axes = []; d.kept = 0;
    var t975 = []; /* the longest part's quantiles, d's past them (t975_from: the first one's degrees of freedom) */
    function of(x, i) { return Array.isArray(x) ? x[i] : x; }
    function place(list, name, units, unit) {
      var j = list.indexOf(name);
      if (j >= 0) return j;
      list.push(name);
      if (units) units.push(unit);
      return list.length - 1;
    }
    d.parts.forEach(function (p) {
      var s = JSON.parse(document.getElementById(p.data).textContent), at = d.runs.length;
      var own = {}; /* a key of the directory's: its index here */
      p.key_of.forEach(function (k, u) { if (k >= 0) own[k] = u; });
      s.runs.forEach(function (r, i) {
        var run = { n: p.label + '/' + r.n, s: r.s,
                    v: d.keys.map(function (k, u) { return u === 0 ? p.label : p.key_of[u] >= 0 ? r.v[p.key_of[u]] : of(p.fill[u], i); }),
                    m: d.metrics.map(function (m) { var j = s.metrics.indexOf(m); return j < 0 ? null : r.m[j]; }) };
        if (r.b !== undefined) run.b = r.b;
        var l = {};
        Object.keys(r.l || {}).forEach(function (k) { if (own[k] !== undefined) l[own[k]] = r.l[k]; });
        Object.keys(p.fl || {}).forEach(function (u) { var t = of(p.fl[u], i); if (t) l[u] = t; });
        if (Object.keys(l).length) run.l = l;
        d.runs.push(run);
      });
      var tagAt = s.tags.map(function (t, j) { return place(d.tags, t, d.tag_units, (s.tag_units || [])[j]); });
      var axisAt = (s.axes || []).map(function (a) { return place(d.axes, a); });
      s.curves.forEach(function (c, i) {
        if (typeof c[1] === 'number') c[1] = s.curves[i - c[1]][1];
        d.curves.push([c[0] + at, c[1], c[2].map(function (t) { return [tagAt[t[0]]].concat(t.slice(1)); }),
                       (c[3] || []).map(function (a) { return [axisAt[a[0]]].concat(a.slice(1)); })]);
      });
      d.kept = Math.max(d.kept, s.kept);
      if (s.t975.length > t975.length) t975 = s.t975;
    });
    d.t975 = t975.slice(0, d.t975_from - 1).concat(d.t975);
    return d;
  }

  function Explore(box) {
    var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
    if (data.parts) data = joinParts(data);
    box.exploreData = data; /* the data it shows, as the page's checks read it */
    /* a curve whose steps are those of the curve d places before holds d
     * in their place (curves.c) */
    data.curves.forEach(function (c, i) { if (typeof c[1] === 'number') c[1] = data.curves[i - c[1]][1]; });
    /* a value shown otherwise than the filters match it (run.l: a formula
     * normalizer's model.norm.type "expr" by its name, as the figures'
     * labels): the text in v, everywhere the view names it, the file's
     * value in k (given(), report.2-draw.js) */
    data.runs.forEach(function (r) {
      if (!r.l) return;
      r.k = r.v.slice();
      Object.keys(r.l).forEach(function (k) { r.v[+k] = r.l[k]; });
    });
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
    function listed(run) { return keep[run] && match[run]; }
    function shown(run) { return listed(run) && par.brushed(run) && !off[run]; }
    var zoom = null, hovered = -1, full = false, outside = [];
    /* the chart as wide as its box (up to 900 units), so that its labels
     * keep their size on a phone instead of shrinking with a 900-wide view */
    var W = width();
    function width() { return Math.max(340, Math.min(900, Math.round(box.clientWidth || 900))); }
    /* a colour per value of the key chosen to colour by (the first varied
     * key but the seed, at first): the runs that share it share a colour */
    var byKeys = data.varied.filter(function (k) { return k !== data.seed; });
    /* a key's value as a label: a run that does not set the key, "(not set)" as the filters say */
    function keyValue(k, v) { return data.keys[k] + '=' + (v === '' ? '(not set)' : v); }
    var cells = [], cellOf = [];
    var cellKey;
    function colourBy(k) {
      cellKey = k;
      cells = [];
      cellOf = data.runs.map(function (run) {
        var label = k === undefined ? 'all runs' : keyValue(k, run.v[k]);
        if (cells.indexOf(label) < 0) cells.push(label);
        return cells.indexOf(label);
      });
    }
    colourBy(byKeys[0]);
    function colour(run) { return PALETTE[cellOf[run] % PALETTE.length]; }
    /* a line style per value of a second key: colour by one key and dash
     * by another, 30-40 means (4 normalizers by 9 learning rates) are each
     * told apart where 10 colours alone repeat */
    var DASHES = ['', '7 3', '2 2.5', '9 3 2 3', '1 3', '12 5', '5 2 1 2 1 2', '3 5', '10 2 2 2 2 2'];
    var dashKey = null, dashValues = [], dashOf = data.runs.map(function () { return 0; });
    function dashBy(k) {
      dashKey = k === '' || k === null || k === undefined || isNaN(+k) ? null : +k;
      dashValues = dashKey === null ? [] : distinctValues(data.runs, dashKey).values;
      dashOf = data.runs.map(function (r) { return dashKey === null ? 0 : dashValues.indexOf(r.v[dashKey]); });
    }
    /* at first: the next key with few enough values for a style each */
    function dashDefault() {
      var k = byKeys.filter(function (k) {
        return k !== byKeys[0] && distinctValues(data.runs, k).values.length <= DASHES.length;
      })[0];
      return k === undefined ? '' : String(k);
    }
    function dash(run) { return DASHES[dashOf[run] % DASHES.length]; }

    /* the groups a mean is drawn of: '' none (a curve per run), '~seed'
     * the runs equal in every varied key but the seed, or a key's index:
     * the runs sharing its value */
    var groups = [], groupOf = [];
    function grouping() { return groupBy.value; }
    /* the band of a mean (BANDS): as chosen, else the 95 % interval of the
     * mean where the view groups over seeds (what the tables report), the
     * lowest to highest value where it groups by a key (its runs differ in
     * other keys: no sample of one mean) */
    var bandChosen = null;
    function bandKind() { return bandChosen || (grouping() === '~seed' ? 'ci' : 'minmax'); }
    function regroup() {
      var g = grouping(), keys = g === '~seed' ? byKeys : g === '' ? [] : [+g];
      groups = [];
      groupOf = data.runs.map(function (run) {
        var label = keys.map(function (k) { return keyValue(k, run.v[k]); }).join(', ') || 'all runs';
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
    var dashBox = html('label', {}, controls, 'line style by ');
    var dashSel = html('select', { 'class': 'dash' }, dashBox);
    html('option', { value: '' }, dashSel, 'none');
    byKeys.forEach(function (k) { html('option', { value: k }, dashSel, data.keys[k]); });
    if (byKeys.length < 2) dashBox.hidden = true;
    dashSel.value = dashDefault();
    dashBy(dashSel.value);
    var groupBox = html('label', {}, controls, 'mean of ');
    var groupBy = html('select', { 'class': 'group' }, groupBox);
    html('option', { value: '' }, groupBy, 'no mean: a curve per run');
    if (data.seed >= 0 && data.varied.indexOf(data.seed) >= 0 && byKeys.length)
      html('option', { value: '~seed' }, groupBy, 'the seeds of each cell (every key but ' + data.keys[data.seed] + ')');
    data.varied.forEach(function (k) {
      if (k !== data.seed) html('option', { value: k }, groupBy, 'the runs sharing their ' + data.keys[k]);
    });
    if (!data.varied.length) groupBox.hidden = true;
    /* a big sweep's view starts on the means over seeds, a curve and its
     * interval per cell, as its table over seeds does: thousands of runs'
     * curves drawn one over another say less and take longer (issue 115) */
    var groupDefault = data.big && groupBy.querySelector('option[value="~seed"]') ? '~seed' : '';
    groupBy.value = groupDefault;
    var bandBox = html('label', {}, controls, 'band ');
    var bandSel = html('select', { 'class': 'bandkind' }, bandBox);
    html('option', { value: 'minmax' }, bandSel, 'min\u2013max');
    html('option', { value: 'sd' }, bandSel, '\u00b11 sd');
    html('option', { value: 'ci' }, bandSel, '95 % interval of the mean');
    /* a mean's points: at each x the runs that logged it (the default), or
     * with them the runs between two of their logged points, each read on
     * the line between them (issue 118: such values were tipped as logged) */
    var pointsBox = html('label', {}, controls, 'mean over ');
    var points = html('select', { 'class': 'points' }, pointsBox);
    html('option', { value: 'logged' }, points, 'logged points only');
    html('option', { value: 'between' }, points, 'logged points and between them (interpolated)');
    function bandShow() { bandSel.value = bandKind(); bandBox.hidden = pointsBox.hidden = grouping() === ''; }
    /* the x the curves are drawn over: the step, a column the runs log
     * rising (the epoch, the wall time: the page's JSON "axes", each
     * curve's c[3]) or the samples seen (the step times the run's batch
     * size). A sweep of batch sizes opens in epochs, else samples: its
     * runs take different numbers of steps over the same data. */
    var AXIS_NAMES = { step: ['steps', 'step'], epoch: ['epochs', 'epoch'], elapsed_s: ['wall time (s)', 'wall time (s)'],
                       samples: ['samples seen', 'samples seen'] };
    var xBox = html('label', {}, controls, 'x ');
    var xSel = html('select', { 'class': 'xaxis' }, xBox);
    html('option', { value: 'step' }, xSel, 'steps');
    (data.axes || []).forEach(function (a) { html('option', { value: a }, xSel, (AXIS_NAMES[a] || [a])[0]); });
    if (data.runs.length && data.runs.every(function (r) { return r.b > 0; }))
      html('option', { value: 'samples' }, xSel, AXIS_NAMES.samples[0]);
    if (xSel.options.length < 2) xBox.hidden = true;
    function xDefault() {
      var batch = data.varied.some(function (k) { return /(^|\.)batch_size$/.test(data.keys[k]); });
      var has = function (a) { return Array.prototype.some.call(xSel.options, function (o) { return o.value === a; }); };
      return batch && has('epoch') ? 'epoch' : batch && has('samples') ? 'samples' : 'step';
    }
    xSel.value = xDefault();
    function xName() { var a = xSel.value; return (AXIS_NAMES[a] || [a, a])[1]; }
    /* curve c's x on the axis chosen; null where it did not log that column */
    function xOf(c) {
      var a = xSel.value;
      if (a === 'step') return c[1];
      c.xs = c.xs || {};
      if (!(a in c.xs)) {
        if (a === 'samples') {
          var b = data.runs[c[0]].b;
          c.xs[a] = c[1].map(function (step) { return step * b; });
        } else {
          /* a column that is the step times one number comes as that
           * number, and the step over a whole number (an epoch's steps)
           * as that too: divided, runs that end at an epoch end there */
          var id = data.axes.indexOf(a), got = (c[3] || []).filter(function (s) { return s[0] === id; })[0];
          c.xs[a] = !got ? null : got.length > 2 ? c[1].map(function (step) { return step / got[2]; })
            : typeof got[1] === 'number' ? c[1].map(function (step) { return step * got[1]; }) : got[1];
        }
      }
      return c.xs[a];
    }
    var reset = html('button', { type: 'button', 'class': 'reset' }, controls, 'zoom out');
    /* the chart downloaded, with its axis titles and legend (report.7-export.js) */
    ['SVG', 'PNG'].forEach(function (as) {
      var b = html('button', { type: 'button', 'class': 'export', 'data-as': as.toLowerCase(),
                               title: 'download this chart as ' + as + ', with its axis titles and legend' }, controls, as);
      b.addEventListener('click', function () {
        exportChart(chart, exportTitle(), exportEntries(), group + '-' + data.tags[+tag.value].replace(/[^\w.-]+/g, '-'),
                    as === 'PNG');
      });
    });
    function exportTitle() {
      return data.tags[+tag.value] + (tagUnit() ? ' (' + tagUnit().trim() + ')' : '') + ' over ' + xName() +
             (grouping() !== '' ? '; means, band ' + bandSel.options[bandSel.selectedIndex].text : '');
    }
    /* a legend entry per mean drawn, else per colour and per line style */
    function exportEntries() {
      if (grouping() !== '')
        return drawn.map(function (l) { return [l.name + ' (' + l.runs.length + ')', l.colour, l.dash]; });
      var seen = [], out = [];
      drawn.forEach(function (l) {
        if (seen.indexOf(cellOf[l.run]) >= 0) return;
        seen.push(cellOf[l.run]);
        out.push([cells[cellOf[l.run]], l.colour, '']);
      });
      dashValues.forEach(function (v, d) {
        if (drawn.some(function (l) { return dashOf[l.run] === d; }))
          out.push([keyValue(dashKey, v), '#666', DASHES[d % DASHES.length]]);
      });
      return out;
    }
    var reBox = html('div', { 'class': 'controls' }, box);
    var reLabel = html('label', {}, reBox, 'runs matching ');
    var re = html('input', { type: 'text', 'class': 're', spellcheck: 'false', size: 28,
                             placeholder: 'a regular expression',
                             title: 'a regular expression, case-insensitive, tried on each run\'s name and each ' +
                                    'key=value it has (no back-references or lookaround); empty: every run' }, reLabel);
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
    var multiples = html('div', { 'class': 'multiples' }, box), smallsDue = null; /* their redraw, when due */
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
        var xs = shown(c[0]) ? xOf(c) : null;
        if (!xs) return;
        c[2].forEach(function (series) {
          if (series[0] !== t) return;
          out.push({ run: c[0], x: xs, steps: c[1], y: smooth(series[1], w), raw: series[1], name: data.runs[c[0]].n,
                     colour: colour(c[0]), dash: dash(c[0]) });
        });
      });
      if (grouping() === '') return out;
      var pooled = [];
      pooled.runLines = out;
      var members = groups.map(function () { return []; });
      out.forEach(function (l) { members[groupOf[l.run]].push(l); });
      members.forEach(function (ls, g) {
        if (!ls.length) return;
        var only = points.value === 'logged';
        var p = pool(ls, bandKind(), data.t975, (data.tag_units || [])[t], only);
        var raw = pool(ls.map(function (l) { return { x: l.x, y: l.raw, run: l.run }; }), undefined, undefined, undefined, only);
        var look = groupLook(ls.map(function (l) { return l.run; }), g);
        pooled.push({ group: g, runs: ls.map(function (l) { return l.run; }), x: p.x, y: p.mean, lo: p.lo, hi: p.hi,
                      n: p.n, ends: p.ends, gap: p.gap, logged: only, raw: raw.mean, name: groups[g], colour: look.colour,
                      dash: look.dash });
      });
      return pooled;
    }

    /* a mean's colour and style: its runs' where they share the key's
     * value (colour by a key, grouped by it or over seeds), else its own */
    function groupLook(runs, g) {
      var c = cellOf[runs[0]], d = dashOf[runs[0]];
      var oneC = runs.every(function (r) { return cellOf[r] === c; }), oneD = runs.every(function (r) { return dashOf[r] === d; });
      return { colour: PALETTE[(oneC ? c : g) % PALETTE.length], dash: oneD ? DASHES[d % DASHES.length] : '',
               cell: oneC ? c : -1, dashed: oneD ? d : -1 };
    }

    /* a line that went wrong: of a run the sweep calls diverged, or one
     * whose values end in NaN. The default range fits the others, were
     * they only a few: a sweep of learning rates where most runs blow up
     * to 1e22 draws the few that trained. */
    function wrong(l) {
      /* a mean is of the runs present: wrong where every one of its runs diverged */
      var runs = l.runs || [l.run];
      if (runs.every(function (r) { return data.runs[r].s === 'diverged'; })) return true;
      var last = l.raw[l.raw.length - 1];
      return (last === null || !isFinite(last)) && l.raw.some(function (y) { return y !== null && isFinite(y); });
    }

    /* the range drawn: every point's when full, else the robust range's
     * (robustRange) of the lines that did not go wrong, the lines with
     * points beyond it listed (d.outside). A line that did not go wrong
     * is drawn whole (the only runs that trained may be the few), save
     * where its values rise past the robust range's top on a curve with no
     * bound (a loss, a gradient's norm: a run that explodes without being
     * called diverged); a percentage is bounded, and drawn whole. */
    function domain(ls, t) {
      var bounded = tagUnit(t) === ' %';
      var v = function (y) { return y === null || !isFinite(y) || (log.checked && y <= 0) ? null
                                                                                      : log.checked ? Math.log10(y) : y; };
      var fence = null;
      if (!full) {
        /* means are fenced by their runs': a mean takes a diverged run's
         * values until it leaves (1e33 on a loss before its NaN), and on
         * lr-tolerance-confirm2, which opens on the means over seeds, every
         * cell held such a run (its loss drawn to 1.2e33) */
        var runs = ls.runLines || ls;
        var fine = runs.filter(function (l) { return !wrong(l); });
        fence = robustRange(fine.length ? fine : runs, v);
        if (!fence && fine.length && fine.length < runs.length) {
          /* too few to tell outliers among: the range of the lines that went right */
          fence = [Infinity, -Infinity];
          fine.forEach(function (l) {
            l.y.forEach(function (y) { var t = v(y); if (t !== null) { fence[0] = Math.min(fence[0], t); fence[1] = Math.max(fence[1], t); } });
          });
          if (!(fence[1] >= fence[0])) fence = null;
        }
      }
      var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      ls.forEach(function (l) {
        var fine = !wrong(l) && !(l.runs && l.runs.some(function (r) { return data.runs[r].s === 'diverged'; }));
        l.x.forEach(function (x, i) {
          var y = v(l.y[i]);
          if (y === null) return;
          x0 = Math.min(x0, x); x1 = Math.max(x1, x);
          if (fence && (fine ? !bounded && y > fence[1] : y < fence[0] || y > fence[1])) return;
          y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        });
      });
      if (!isFinite(x0) || !isFinite(y0)) return null;
      if (x1 === x0) x1 = x0 + 1;
      /* a constant (one learning rate, its smoothing's rounding aside): a
       * band around it, not +-0.5 around 0.01 */
      if (y1 - y0 <= Math.abs(y0) * 1e-9) { var h = Math.abs(y0) * 0.1 || 0.5; y0 -= h; y1 += h; }
      var pad = (y1 - y0) * 0.04, lo = y0 - pad, hi = y1 + pad;
      /* the lines said to lie outside: those with a point outside the range
       * drawn, not those the fence left out of it but the others' points
       * keep in (issue 118: a percentage chart named 91 of 91 runs) */
      var out = ls.filter(function (l) {
        return l.y.some(function (y) { var t = v(y); return t !== null && (t < lo || t > hi); });
      });
      return { x0: x0, x1: x1, y0: lo, y1: hi, outside: out };
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
          ' outside the range drawn, which holds every run that did not diverge or end in NaN save where, on a ' +
          'curve with no bound, its values rise more than 3 typical runs\u2019 spans above the median run\u2019s ' +
          'highest: ' + worst.slice(0, 8).join(', ') +
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
        svg.setAttribute('data-x0', d.x0);
        svg.setAttribute('data-x1', d.x1);
        svg.setAttribute('data-y0', log.checked ? Math.pow(10, d.y0) : d.y0);
        svg.setAttribute('data-y1', log.checked ? Math.pow(10, d.y1) : d.y1);
      }
      if (!d) {
        svg.removeAttribute('data-x0');
        svg.removeAttribute('data-x1');
        svg.removeAttribute('data-y0');
        svg.removeAttribute('data-y1');
        node('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle' }, svg).textContent =
          'no run shown has this curve' + (log.checked ? ' with values above zero' : '');
        return null;
      }
      /* a small chart's margins as wide as its tick labels (13 units a
       * character's height, about 7.8 its width): 0.0001 and 1.5e+04 were
       * clipped at its edges. The large chart keeps its margins, which the
       * zoom's arithmetic uses. */
      if (w < 400) {
        var label = function (v) { return fmt(log.checked ? Math.pow(10, v) : v).length; };
        var wide = (log.checked ? logTicks(d.y0, d.y1) : ticks(d.y0, d.y1, 4)).reduce(function (a, v) {
          return Math.max(a, label(v)); }, 0);
        var xt = ticks(d.x0, d.x1, 3), last = xt.length ? fmt(xt[xt.length - 1]).length : 0;
        m = { l: Math.max(m.l, 8 + wide * 7.8), r: Math.max(m.r, last * 3.9 + 2), t: m.t, b: m.b };
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
      node('text', { x: w - m.r, y: h - 4, 'text-anchor': 'end', 'class': 'xname' }, g).textContent = xName();
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
        if (v === null || !isFinite(v)) return null;
        /* a value far off the chart (a diverged run's loss) still draws
         * toward its edge: a coordinate past 1e6 px would print in the
         * exponent form a path cannot read */
        var px = Math.max(-1e6, Math.min(1e6, s.x(x))), py = Math.max(-1e6, Math.min(1e6, s.y(v)));
        return px.toFixed(1) + ' ' + py.toFixed(1);
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
        if (l.dash) l.path.setAttribute('stroke-dasharray', l.dash);
      });
      /* where a run leaves a mean (it ended sooner: diverged, stopped), a
       * ring on the mean, its title naming the runs and how many are left */
      ls.forEach(function (l, i) {
        var at = {};
        (l.ends || []).forEach(function (e) { (at[e[0]] = at[e[0]] || []).push(e[1]); });
        Object.keys(at).forEach(function (x) {
          var j = l.x.indexOf(+x), p = j >= 0 ? at_(l, j) : null;
          if (!p) return;
          var ring = node('circle', { cx: p[0], cy: p[1], r: w < 400 ? 2.5 : 3.5, stroke: l.colour, 'class': 'ends',
                                      'data-line': i, 'data-x': x, 'data-runs': at[x].length }, inner);
          node('title', {}, ring).textContent = endsText(l, j, at[x]);
        });
      });
      function at_(l, j) {
        var v = s.v(l.y[j]);
        return v === null || !isFinite(v) ? null : [s.x(l.x[j]).toFixed(1), s.y(v).toFixed(1)];
      }
      return s;
    }

    function draw() {
      W = width();
      drawn = lines(+tag.value);
      var d = domain(drawn, +tag.value);
      outside = d ? d.outside : [];
      awayDraw();
      smoothText.textContent = (+smoothing.value).toFixed(2);
      scale = render(chart, drawn, zoom || d, +tag.value, W, H, M, 'main');
      hovered = -1;
      noteDraw();
      /* the small charts after the large one, in a task of their own: an interaction answers with the chart
       * it changed, a newer one drops an older one's not yet drawn (half a keystroke's time at 1,000 runs) */
      clearTimeout(smallsDue);
      smallsDue = setTimeout(smallsDraw, 0);
    }
    function smallsDraw() {
      clearTimeout(smallsDue);
      smallsDue = null;
      smalls.forEach(function (svg, t) {
        if (!svg) return;
        var ls = t === +tag.value ? drawn : lines(t);
        render(svg, ls, domain(ls, t), t, 300, 190, { l: 48, r: 18, t: 8, b: 26 }, t);
        svg.parentNode.classList.toggle('chosen', t === +tag.value);
      });
    }
    /* printing and a reader of the page's DOM (the browser tests) draw what is due now */
    box.drawPending = function () { if (smallsDue !== null) smallsDraw(); };

    /* what a curve is, said above the chart */
    function noteDraw() {
      var g = grouping();
      if (g === '') { note.textContent = 'Each curve is one run.'; return; }
      var sizes = drawn.map(function (l) { return l.runs.length; });
      var few = Math.min.apply(null, sizes), many = Math.max.apply(null, sizes);
      var n = !sizes.length ? 'no run' : few === many ? few + (few === 1 ? ' run' : ' runs') : few + ' to ' + many + ' runs';
      var ring = drawn.some(function (l) { return l.ends.length; });
      note.textContent = (g === '~seed' ? 'Grouped by every key but ' + data.keys[data.seed] + ': each curve is the mean ' +
                          'over the seeds of one cell (' + n + ')'
                                        : 'Grouped by ' + data.keys[+g] + ': each curve is the mean of the runs shown ' +
                          'that share its value (' + n + ', over the seeds and any other key shown)') +
        '; at each ' + xName() + ' the mean and its band are of the runs that ' +
        (points.value === 'logged' ? 'logged a value there' : 'logged a value there or lie between two of their logged ' +
                                     'points (read on the line between them)') + ' (the tip says how many)' +
        (ring ? ', and a ring marks where a run ends sooner (diverged or stopped) and leaves the mean' : '') +
        '; the band spans ' + BANDS[bandKind()] + '.';
    }

    /* the legend: an entry per colour (a group's when grouped), a button
     * that switches its runs' curves off, or on again */
    /* a switch for the runs of one legend entry; its text, or "(n)" in the grid */
    function legendItem(parent, label, runs, look, text) {
      var on = runs.filter(function (run) { return !off[run]; }).length;
      var item = html('button', { type: 'button', 'class': 'item' + (on ? '' : ' off'), 'aria-pressed': on ? 'true' : 'false',
                                  title: (on ? 'switch off' : 'switch on') + ' the curves of ' + label }, parent);
      if (look) swatch(look.colour, look.dash, item);
      item.appendChild(document.createTextNode((text === undefined ? label + ' ' : text) + '(' +
                                               (on < runs.length ? on + ' of ' : '') + runs.length + ')'));
      if (text !== undefined) item.setAttribute('aria-label', label + ' (' + runs.length + ')');
      item.addEventListener('click', function () {
        runs.forEach(function (run) { off[run] = on > 0; });
        changed();
      });
    }
    function legendDraw() {
      while (legend.firstChild) legend.removeChild(legend.firstChild);
      var grouped = grouping() !== '', labels = grouped ? groups : cells, of = grouped ? groupOf : cellOf;
      var entries = [];
      labels.forEach(function (label, c) {
        var runs = [];
        data.runs.forEach(function (r, run) { if (listed(run) && of[run] === c) runs.push(run); });
        if (!runs.length) return;
        entries.push({ label: label, runs: runs, look: grouped ? groupLook(runs, c)
                                                              : { colour: PALETTE[c % PALETTE.length], dash: '' } });
      });
      if (grouped && legendGrid(entries)) return;
      entries.forEach(function (e) { legendItem(legend, e.label, e.runs, e.look); });
      if (!grouped && dashKey !== null)
        dashValues.forEach(function (v, d) {
          var key = html('span', { 'class': 'dashkey' }, legend);
          swatch('currentColor', DASHES[d % DASHES.length], key);
          key.appendChild(document.createTextNode(keyValue(dashKey, v)));
        });
    }
    /* many means in little room: a grid, a row per colour's value and a
     * column per style's, where each mean has its own colour and style */
    function legendGrid(entries) {
      var rows = [], cols = [], at = {};
      var unique = dashKey !== null && entries.length > 1 && entries.every(function (e) {
        var k = e.look.cell + ',' + e.look.dashed;
        if (e.look.cell < 0 || e.look.dashed < 0 || at[k]) return false;
        at[k] = e;
        if (rows.indexOf(e.look.cell) < 0) rows.push(e.look.cell);
        if (cols.indexOf(e.look.dashed) < 0) cols.push(e.look.dashed);
        return true;
      });
      /* a grid only where it is one: a key tied to another (a learning
       * rate per batch size) would fill its diagonal alone */
      if (!unique || rows.length < 2 || cols.length < 2 || entries.length <= Math.max(rows.length, cols.length))
        return false;
      cols.sort(function (a, b) { return a - b; });
      var box = html('div', { 'class': 'legendscroll' }, legend);
      var table = html('table', { 'class': 'legendgrid' }, box), head = html('tr', {}, html('thead', {}, table));
      html('th', { scope: 'col' }, head, cells[rows[0]].split('=')[0] + ' \\ ' + data.keys[dashKey]);
      cols.forEach(function (d) {
        var th = html('th', { scope: 'col' }, head);
        swatch('currentColor', DASHES[d % DASHES.length], th);
        th.appendChild(document.createTextNode(dashValues[d] === '' ? '(not set)' : dashValues[d]));
      });
      var body = html('tbody', {}, table);
      rows.forEach(function (c) {
        var tr = html('tr', {}, body), th = html('th', { scope: 'row' }, tr);
        swatch(PALETTE[c % PALETTE.length], '', th);
        th.appendChild(document.createTextNode(cells[c].slice(cells[c].indexOf('=') + 1)));
        cols.forEach(function (d) {
          var td = html('td', {}, tr), e = at[c + ',' + d];
          if (e) legendItem(td, e.label, e.runs, null, '');
        });
      });
      return true;
    }

    /* a box per row of the runs table: its run's curves drawn or not */
    var runTable = document.getElementById(group + '-runtable'), boxes = [];
    function addBoxes(rows) {
      Array.prototype.forEach.call(rows, function (tr) {
        var a = tr.cells[0].querySelector('a[href^="#' + group + '-run-"]');
        var run = a ? +a.getAttribute('href').slice(('#' + group + '-run-').length) - 1 : -1;
        if (!(run >= 0 && run < data.runs.length)) return;
        var cb = html('input', { type: 'checkbox', 'class': 'draw', checked: '', 'aria-label': 'draw ' + data.runs[run].n,
                                 title: 'draw this run\'s curves' });
        tr.cells[0].insertBefore(cb, tr.cells[0].firstChild);
        cb.addEventListener('change', function () { off[run] = !cb.checked; changed(); });
        boxes.push([run, cb, tr]);
      });
    }
    /* a big sweep's rows are made later (report.1-tables.js): their boxes
     * then, ticked and matched as the view stands */
    if (runTable && runTable.lazy) runTable.lazy.hooks.push(function (rows) {
      addBoxes(rows);
      boxesDraw();
      boxes.forEach(function (b) { b[2].unmatched = !!match && !match[b[0]]; });
    });
    else if (runTable) addBoxes(runTable.tBodies[0].rows);
    /* the boxes ticked as the runs are drawn: a property each, no node of
     * the table changed (report.css dims a row by its box), so that a
     * legend click does not re-lay a table of 4,000 rows (issue 118) */
    function boxesDraw() {
      boxes.forEach(function (b) { if (b[1].checked === off[b[0]]) b[1].checked = !off[b[0]]; });
    }

    /* the runs the regular expression keeps: those whose name or a
     * key=value matches it, by the page's own matcher (report.2-match.js:
     * linear in a text's length whatever the expression, so that none,
     * typed or from a link, can freeze the page), each text tried once;
     * one that does not compile, or that the filter does not match, says
     * so and keeps every run, as does one that would take over RE_BUDGET
     * steps over the runs (counted inside a match, so it stops one) */
    var RE_BUDGET = 3e7; /* about 0.3 s */
    function refilter() {
      var text = re.value, m = text !== '' ? compileFilter(text) : null;
      reSays.textContent = '';
      re.removeAttribute('aria-invalid');
      function refuse(why) {
        m = null;
        match = data.runs.map(function () { return true; });
        re.setAttribute('aria-invalid', 'true');
        reSays.textContent = why + ': every run is shown';
      }
      if (m && m.error) refuse('not a regular expression (' + m.error + ')');
      else if (m && m.unsupported) refuse('not applied, ' + m.unsupported + ' is not supported here');
      else {
        var seen = new Map(), spent = false;
        if (m) m.left = RE_BUDGET;
        var tried = function (t) {
          if (spent) return false;
          if (!seen.has(t)) seen.set(t, m.test(t));
          if (seen.get(t) === null) spent = true;
          return seen.get(t) === true;
        };
        match = data.runs.map(function (r) {
          return !m || tried(r.n) || data.keys.some(function (k, i) {
            return tried(k + '=' + r.v[i]) || (r.k && r.k[i] !== r.v[i] && tried(k + '=' + r.k[i]));
          });
        });
        if (spent) refuse('not applied, it takes over ' + RE_BUDGET.toLocaleString('en') + ' steps over the runs\u2019 ' +
                          'names and values (its automaton has ' + m.states.toLocaleString('en') + ' states)');
      }
      if (m) {
        var n = match.filter(Boolean).length;
        reSays.textContent = n + ' of ' + data.runs.length + ' runs match';
      }
      /* the runs table shows the runs it keeps, as the curves do (its
       * count untouched while no expression has hidden a row) */
      var was = boxes.some(function (b) { return b[2].unmatched; });
      boxes.forEach(function (b) { b[2].unmatched = !match[b[0]]; });
      if (runTable && (m || was)) showRows(runTable);
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
      var step = xSel.value === 'step' ? '' : l.steps ? ' (step ' + l.steps[hit.point] + ')' : '';
      tip.appendChild(document.createTextNode(' ' + xName() + ' ' + (xSel.value === 'step' ? x : fmt(x)) + step + ': ' +
                                              data.tags[+tag.value] + ' ' +
                                              (l.lo ? 'mean ' : '') + fmt(y) + tagUnit() +
                                              (+smoothing.value > 0 ? ' (smoothed; ' + fmt(raw) + tagUnit() + ' as logged)' : '') +
                                              (l.lo ? ' ' + ofRuns(l, hit.point) + (l.lo[hit.point] === null ? ', no band' :
                                                      ', band ' + fmt(l.lo[hit.point]) + ' to ' + fmt(l.hi[hit.point])) +
                                                      gapText(l, hit.point)
                                                    : '')));
      tip.hidden = false;
      var r = frame.getBoundingClientRect();
      tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - tip.offsetWidth - 4) + 'px';
      tip.style.top = (ev.clientY - r.top + 14) + 'px';
    }

    /* how many runs a mean averages at its j-th point: "of 8 of the 14
     * runs (6 ended sooner)" where fewer than its group's have a value there */
    function ofRuns(l, j) {
      var n = l.n[j], all = l.runs.length, ended = (l.ends || []).filter(function (e) { return e[0] < l.x[j]; }).length;
      var between = l.logged && l.gap[j] ? l.gap[j][0] : 0, yet = all - ended - n - between;
      if (n === all) return 'of ' + n + (n === 1 ? ' run' : ' runs');
      return 'of ' + n + ' of the ' + all + ' runs' + (ended ? ' (' + ended + ' ended sooner)' : '') +
             (yet > 0 ? ' (' + yet + ' not yet logged)' : '');
    }

    /* the runs of mean l present at its j-th point that logged no value
     * there: "between logged points", the nearest logged before and after,
     * left out of the mean or read on the line between their points */
    function gapText(l, j) {
      var g = l.gap && l.gap[j];
      if (!g) return '';
      function x(v) { return xSel.value === 'step' ? String(v) : fmt(v); }
      return '; ' + g[0] + (g[0] === 1 ? ' run' : ' runs') + ' between logged points (the nearest at ' + xName() + ' ' +
             x(g[1]) + ' and ' + x(g[2]) + ')' + (l.logged ? ', left out' : ', read on the line between them');
    }

    /* a ring's title: the runs that end at the j-th point of mean l */
    function endsText(l, j, runs) {
      var names = runs.map(function (r) { return data.runs[r].n + (data.runs[r].s === 'diverged' ? ' (diverged)' : ''); });
      var left = l.n[j] - runs.length;
      return names.slice(0, 6).join(', ') + (names.length > 6 ? ' and ' + (names.length - 6) + ' more' : '') +
             (runs.length === 1 ? ' ends' : ' end') + ' at ' + xName() + ' ' + fmt(l.x[j]) + '; the mean after it is of the ' +
             left + (left === 1 ? ' run' : ' runs') + ' left';
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
    xSel.addEventListener('change', function () { zoom = null; draw(); saveView(); });
    var wide = W;
    window.addEventListener('resize', function () { if (width() !== wide) { wide = width(); draw(); } });
    smoothing.addEventListener('input', function () { draw(); saveView(); });
    log.addEventListener('change', function () { zoom = null; draw(); saveView(); });
    by.addEventListener('change', function () {
      var was = cellKey;
      colourBy(+by.value);
      /* the style's key the new colour's: the style takes the old one */
      if (dashSel.value === by.value) { dashSel.value = String(was); dashBy(dashSel.value); }
      changed();
    });
    dashSel.addEventListener('change', function () { dashBy(dashSel.value); changed(); });
    groupBy.addEventListener('change', function () { regroup(); bandShow(); zoom = null; changed(); });
    bandSel.addEventListener('change', function () { bandChosen = bandSel.value; draw(); saveView(); });
    points.addEventListener('change', function () { draw(); saveView(); });
    re.addEventListener('input', function () { refilter(); zoom = null; changed(); });
    /* the runs switched off or on, or matched anew: every view redrawn */
    function changed() { par.draw(); self.redraw(true); saveView(); }

    /* the parallel coordinates and the scatter below (report.5-parallel.js),
     * whose ranges dragged keep runs from the curves */
    var par = new Parallel(box, data, {
      listed: listed, shown: shown, off: function (run) { return off[run]; }, colour: colour, metricUnit: metricUnit,
      lead: lead, byKeys: byKeys, changed: function () { self.redraw(true); saveView(); }
    });

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
      if (xSel.value !== xDefault()) put('x', xSel.value);
      if (log.checked) put('log', '1');
      if (byKeys.length && +by.value !== byKeys[0]) put('colour', data.keys[+by.value]);
      if (dashSel.value !== dashDefault()) put('dash', dashSel.value === '' ? '' : data.keys[+dashSel.value]);
      if (grouping() !== groupDefault)
        put('mean', grouping() === '~seed' || grouping() === '' ? grouping() : data.keys[+grouping()]);
      if (bandChosen) put('band', bandChosen);
      if (points.value !== 'logged') put('points', points.value);
      if (re.value !== '') put('re', re.value);
      var offs = [];
      off.forEach(function (o, run) { if (o) offs.push(run + 1); });
      if (offs.length) put('off', offs.join(','));
      par.stateChoices(put);
      if (full) put('full', '1');
      /* the zoom in the data's units, steps and values (a log scale's too),
       * so that a link opens on it at any window width */
      if (zoom) put('zoom', [zoom.x0, zoom.x1, unlog(zoom.y0), unlog(zoom.y1)].map(function (v) {
        return +v.toPrecision(6);
      }).join(','));
      par.stateRanges(put);
    };

    /* a value on the y axis's scale, in the data's units */
    function unlog(y) { return log.checked ? Math.pow(10, y) : y; }

    /* the view the fragment holds, where it names what this page has */
    function restore() {
      function key(name) { var k = data.keys.indexOf(name); return k >= 0 ? String(k) : null; }
      function pick(select, value) {
        if (value !== null && Array.prototype.some.call(select.options, function (o) { return o.value === value; }))
          select.value = value;
      }
      var t = param('tag');
      if (t !== null && data.tags.indexOf(t) >= 0) tag.value = data.tags.indexOf(t);
      pick(xSel, param('x'));
      var sm = parseFloat(param('smooth'));
      if (sm >= 0 && sm <= 0.99) smoothing.value = sm;
      log.checked = param('log') === '1';
      pick(by, key(param('colour')));
      if (byKeys.length) colourBy(+by.value);
      if (param('dash') === '') dashSel.value = '';
      else pick(dashSel, key(param('dash')));
      dashBy(dashSel.value);
      pick(groupBy, param('mean') === '~seed' || param('mean') === '' ? param('mean') : key(param('mean')));
      if (BANDS.hasOwnProperty(param('band'))) bandChosen = param('band');
      pick(points, param('points'));
      if (param('re') !== null) re.value = param('re');
      (param('off') || '').split(',').forEach(function (n) { if (+n >= 1 && +n <= off.length) off[+n - 1] = true; });
      par.restore(param, pick, key);
      full = param('full') === '1';
      var z = (param('zoom') || '').split(',').map(parseFloat);
      if (log.checked && z.length === 4) z = [z[0], z[1], z[2] > 0 ? Math.log10(z[2]) : NaN, z[3] > 0 ? Math.log10(z[3]) : NaN];
      if (z.length === 4 && z.every(isFinite) && z[1] > z[0] && z[3] > z[2]) zoom = { x0: z[0], x1: z[1], y0: z[2], y1: z[3] };
    }

    /* the filters chosen (want: [key, value] pairs): the runs listed. A
     * page opened on a fragment's filters (restoring) keeps its zoom and
     * ranges; a filter chosen on the page clears them */
    this.filter = function (want, restoring) {
      keep = data.runs.map(function (r) {
        return want.every(function (w) {
          if (w[0] === 'status') return r.s === w[1];
          var k = data.keys.indexOf(w[0]);
          return k < 0 || given(r)[k] === w[1];
        });
      });
      if (!restoring) {
        zoom = null;
        par.clear();
      }
      self.redraw();
      claims();
      saveView();
    };
    this.redraw = function (fromPc) {
      if (!fromPc) par.draw();
      draw();
      legendDraw();
      boxesDraw();
      par.scatter();
      var n = 0, b = 0, o = 0;
      data.runs.forEach(function (r, i) {
        if (!listed(i)) return;
        n++;
        if (par.brushed(i)) b++;
        if (off[i]) o++;
      });
      par.count.textContent = n + ' of ' + data.runs.length + ' runs drawn' +
        (b < n ? '; ' + b + ' of them within the ranges dragged on the parallel coordinates' : '') +
        (o ? '; ' + o + ' of them switched off' : '');
    };
    restore();
    regroup();
    bandShow();
    refilter();
    this.redraw();
    (explorers[group] = explorers[group] || []).push(this);
  }
