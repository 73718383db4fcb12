// e5ui: plotly's click and selection events, passed on to the server.
//
// Gradio's Plot component has only a "change" event; plotly's own events stay in the page.
// This script hooks every plotly figure whose element (a gradio block with an elem_id, say
// "map-plot") has companion text boxes "map-plot-click" and/or "map-plot-select" (rendered
// with visible="hidden": in the page, not on screen). A click writes
//   {"point": <the point's position: the last entry of its customdata>, "cell": [row, col], "n": k}
// into the "-click" box, a box or lasso selection writes {"points": [positions], "n": k} into
// the "-select" box (an empty list when the user clears the selection; not when the server
// redraws the figure, which clears it too), and the box's change event
// runs the view's handler on the server. "n" counts events, so a second click on the same
// point is a change too.
//
// The server answers a click on the map with the click's lines only (a few kB, where the map
// is ~18 MB at 100,000 points): window.e5uiFocus(plotId, payload) draws them over the figure
// the page has, in place of the last click's (traces whose meta is FOCUS, the server's own
// included). payload is JSON {"uirevision": the map's, "traces": [...]}, "" for nothing to do.
(() => {
  let count = 0;
  const FOCUS = "e5ui-focus";  // plots.FOCUS_META

  window.e5uiFocus = (plotId, payload) => {
    const gd = document.querySelector(`#${plotId} .js-plotly-plot`);
    if (!payload || !gd || !window.Plotly || !Array.isArray(gd.data)) return null;
    const spec = JSON.parse(payload);
    // A map drawn since the click was sent is not the map these lines belong to.
    if ((gd.layout && gd.layout.uirevision) !== spec.uirevision) return null;
    const old = [];
    gd.data.forEach((trace, i) => { if (trace.meta === FOCUS) old.push(i); });
    let done = old.length ? window.Plotly.deleteTraces(gd, old) : Promise.resolve();
    if (spec.traces.length) done = done.then(() => window.Plotly.addTraces(gd, spec.traces));
    return done;
  };

  function send(boxId, payload) {
    const box = document.querySelector(`#${boxId} textarea, #${boxId} input`);
    if (!box) return;
    count += 1;
    payload.n = count;
    // The native setter, then an input event: what typing does, so gradio sees the value.
    const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), "value").set;
    setter.call(box, JSON.stringify(payload));
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function position(point) {
    const custom = point.customdata;
    if (!Array.isArray(custom) || custom.length === 0) return null;
    const last = custom[custom.length - 1];
    return Number.isInteger(last) ? last : null;
  }

  function owner(plot) {
    // The closest element with an id that has companion boxes.
    for (let el = plot; el; el = el.parentElement) {
      if (el.id && (document.getElementById(`${el.id}-click`)
                    || document.getElementById(`${el.id}-select`))) return el.id;
    }
    return null;
  }

  function hook(plot) {
    if (typeof plot.on !== "function") return;  // not drawn yet
    const id = owner(plot);
    if (!id || plot.dataset.e5uiHooked === id) return;
    plot.dataset.e5uiHooked = id;
    if (document.getElementById(`${id}-click`)) {
      plot.on("plotly_click", (event) => {
        const point = event && event.points && event.points[0];
        if (!point) return;
        const cell = Array.isArray(point.pointIndex) ? point.pointIndex : null;
        const at = position(point);
        if (at === null && cell === null) return;  // a line or a label, not a text
        send(`${id}-click`, { point: at, cell: cell });
      });
    }
    if (document.getElementById(`${id}-select`)) {
      // A deselect counts when the user pressed a mouse button or a key on the figure since the
      // selection was made, a moment ago (a double click, a click beside the points); a
      // redraw from the server clears the selection too, but the user's table stays.
      let touched = 0;
      let selectedAt = 0;
      const mark = () => { touched = Date.now(); };
      const byUser = () => touched > selectedAt && Date.now() - touched < 2000;
      plot.addEventListener("pointerdown", mark, true);
      plot.addEventListener("keydown", mark, true);
      plot.on("plotly_selected", (event) => {
        if (!event) return;  // a click that selected nothing: plotly_deselect follows
        const points = event.points.map(position).filter((p) => p !== null);
        if (points.length === 0 && !byUser()) return;  // a redraw, not the user
        selectedAt = Date.now();
        send(`${id}-select`, { points: [...new Set(points)] });
      });
      plot.on("plotly_deselect", () => {
        if (byUser()) send(`${id}-select`, { points: [] });
      });
    }
  }

  let pending = false;
  function scan() {
    pending = false;
    document.querySelectorAll(".js-plotly-plot").forEach(hook);
  }
  new MutationObserver(() => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(scan);
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
