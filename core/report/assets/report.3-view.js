/* normlab report's script: the view kept in the URL's fragment
 * (report.1-tables.js says how the pieces make the page's script) */
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

