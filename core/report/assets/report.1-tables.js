/* normlab report's script, in pieces that the page runs in the order of
 * their names as one function's body (core/report/html.c's rp_page_tail
 * wraps them, so they share their names): report.1-tables.js sorts a
 * table by the column whose header is clicked and filters a section's
 * tables, curves and claims by the values of its varied keys;
 * report.2-draw.js the drawing's helpers (SVG nodes, ticks, ranges,
 * smoothing, a claim's cells); report.2-match.js the runs filter's
 * regular expressions, matched in linear time; report.3-view.js keeps the view in the
 * URL's fragment; report.4-explore.js draws the runs' curves (hover,
 * smoothing, zoom, log scale; a mean over seeds or a key's runs with a
 * min-max band; runs switched off or kept by a regular expression) and a
 * small chart per curve from the section's JSON; report.5-parallel.js
 * their parallel coordinates and a final metric against a key;
 * report.6-page.js starts them and reloads a live page;
 * report.7-export.js downloads a chart as SVG or PNG. No library,
 * nothing fetched. Built into the binary with report.css. */
  var explorers = {}; /* a section's id: its explore views, told of each filter */
  var wanted = {}; /* a section's id: the keys' values its filters keep, [[key, value], ...] */

  /* ---- a big sweep's rows and details, made when asked for (issue 115) ----
   * A sweep of over a thousand runs (core/report's rp_lazy) writes its
   * runs table's rows and its runs' details as blocks of their HTML,
   * deflated and base64'd (rp_script_deflated): inflated here by the
   * browser's DecompressionStream and parsed into an inert template,
   * never laid out, when the table comes near the screen, a column is
   * sorted, or a link asks for a run's details. The table lays out a page
   * of its rows at a time (those the filters keep, in its order). */
  var PAGE_ROWS = 100;
  var inflating = {}, inflatedNow = {}; /* a block's promise, and its elements once made */
  /* a promise of block id's elements, parsed from its inflated text */
  function inflated(id) {
    if (!inflating[id]) {
      var text = atob(document.getElementById(id).textContent.trim()), bytes = new Uint8Array(text.length);
      for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
      inflating[id] = new Response(stream).text().then(function (html) {
        var t = document.createElement('template');
        t.innerHTML = html;
        return (inflatedNow[id] = Array.prototype.slice.call(t.content.children));
      });
    }
    return inflating[id];
  }

  /* a table's rows: a big sweep's runs table's made ones (none before), in their order */
  function rowsOf(table) { return table.lazy ? table.lazy.rows : table.tBodies[0].rows; }

  /* a row's cells named for the phone's cards (data-h), its long names
   * breakable: a big sweep's rows when they are first laid out */
  function readyRow(table, tr) {
    if (tr.ready) return;
    tr.ready = true;
    var head = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(tr.cells, function (td, col) {
      td.setAttribute('data-h', head[col] ? head[col].textContent.trim() : '');
    });
    breakable(tr);
  }

  /* a big sweep's runs table: its first rows that no filter leaves out laid
   * out, a page more or all at a button's press */
  function layRows(table, shown) {
    var lazy = table.lazy, body = table.tBodies[0], laid = [];
    for (var i = 0; i < lazy.rows.length && laid.length < lazy.limit; i++)
      if (!lazy.rows[i].hidden) laid.push(lazy.rows[i]);
    laid.forEach(function (tr) { readyRow(table, tr); });
    body.replaceChildren.apply(body, laid);
    var count = document.getElementById(table.id + '-count');
    if (count) count.textContent = laid.length + ' of ' + lazy.rows.length + ' rows shown' +
      (shown > laid.length ? ' (' + shown + ' match: the first ' + laid.length + ' in this order)' : '');
    lazy.more.hidden = shown <= laid.length;
    lazy.more.querySelector('.page').textContent = 'Show ' + Math.min(PAGE_ROWS, shown - laid.length) + ' more';
    lazy.more.querySelector('.all').textContent = 'Show all ' + shown;
    lazy.shown = shown;
    fit();
  }

  /* a big sweep's runs table's rows made: a promise, kept */
  function makeRows(table) {
    var lazy = table.lazy;
    if (!lazy.made) lazy.made = inflated(table.getAttribute('data-rows')).then(function (rows) {
      lazy.rows = rows;
      foldConstant(table);
      lazy.hooks.forEach(function (f) { f(rows); });
      filterTable(table, wanted[table.getAttribute('data-group')] || []);
      return rows;
    });
    return lazy.made;
  }

  Array.prototype.forEach.call(document.querySelectorAll('table[data-rows]'), function (table) {
    var lazy = table.lazy = { rows: [], limit: PAGE_ROWS, hooks: [], made: null, shown: 0 };
    var box = table.closest('.scroll') || table;
    lazy.more = html('p', { 'class': 'more-rows', hidden: '' }, null);
    box.parentNode.insertBefore(lazy.more, box.nextSibling);
    html('button', { type: 'button', 'class': 'page' }, lazy.more).addEventListener('click', function () {
      lazy.limit += PAGE_ROWS;
      layRows(table, lazy.shown);
    });
    lazy.more.appendChild(document.createTextNode(' '));
    html('button', { type: 'button', 'class': 'all' }, lazy.more).addEventListener('click', function () {
      lazy.limit = lazy.rows.length;
      layRows(table, lazy.shown);
    });
    var count = document.getElementById(table.id + '-count');
    if (count) count.textContent = table.getAttribute('data-n') + ' rows, made when the table is read';
    /* made when the table comes within a screen of the view, before it is seen */
    if (window.IntersectionObserver) {
      var seen = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) {
          seen.disconnect();
          makeRows(table);
        }
      }, { rootMargin: '100% 0px' });
      seen.observe(box);
    } else makeRows(table);
  });

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
    var rows = Array.prototype.slice.call(rowsOf(table));
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
      /* missing values last either way */
      if (x === null || y === null) return compare(x, y);
      var c = compare(x, y);
      return ascending ? c : -c;
    });
    if (table.lazy) {
      table.lazy.rows = rows;
      layRows(table, table.lazy.shown);
    } else rows.forEach(function (r) { body.appendChild(r); });
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
    var head = table.tHead.rows[0], rows = rowsOf(table), same = [];
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
      /* the column's place when clicked: a big sweep's constant columns
       * are folded when its rows are made */
      button.addEventListener('click', function () {
        if (table.lazy) makeRows(table).then(function () { if (th.parentNode) sortBy(table, th.cellIndex, th); });
        else sortBy(table, th.cellIndex, th);
      });
    });
    /* on a phone a row becomes a card, each value after its column's name */
    if (!table.lazy) Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
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

  /* a table's rows shown: those no filter leaves out (a key's select,
   * tr.filteredOut) and, in the runs table, whose run the curves' regular
   * expression keeps (tr.unmatched, report.4-explore.js); its count says
   * how many */
  function showRows(table) {
    var shown = 0, rows = rowsOf(table);
    Array.prototype.forEach.call(rows, function (tr) {
      tr.hidden = !!(tr.filteredOut || tr.unmatched);
      if (!tr.hidden) shown++;
    });
    if (table.lazy) {
      if (table.lazy.made) layRows(table, shown);
      return;
    }
    var count = document.getElementById(table.id + '-count');
    if (count) count.textContent = shown + ' of ' + rows.length + ' rows shown';
  }

  /* the rows of table whose cell in each key's column has the value want
   * keeps ([[key, value], ...]) shown, the others filtered out */
  function filterTable(table, want) {
    var cols = {};
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      var k = th.getAttribute('data-key');
      if (k !== null) cols[k] = i;
    });
    Array.prototype.forEach.call(rowsOf(table), function (tr) {
      tr.filteredOut = !want.every(function (w) {
        if (!(w[0] in cols)) return true;
        var td = tr.cells[cols[w[0]]];
        return td && td.getAttribute('data-k') === w[1];
      });
    });
    showRows(table);
  }

  /* A filter box (data-for=GROUP) holds a select per key (data-key); the
   * tables of the group show the rows whose cell in that key's column (th
   * data-key) has the chosen value (td data-k). A group may have several
   * boxes (above the table over seeds and above the runs): they agree. */
  function applyFilters(group, restoring) {
    var want = [];
    var box = document.querySelector('.filters[data-for="' + group + '"]');
    Array.prototype.forEach.call(box.querySelectorAll('select'), function (s) {
      /* '*' is every value; a value is '=' and the key's text ('=' alone: not set) */
      if (s.value !== '*') want.push([s.getAttribute('data-key'), s.value.slice(1)]);
    });
    wanted[group] = want;
    var tables = document.querySelectorAll('table[data-group="' + group + '"]');
    Array.prototype.forEach.call(tables, function (table) { filterTable(table, want); });
    (explorers[group] || []).forEach(function (e) { e.filter(want, restoring); });
  }

  Array.prototype.forEach.call(document.querySelectorAll('.filters select'), function (select) {
    select.addEventListener('change', function () {
      var group = select.closest('.filters').getAttribute('data-for');
      var twins = document.querySelectorAll('.filters[data-for="' + group + '"] select[data-key="' +
                                            select.getAttribute('data-key').replace(/["\\]/g, '\\$&') + '"]');
      Array.prototype.forEach.call(twins, function (t) { t.value = select.value; });
      applyFilters(group);
      saveView();
    });
  });

