// The SVG's script (svg.py embeds it): fold and unfold groups on a click, show a box's tooltip on hover.
// It places everything as layout.place does in Python, from the numbers svg.py puts in MODELSPEC_GRAPH.
function start() {
  const D = MODELSPEC_GRAPH, svg = document.getElementById('modelspec-graph');
  const [W, H, GAP, PAD, FTOP, MARGIN] = D.box;
  const folded = new Set(Array.from(svg.querySelectorAll('g.fold[data-fold]'))
    .filter(g => g.style.display !== 'none').map(g => g.dataset.fold));
  function spans() {
    const s = {};
    for (const [g, ms] of Object.entries(D.groups)) {
      const first = Math.min(...ms.map(m => D.rank[m])), last = Math.max(...ms.map(m => D.rank[m]));
      const xs = ms.map(m => D.x[m]), mid = (Math.min(...xs) + Math.max(...xs)) / 2;
      let head = null;
      for (const m of ms) if (D.rank[m] === first && (head === null || Math.abs(D.x[m] - mid) < Math.abs(D.x[head] - mid))) head = m;
      s[g] = [first, last, D.x[head]];
    }
    return s;
  }
  const SPANS = spans(), AT = {};
  for (const n of Object.keys(D.rank)) (AT[D.rank[n]] = AT[D.rank[n]] || new Set()).add(D.group[n] || '');
  function tops() {
    const anchor = [...Array(D.ranks).keys()];
    for (const g of folded) {
      const [first, last] = SPANS[g];
      for (let r = first + 1; r <= last; r++) {
        const here = AT[r] || new Set();
        if ([...here].every(k => k === g)) anchor[r] = anchor[first];
      }
    }
    const t = []; let y = D.top;
    for (let r = 0; r < D.ranks; r++) {
      if (anchor[r] === r) { t.push(y); y += H + GAP; } else t.push(t[anchor[r]]);
    }
    t.push(y);
    return t;
  }
  function curve(p) {
    let [x, y] = p[0], d = `M${x},${y}`;
    for (const [nx, ny] of p.slice(1)) { const m = (y + ny) / 2; d += ` C${x},${m} ${nx},${m} ${nx},${ny}`; x = nx; y = ny; }
    return d;
  }
  function draw() {
    const t = tops(), where = {};
    for (const g of svg.querySelectorAll('g.fold[data-fold]')) {
      const name = g.dataset.fold, on = folded.has(name);
      g.style.display = on ? '' : 'none';
      if (on) g.setAttribute('transform', `translate(${SPANS[name][2] - W / 2},${t[SPANS[name][0]]})`);
    }
    for (const g of svg.querySelectorAll('g.box')) {
      const n = g.dataset.name, grp = D.group[n], y = t[D.rank[n]];
      if (grp && folded.has(grp)) { g.style.display = 'none'; where[n] = [SPANS[grp][2], t[SPANS[grp][0]]]; }
      else { g.style.display = ''; g.setAttribute('transform', `translate(${D.x[n] - W / 2},${y})`); where[n] = [D.x[n], y]; }
    }
    for (const g of svg.querySelectorAll('g.frame')) {
      const name = g.dataset.group, ms = D.groups[name];
      if (folded.has(name)) { g.style.display = 'none'; continue; }
      g.style.display = '';
      const [x0, x1] = D.sides[name];
      const y0 = Math.min(...ms.map(m => t[D.rank[m]])) - FTOP, y1 = Math.max(...ms.map(m => t[D.rank[m]])) + H + PAD / 2;
      const r = g.querySelector('rect'), l = g.querySelector('text');
      r.setAttribute('x', x0); r.setAttribute('y', y0); r.setAttribute('width', x1 - x0); r.setAttribute('height', y1 - y0);
      l.setAttribute('x', x0 + 8); l.setAttribute('y', y0 + 14);
    }
    const paths = svg.querySelectorAll('path.edge');
    D.edges.forEach(([s, d, route], i) => {
      const p = paths[i], gs = D.group[s];
      if (gs && folded.has(gs) && D.group[d] === gs) { p.style.display = 'none'; return; }
      p.style.display = '';
      const y0 = where[s][1] + H, y1 = where[d][1];
      const mid = route.map(([x, r]) => [x, t[r] + H / 2]).filter(([, y]) => y0 < y && y < y1);
      const pts = [[where[s][0], y0], ...mid, where[d]];
      p.setAttribute('d', curve(pts));
    });
    const height = t[D.ranks] - GAP + MARGIN;
    svg.setAttribute('height', height);
    const vb = svg.viewBox.baseVal; vb.height = height;
    svg.querySelector(':scope > rect').setAttribute('height', height);
  }
  function toggle(name) { if (folded.has(name)) folded.delete(name); else folded.add(name); draw(); }
  svg.addEventListener('click', ev => {
    const frame = ev.target.closest('g.frame'), box = ev.target.closest('g.fold[data-fold]');
    if (box) toggle(box.dataset.fold);
    else if (frame && ev.target.tagName === 'text') toggle(frame.dataset.group);
  });
  const tip = svg.getElementById('tip');
  svg.addEventListener('mouseover', ev => {
    const g = ev.target.closest('g.box, g.fold[data-fold]');
    if (!g) { tip.style.display = 'none'; return; }
    const lines = g.querySelector('title').textContent.split('\n'), text = tip.querySelector('text');
    text.textContent = '';
    lines.forEach((line, i) => {
      const span = document.createElementNS('http://www.w3.org/2000/svg', 'tspan');
      span.setAttribute('x', 8); span.setAttribute('dy', i ? 15 : 0); span.textContent = line; text.appendChild(span);
    });
    const m = g.transform.baseVal.consolidate().matrix;
    tip.style.display = '';
    text.setAttribute('transform', 'translate(0,16)');
    const box = text.getBBox();
    const r = tip.querySelector('rect');
    r.setAttribute('width', box.width + 16); r.setAttribute('height', box.height + 10);
    const room = svg.width.baseVal.value, wide = box.width + 16;
    const [tx, ty] = m.e + W + 8 + wide <= room ? [m.e + W + 8, m.f] : [Math.max(4, room - wide - 4), m.f + H + 6];
    tip.setAttribute('transform', `translate(${tx},${ty})`);
    tip.parentNode.appendChild(tip);
  });
  draw();
}
// the whole picture must be in the document before the script places it
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
