/* normlab report's script: the page's start, a live page's reload, and
 * printing (report.1-tables.js says how the pieces make the page's script) */

  /* a link to a run's details opens them; printing shows every run's
   * details: both before the curves are drawn, so that nothing a view
   * does can keep them from working */
  function openTarget() {
    var id = decoded(location.hash.slice(1)), target = document.getElementById(id);
    if (target && target.tagName === 'DETAILS') target.open = true;
    /* a big sweep's run's details are made when its link is followed
     * (report.1-tables.js, issue 115) */
    var m = target ? null : /^(s\d+)-run-\d+$/.exec(id), box = m && document.getElementById(m[1] + '-details');
    if (box) placeDetails(box, id).then(function (d) {
      if (!d || decoded(location.hash.slice(1)) !== id) return;
      d.open = true;
      d.scrollIntoView();
    });
  }

  /* a big sweep's box of run details: the one of id (every one: id null)
   * put in its place among those already there, in the runs' order; a
   * promise of it */
  function placeDetails(box, id) {
    return inflated(box.getAttribute('data-rows')).then(function (all) {
      if (id === null) {
        var every = document.createDocumentFragment();
        all.forEach(function (d) { every.appendChild(d); });
        box.appendChild(every);
        return null;
      }
      all.forEach(function (d, i) {
        d.runIndex = i;
        if (d.id !== id || d.parentNode === box) return;
        var after = Array.prototype.find.call(box.children, function (e) { return e.runIndex > i; });
        box.insertBefore(d, after || null);
      });
      return document.getElementById(id);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('.lazy-details'), function (box) {
    var all = box.querySelector('button.all-details');
    all.addEventListener('click', function () {
      all.disabled = true;
      placeDetails(box, null).then(function () { all.parentNode.hidden = true; });
    });
  });
  window.addEventListener('hashchange', openTarget);
  openTarget();
  window.addEventListener('beforeprint', function () {
    /* a big sweep's details, where they are made already (printing waits for nothing) */
    Array.prototype.forEach.call(document.querySelectorAll('.lazy-details'), function (box) {
      var all = inflatedNow[box.getAttribute('data-rows')];
      if (all) all.forEach(function (d) { box.appendChild(d); });
    });
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
    Array.prototype.forEach.call(document.querySelectorAll('.explore'), function (b) { if (b.drawPending) b.drawPending(); });
  });

  /* a fragment's filters list their runs in the tables, curves and claims;
   * its zoom and ranges stay */
  var chosen = filterRestore();
  Array.prototype.forEach.call(document.querySelectorAll('.explore'), function (box) { new Explore(box); });
  chosen.forEach(function (group) { applyFilters(group, true); });

  /* a table or figure wider than the screen says so: on a phone the
   * columns past the edge (the numbers, often) are otherwise out of sight */
  function markWide() {
    Array.prototype.forEach.call(document.querySelectorAll('.scroll, .figscroll'), function (box) {
      box.classList.toggle('wide', box.scrollWidth > box.clientWidth + 1);
    });
  }
  window.addEventListener('resize', markWide);
  markWide();


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

