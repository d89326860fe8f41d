/* normlab report's script: a chart downloaded as SVG or PNG, with its
 * axis titles and legend (report.1-tables.js says how the pieces make the
 * page's script). Function declarations only: the page starts
 * (report.6-page.js) before this piece's statements would run. */

  /* the properties the page's CSS gives a chart's marks, written on each
   * mark of the copy: the file stands alone, without the page's CSS */
  function exportProperties() {
    return ['fill', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-dasharray', 'opacity',
            'font-family', 'font-size', 'font-weight', 'text-anchor', 'visibility'];
  }

  /* chart (an svg on the page) as an SVG document's text: a title above,
   * the chart, and below it a legend of entries [label, colour, dashes] */
  function chartSvgText(chart, title, entries) {
    var vb = chart.viewBox.baseVal, w = vb.width, h = vb.height;
    var clone = chart.cloneNode(true), from = chart.querySelectorAll('*'), to = clone.querySelectorAll('*');
    /* the light scheme's ink for the file's white ground, also from a dark
     * page (issue 118: a dark page's light labels and dark grid came along) */
    var root = document.documentElement;
    root.classList.add('export-ink');
    for (var i = 0; i < from.length; i++) {
      var cs = window.getComputedStyle(from[i]), style = '';
      exportProperties().forEach(function (p) { style += p + ':' + cs.getPropertyValue(p) + ';'; });
      to[i].setAttribute('style', style);
    }
    root.classList.remove('export-ink');
    /* the hover's ring and a box being dragged are no part of the figure */
    Array.prototype.forEach.call(clone.querySelectorAll('.mark, rect.band'), function (e) { e.parentNode.removeChild(e); });
    Array.prototype.forEach.call(clone.querySelectorAll('[class]'), function (e) { e.removeAttribute('class'); });
    /* columns as wide as the longest entry (about 7 units a character at 12) */
    var longest = entries.reduce(function (m, e) { return Math.max(m, e[0].length); }, 0);
    var cols = Math.max(1, Math.min(4, Math.floor((w - 16) / (40 + longest * 7)))), rows = Math.ceil(entries.length / cols);
    var top = 26;
    var height = top + h + (rows ? 10 + rows * 18 : 0) + 6;
    var out = node('svg', { xmlns: SVG, width: w, height: height, viewBox: '0 0 ' + w + ' ' + height,
                            'font-family': 'DejaVu Sans, sans-serif', 'font-size': 12 });
    node('rect', { x: 0, y: 0, width: w, height: height, fill: '#fff' }, out);
    node('text', { x: 4, y: 17, 'font-size': 14, 'font-weight': 'bold', fill: '#1d1d1f' }, out).textContent = title;
    var body = node('g', { transform: 'translate(0,' + top + ')' }, out);
    while (clone.firstChild) body.appendChild(clone.firstChild);
    entries.forEach(function (e, i) {
      var x = 8 + (i % cols) * (w - 16) / cols, y = top + h + 18 + Math.floor(i / cols) * 18;
      var line = node('line', { x1: x, x2: x + 26, y1: y - 4, y2: y - 4, stroke: e[1], 'stroke-width': 2.5 }, out);
      if (e[2]) line.setAttribute('stroke-dasharray', e[2]);
      node('text', { x: x + 32, y: y, fill: '#1d1d1f' }, out).textContent = e[0];
    });
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(out);
  }

  function downloadAs(name, href) {
    var a = html('a', { href: href, download: name }, document.body);
    a.click();
    window.setTimeout(function () {
      if (/^blob:/.test(href)) URL.revokeObjectURL(href);
      a.parentNode.removeChild(a);
    }, 1000);
  }

  /* the chart as name.svg, or drawn at twice its size into name.png */
  function exportChart(chart, title, entries, name, png) {
    var text = chartSvgText(chart, title, entries);
    if (!png) {
      downloadAs(name + '.svg', URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' })));
      return;
    }
    var img = new Image();
    img.onload = function () {
      var canvas = document.createElement('canvas');
      canvas.width = img.width * 2; canvas.height = img.height * 2;
      var ctx = canvas.getContext('2d');
      ctx.scale(2, 2);
      ctx.drawImage(img, 0, 0);
      downloadAs(name + '.png', canvas.toDataURL('image/png'));
    };
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text);
  }
