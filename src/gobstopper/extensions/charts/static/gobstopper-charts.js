/*
 * Gobstopper charts: draws the charts a page declares, and keeps live ones up to date over Server-Sent Events.
 *
 * No inline script is needed (the page passes `script-src 'self'`). Each chart is two elements written by
 * gobstopper.extensions.charts:
 *
 *   <div id="ID" class="gobstopper-chart" data-width="100%" data-height="400px" data-theme="dark"
 *        data-renderer="canvas" data-live="/stream"></div>
 *   <script type="application/json" data-gobstopper-chart="ID">{...the ECharts option...}</script>
 *
 * Live charts: every distinct `data-live` URL is one EventSource, shared by the charts that name it. Its events:
 *   chart-option  {"chart": ID, "option": {...}}                      setOption (merged, as ECharts merges)
 *   chart-points  {"chart": ID, "x": [...], "y": [[...], ...], "limit": N}
 *                 appends x[k] to the category axis (if any) and y[i][k] to series i, keeping the last N points
 *
 * window.GobstopperCharts: get(id), ids(), scan(root), apply(eventName, message).
 */
(function () {
  "use strict";
  if (window.GobstopperCharts) return;

  var SELECTOR = 'script[type="application/json"][data-gobstopper-chart]';
  var charts = {};   // id -> ECharts instance
  var sources = {};  // live URL -> EventSource
  var drawn = new WeakMap();  // options script -> the text drawn from it

  function trim(data, limit) {
    return limit > 0 && data.length > limit ? data.slice(data.length - limit) : data;
  }

  function appendPoints(chart, message) {
    var option = chart.getOption() || {};
    var xs = message.x || [];
    var ys = message.y || [];
    var limit = message.limit || 0;
    var axis = (option.xAxis || [])[0];
    var category = !!axis && axis.type === "category";
    var update = { series: [] };
    if (category) {
      update.xAxis = [{ data: trim((axis.data || []).concat(xs), limit) }];
    }
    (option.series || []).forEach(function (series, i) {
      var old = series.data || [];
      // A series keeps its shape: [x, y] pairs (pyecharts' line charts, time and value axes) or bare values.
      var pairs = old.length ? Array.isArray(old[old.length - 1]) : !category;
      var added = ys[i];
      if (!added) {
        if (pairs || !category) { update.series.push({}); return; }
        added = xs.map(function () { return null; });  // a gap keeps bare values in step with the axis
      }
      var points = pairs ? added.map(function (v, k) { return [xs[k], v]; }) : added;
      update.series.push({ data: trim(old.concat(points), limit) });
    });
    chart.setOption(update);
  }

  function apply(name, message) {
    var chart = message && charts[message.chart];
    if (!chart || chart.isDisposed()) return false;
    if (name === "chart-points") appendPoints(chart, message);
    else if (name === "chart-option") chart.setOption(message.option || {});
    else return false;
    return true;
  }

  function listen(url) {
    if (sources[url]) return;
    var source = new EventSource(url);
    sources[url] = source;
    ["chart-option", "chart-points"].forEach(function (name) {
      source.addEventListener(name, function (event) {
        apply(name, JSON.parse(event.data));
      });
    });
  }

  function draw(script) {
    var id = script.getAttribute("data-gobstopper-chart");
    var el = id && document.getElementById(id);
    if (!el || typeof echarts === "undefined") return;
    var text = script.textContent || "{}";
    if (drawn.get(script) === text && charts[id] && !charts[id].isDisposed()) return;  // drawn already
    drawn.set(script, text);
    var option = JSON.parse(text);
    var chart = charts[id];
    if (chart && !chart.isDisposed() && chart.getDom() === el) {
      chart.setOption(option, true);  // the same chart written again (a partial page update): new option
      return;
    }
    if (chart && !chart.isDisposed()) chart.dispose();
    // Sizes are set through the CSSOM, which a strict style-src allows (a style="" attribute it would not).
    el.style.width = el.getAttribute("data-width") || "100%";
    el.style.height = el.getAttribute("data-height") || "400px";
    chart = echarts.init(el, el.getAttribute("data-theme") || null, {
      renderer: el.getAttribute("data-renderer") || "canvas"
    });
    chart.setOption(option);
    charts[id] = chart;
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () { if (!chart.isDisposed()) chart.resize(); }).observe(el);
    }
    var live = el.getAttribute("data-live");
    if (live) listen(live);
  }

  function scan(root) {
    Object.keys(charts).forEach(function (id) {
      var chart = charts[id];
      if (chart.isDisposed() || !chart.getDom().isConnected) {
        chart.dispose();
        delete charts[id];
      }
    });
    Array.prototype.forEach.call((root || document).querySelectorAll(SELECTOR), draw);
  }

  window.GobstopperCharts = {
    get: function (id) { return charts[id] || null; },
    ids: function () { return Object.keys(charts); },
    scan: scan,
    apply: apply
  };

  function start() {
    scan(document);
    // Charts added later (a Datastar or htmx patch of the page) are drawn as they arrive, and a chart whose options
    // block changes is drawn again with the new option.
    if (typeof MutationObserver !== "undefined") {
      new MutationObserver(function (records) {
        for (var i = 0; i < records.length; i++) {
          var target = records[i].target;  // an options block whose text changed (a morph)
          if (target.nodeType === 3) target = target.parentNode;
          if (target && target.nodeType === 1 && target.matches(SELECTOR)) { scan(document); return; }
          var nodes = records[i].addedNodes;
          for (var k = 0; k < nodes.length; k++) {
            var node = nodes[k];
            if (node.nodeType === 1 && (node.matches(SELECTOR) || node.querySelector(SELECTOR))) {
              scan(document);
              return;
            }
          }
        }
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
