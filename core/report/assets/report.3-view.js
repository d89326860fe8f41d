/* normlab report's script: the view kept in the URL's fragment
 * (report.1-tables.js says how the pieces make the page's script) */
  /* the view (the keys' filters, the regular expression, runs switched
   * off, grouping, smoothing, metric, zoom, ranges dragged) kept in the
   * URL's fragment,
   * "#view&s1.tag=test%2Floss&s1.re=...": opened with it, the page shows
   * that view again. A fragment without "view" is an anchor (a run's
   * details), left alone. */
  var VIEW = (function () {
    var h = location.hash.slice(1);
    /* a link is data: one that cannot be read is no view, never an error
     * that stops the page's script */
    try { return /^view(&|$)/.test(h) ? new URLSearchParams(h.slice(4)) : null; } catch (e) { return null; }
  })();

  /* a fragment's text decoded, or as it stands where a percent sign
   * starts no escape ("#%", "#view&s1.re=100%") */
  function decoded(text) {
    try { return decodeURIComponent(text); } catch (e) { return text; }
  }
  var viewTimer = null;
  /* written a moment after the last change: a dragged slider would
   * otherwise replace the history entry at every step */
  function saveView() {
    window.clearTimeout(viewTimer);
    viewTimer = window.setTimeout(function () {
      var p = new URLSearchParams();
      filterState(p);
      Object.keys(explorers).forEach(function (g) { explorers[g].forEach(function (e) { e.state(p); }); });
      var s = p.toString(), hash = '#view' + (s ? '&' + s : '');
      /* the first view over an anchor (a run's details) leaves the anchor */
      if (!s && !/^#view(&|$)/.test(location.hash)) return;
      if (location.hash !== hash) history.replaceState(history.state, '', hash);
    }, 50);
  }

  /* the keys' filters (a select per key above a section's tables,
   * report.1-tables.js) in the fragment: GROUP.filter.KEY=VALUE, the value
   * as the select names it, empty for the runs that do not set the key */
  function filterState(p) {
    Array.prototype.forEach.call(document.querySelectorAll('.filters select'), function (s) {
      /* a group's boxes agree: the first says it */
      var name = s.closest('.filters').getAttribute('data-for') + '.filter.' + s.getAttribute('data-key');
      if (s.value !== '*' && !p.has(name)) p.set(name, s.value.slice(1));
    });
  }

  /* the filters a fragment names, chosen before the curves are drawn, where
   * the page has their value; returns the groups whose filters it chose */
  function filterRestore() {
    var groups = [];
    if (!VIEW) return groups;
    Array.prototype.forEach.call(document.querySelectorAll('.filters select'), function (s) {
      var group = s.closest('.filters').getAttribute('data-for');
      var v = VIEW.get(group + '.filter.' + s.getAttribute('data-key'));
      if (v === null || !Array.prototype.some.call(s.options, function (o) { return o.value === '=' + v; })) return;
      s.value = '=' + v;
      if (groups.indexOf(group) < 0) groups.push(group);
    });
    return groups;
  }
