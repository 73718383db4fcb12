// e5ui: the exported map's explorer. Draws the map from the page's JSON blocks, then answers
// clicks (a point's text and its nearest neighbours in the embedding space, precomputed at
// export) and a substring search, with no server. User text only ever goes through
// textContent, never innerHTML. Words shown to users live in the panel's HTML
// (assets/map_explore.html).
(function () {
  "use strict";
  var MARK = "e5ui-neighbours"; // meta of the traces a click adds, found again to remove them
  var DIM_OPACITY = 0.25; // as plots/scatter.py fades the points a search does not match
  var GROW = 1.7;

  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function webglWorks() {
    try {
      var canvas = document.createElement("canvas");
      return !!(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
    } catch (e) {
      return false;
    }
  }

  var fig = readJson("e5ui-figure");
  var data = readJson("e5ui-explore-data");
  var panel = document.getElementById("e5ui-explore");
  var gd = document.getElementById(data.div);
  var is3d = fig.data.some(function (t) { return t.type === "scatter3d"; });
  var hint = document.getElementById("e5ui-hint");
  hint.textContent = hint.textContent.replace("{k}", String(data.k));
  if (data.percentile === null) {
    panel.querySelectorAll(".e5ui-pct").forEach(function (el) { el.hidden = true; });
  }

  // Without WebGL, plotly.js draws nothing for scattergl: SVG scatter draws the same traces.
  if (!webglWorks()) {
    fig.data.forEach(function (t) { if (t.type === "scattergl") t.type = "scatter"; });
    var warn = document.createElement("p");
    warn.className = "e5ui-note";
    warn.textContent = panel.dataset.noWebgl;
    panel.insertBefore(warn, panel.firstChild);
    panel.dataset.webgl = "no";
  } else {
    panel.dataset.webgl = "yes";
  }

  var where = []; // position -> [trace, point] of its marker
  var original = {}; // trace -> its marker as drawn, to undo a search

  function position(cd) {
    return cd[cd.length - 1];
  }

  function coord(pos) {
    var at = where[pos];
    var trace = gd._fullData[at[0]];
    var out = [trace.x[at[1]], trace.y[at[1]]];
    if (is3d) out.push(trace.z[at[1]]);
    return out;
  }

  function index() {
    gd.data.forEach(function (t, ti) {
      if (!t.customdata || t.meta === MARK) return;
      t.customdata.forEach(function (cd, j) { where[position(cd)] = [ti, j]; });
      var m = gd._fullData[ti].marker;
      original[ti] = {size: m.size, opacity: m.opacity, color: m.color};
    });
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return key in values ? String(values[key]) : all;
    });
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function showPanel(i) {
    document.getElementById("e5ui-point").hidden = false;
    document.getElementById("e5ui-text").textContent = data.texts[i];
    var meta = [];
    if (data.langs[i]) meta.push(panel.dataset.language + " " + data.langs[i]);
    if (data.labels && data.labels[i]) meta.push(panel.dataset.label + " " + data.labels[i]);
    if (data.ids && data.ids[i]) meta.push(panel.dataset.id + " " + data.ids[i]);
    document.getElementById("e5ui-meta").textContent = meta.join(" · ");
    var body = document.querySelector("#e5ui-neighbours tbody");
    body.replaceChildren();
    data.neighbours[i].forEach(function (j, r) {
      var row = document.createElement("tr");
      row.dataset.index = String(j);
      cell(row, String(r + 1), "num");
      cell(row, data.cosines[i][r].toFixed(3), "num");
      var pct = data.percentile && data.percentile[i][r];
      var td = cell(row, pct === null || pct === undefined ? "" : (100 * pct).toFixed(1) + "%",
                    "num e5ui-pct");
      td.hidden = data.percentile === null;
      cell(row, data.langs[j]);
      var cross = data.langs[i] && data.langs[j] && data.langs[i] !== data.langs[j];
      cell(row, cross ? panel.dataset.cross : "");
      cell(row, data.texts[j], "e5ui-nb-text").dir = "auto"; // right-to-left texts read right
      body.appendChild(row);
    });
    panel.dataset.selected = String(i);
  }

  function ours() {
    var found = [];
    gd.data.forEach(function (t, ti) { if (t.meta === MARK) found.push(ti); });
    return found;
  }

  function drawLines(i) {
    var from = coord(i);
    var axes = is3d ? ["x", "y", "z"] : ["x", "y"];
    var lines = {}, rings = {};
    axes.forEach(function (a) { lines[a] = []; rings[a] = [from[axes.indexOf(a)]]; });
    data.neighbours[i].forEach(function (j) {
      var to = coord(j);
      axes.forEach(function (a, d) {
        lines[a].push(from[d], to[d], null);
        rings[a].push(to[d]);
      });
    });
    var type = is3d ? "scatter3d" : "scatter";
    var common = {type: type, meta: MARK, showlegend: false, hoverinfo: "skip"};
    var lineTrace = Object.assign({mode: "lines", line: {color: data.colors.line, width: 1.5},
                                   opacity: 0.8}, common, lines);
    var ringTrace = Object.assign({mode: "markers", marker: {
      symbol: "circle-open", color: data.colors.ring, size: is3d ? 8 : 14,
      line: {width: 2, color: data.colors.ring}}}, common, rings);
    var old = ours();
    var done = old.length ? Plotly.deleteTraces(gd, old) : Promise.resolve();
    return done.then(function () { return Plotly.addTraces(gd, [lineTrace, ringTrace]); });
  }

  function select(i) {
    showPanel(i);
    return drawLines(i).then(function () { panel.dataset.drawn = String(i); });
  }

  function rgba(color, alpha) {
    if (typeof color !== "string" || color.charAt(0) !== "#" || color.length !== 7) return color;
    var n = parseInt(color.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function at(value, j) {
    return Array.isArray(value) || ArrayBuffer.isView(value) ? value[j] : value;
  }

  function search(query) {
    var q = query.trim().toLowerCase();
    var traces = Object.keys(original).map(Number);
    var count = document.getElementById("e5ui-count");
    var update = {"marker.size": [], "marker.opacity": [], "marker.color": []};
    var hits = 0;
    traces.forEach(function (ti) {
      var o = original[ti];
      if (!q) {
        update["marker.size"].push(o.size);
        update["marker.opacity"].push(o.opacity);
        update["marker.color"].push(o.color);
        return;
      }
      var cds = gd.data[ti].customdata;
      var size = [], opacity = [], color = [];
      cds.forEach(function (cd, j) {
        var hit = data.texts[position(cd)].toLowerCase().indexOf(q) >= 0;
        if (hit) hits += 1;
        var base = at(o.size, j);
        size.push(hit ? Math.round(base * GROW) : base);
        opacity.push(hit ? 1 : DIM_OPACITY);
        color.push(hit ? at(o.color, j) : rgba(at(o.color, j), DIM_OPACITY));
      });
      update["marker.size"].push(size);
      // plotly has no per-point opacity in 3-D: translucent colours there, as the app does
      update["marker.opacity"].push(is3d ? o.opacity : opacity);
      update["marker.color"].push(is3d ? color : o.color);
    });
    count.textContent = !q ? "" : fill(panel.dataset[hits ? "count" : "countNone"],
                                       {n: hits, total: data.texts.length, q: query.trim()});
    panel.dataset.matches = String(hits);
    return Plotly.restyle(gd, update, traces);
  }

  function start() {
    index();
    gd.on("plotly_click", function (ev) {
      var pt = ev && ev.points && ev.points[0];
      if (!pt || pt.data.meta === MARK) return;
      var cd = pt.customdata || (pt.data.customdata || [])[pt.pointNumber];
      if (!Array.isArray(cd)) return;
      select(position(cd));
    });
    var box = document.getElementById("e5ui-search");
    box.addEventListener("input", function () { search(box.value); });
    panel.dataset.ready = "yes";
  }

  // For scripts and tests: the same as a click on point i, or typing in the search box.
  window.e5uiExplore = {select: select, search: search};
  Plotly.newPlot(gd, fig.data, fig.layout, data.config).then(start);
})();
