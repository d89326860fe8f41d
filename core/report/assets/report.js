/* normlab report's script: sorts a table by the column whose header is
 * clicked, and filters a section's tables by the values of its varied keys.
 * No library, nothing fetched. Built into the binary with report.css. */
(function () {
  'use strict';

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

  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var button = document.createElement('button');
      button.type = 'button';
      button.title = 'sort by this column';
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener('click', function () { sortBy(table, col, th); });
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

  /* printing shows every run's details */
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
  });
})();
