"""Reading the threshold explorer (ui/components/threshold_explorer) in chromium, for the
browser tests and `make bench-app`: what it shows, read back from the drawn SVG through
Plotly's own axes, and what Plotly's data holds once the slider rests."""

# In the component's frame: the threshold shown, the metrics' text, and every moving trace's
# values as drawn (pixels back to data, with one pixel's worth as the tolerance), bar labels,
# error bars (high, low), the figures' own titles and the note under the metrics.
STATE = """() => {
  const out = {label: document.body.dataset.shown, threshold: view.thresholds[idx], index: idx,
               valuetext: document.getElementById('tau').getAttribute('aria-valuetext'),
               metrics: {}, drawn: [], plotly: [], notes: document.getElementById('notes').textContent,
               titles: plots.map((p) => (p.div.querySelector('.gtitle') || {}).textContent || '')};
  for (const box of document.querySelectorAll('[data-testid=metric]')) {
    out.metrics[box.querySelector('.label').textContent] =
      [box.querySelector('.value').textContent, box.querySelector('.delta').textContent];
  }
  for (const p of plots) {
    const full = p.div._fullLayout, groups = traceGroups(p.div), drawn = [], data = [];
    for (const m of p.panel.moves) {
      const g = groups[m.trace], trace = g.__data__[0].trace;
      const xa = full[trace.xaxis.replace('x', 'xaxis')], ya = full[trace.yaxis.replace('y', 'yaxis')];
      const pixel = {x: Math.abs(xa.p2c(1) - xa.p2c(0)), y: Math.abs(ya.p2c(1) - ya.p2c(0))};
      if (trace.type === 'bar') {
        const ys = [...g.querySelectorAll('g.point path')].map((path) => {
          const n = (path.getAttribute('d') || '').match(/-?[\\d.]+(e-?\\d+)?/g) || [];
          return n.length >= 5 ? ya.p2c(Number(n[2])) : 0;  // M x0,base V top H x1 V base Z
        });
        drawn.push({y: ys, tol: pixel.y, labels: [...g.querySelectorAll('g.point text')].map((t) => t.textContent)});
      } else {
        const px = [...g.querySelectorAll('path.point')].map((path) => {
          const t = path.getAttribute('transform').match(/translate\\(([-\\d.e]+),\\s*([-\\d.e]+)\\)/);
          return [Number(t[1]), Number(t[2])];
        });
        const pts = px.map(([x, y]) => [xa.p2c(x), ya.p2c(y)]);
        const at = px[0] || [0, 0];  // one pixel's worth where the point is (a log axis' steps vary)
        const bar = g.querySelector('g.errorbar path.yerror');  // M x-w,high h2w m-w,0 V low ...
        const n = bar ? (bar.getAttribute('d') || '').match(/-?[\\d.]+(e-?\\d+)?/g) : null;
        drawn.push({x: pts.map((q) => q[0]), y: pts.map((q) => q[1]),
                    tol: Math.abs(ya.p2c(at[1] + 1) - ya.p2c(at[1])),
                    xtol: Math.abs(xa.p2c(at[0] + 1) - xa.p2c(at[0])),
                    error: n ? [ya.p2c(Number(n[1])), ya.p2c(Number(n[5]))] : null});
      }
      data.push({x: trace.x, y: trace.y, name: trace.name, text: trace.text,
                 error: trace.error_y && trace.error_y.array ? [trace.error_y.array, trace.error_y.arrayminus] : null});
    }
    out.drawn.push(drawn);
    out.plotly.push(data);
  }
  return out;
}"""

SHOWN = "() => document.body.dataset.shown"


def explorer_frame(page, timeout: float = 120_000):
    """The explorer's frame once it shows a threshold."""
    page.frame_locator("iframe[title*='threshold_explorer']").locator("body[data-shown]").wait_for(timeout=timeout)
    return next(f for f in page.frames if "threshold_explorer" in f.url)


def slider(page):
    return page.frame_locator("iframe[title*='threshold_explorer']").locator("#tau")
