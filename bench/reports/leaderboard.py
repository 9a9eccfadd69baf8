"""`bench leaderboard`: a static site generated from the records, as RobustBench's
leaderboards are: one page per (dataset, protocol, preset) with a sortable table of every
method setting that has records (plug-ins included), the action-privacy plane with each
method's points and the Pareto front, and AP per private attribute; every row links to its
records' JSON (copied into the site) and to its method's description and paper.

The site works offline: its one script and its style are written inline into each page,
nothing is fetched. The plane is an SVG the script draws from the page's embedded data: one
`g.trace` per method (its seeds' points and their mean), legend entries that hide or show a
trace, a tooltip per point.
"""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.contract.atomic import atomic_write_text
from bench.contract.method import METHODS, params_text
from bench.contract.protocol import PROTOCOLS
from bench.reports.chance import Chance, normalised_stat
from bench.reports.costs import RowCost, fps_text, parameters_text, row_cost
from bench.reports.figures import pareto_front
from bench.reports.table_specs import NO_DROP_METRICS
from bench.store.reading import METRIC_DECIMALS, RecordSet, Selector, Stat, full_params

SHOWN_METRICS = ("action_top1", "privacy_cmap", "privacy_f1")
METRIC_TITLES = {
    "action_top1": "Top-1 (%) ↑",
    "privacy_cmap": "cMAP (%) ↓",
    "privacy_f1": "F1 ↓",
    "anonymized_privacy_cmap": "cMAP on fA*(test) (%) ↓",
    "raw_privacy_cmap": "cMAP on raw (%)",
    "reconstruction_psnr": "PSNR of g(fA*(test)) (dB) ↓",
    "reconstruction_ssim": "SSIM of g(fA*(test)) ↓",
}


@dataclass(frozen=True)
class Entry:
    """One method setting on one page: its statistics over seeds and its records."""

    method: str
    params: dict[str, Any]  # those that differ from the method's defaults
    evaluation: dict[str, str]
    label: str
    stats: dict[str, Stat]
    drops: dict[str, float]  # raw's mean minus this one's, over the same seeds
    normalised: Stat | None  # chance-normalised cMAP (%), per seed against raw
    cost: RowCost | None
    ap: dict[str, float]  # mean AP (%) per private attribute
    records: tuple[str, ...]  # keys
    points: tuple[tuple[int, float, float], ...]  # (seed, cMAP %, top-1 %)


@dataclass(frozen=True)
class Page:
    """One (dataset, protocol, preset) leaderboard."""

    dataset: str
    protocol: str
    preset: str
    metrics: tuple[str, ...]
    entries: tuple[Entry, ...]
    front: tuple[str, ...] = field(default=())  # labels on the Pareto front

    @property
    def slug(self) -> str:
        """The page's file name, no suffix."""
        text = f"{self.dataset}-{self.protocol}-{self.preset}"
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _mean_ap(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    found: dict[str, list[float]] = {}
    for record in records:
        for name, ap in (record.get("details", {}).get("privacy_ap") or {}).items():
            found.setdefault(name, []).append(float(ap) * 100)
    return {name: statistics.fmean(v) for name, v in sorted(found.items())}


def build_pages(records: RecordSet, chance: Chance | None = None) -> list[Page]:
    """Every (dataset, protocol, preset) of the records as a page, methods sorted by name."""
    pages = []
    combos = sorted({(v.dataset, v.protocol) for v in records.views})
    for dataset, protocol in combos:
        for preset in records.presets(dataset, {protocol}):
            page = _page(records, dataset, protocol, preset, chance)
            if page.entries:
                pages.append(page)
    return pages


def _page(
    records: RecordSet, dataset: str, protocol: str, preset: str, chance: Chance | None
) -> Page:
    declared = PROTOCOLS.get(protocol).metrics if protocol in PROTOCOLS.names() else SHOWN_METRICS
    settings: dict[str, Selector] = {}
    for view in records.views:
        if (view.dataset, view.protocol) != (dataset, protocol):
            continue
        chosen_models = {
            k: v for k, v in view.evaluation.items() if view.default_evaluation.get(k) != v
        }
        selector = Selector(view.method, dict(view.params), protocol, dataset, chosen_models)
        key = json.dumps([view.method, view.params, chosen_models], sort_keys=True, default=str)
        settings.setdefault(key, selector)
    metrics = tuple(m for m in declared if m in METRIC_TITLES)
    entries = []
    for selector in settings.values():
        chosen = records.select(selector, preset)
        if chosen:
            entries.append(_entry(records, selector, chosen, preset, metrics, chance))
    entries.sort(key=lambda e: (e.method != "raw", e.label))
    front: tuple[str, ...] = ()
    plotted = [e for e in entries if e.points]
    if plotted:
        xy = [(e.stats["privacy_cmap"].mean, e.stats["action_top1"].mean) for e in plotted]
        front = tuple(plotted[i].label for i in pareto_front(xy))
    return Page(dataset, protocol, preset, metrics, tuple(entries), front)


def _entry(
    records: RecordSet,
    selector: Selector,
    chosen: list[Mapping[str, Any]],
    preset: str,
    metrics: Sequence[str],
    chance: Chance | None,
) -> Entry:
    stats = {m: s for m in metrics if (s := records.stat(selector, m, preset)) is not None}
    raw_selector = selector.with_method("raw", {})
    drops = {}
    if selector.method != "raw":
        for metric, stat in stats.items():
            if metric in NO_DROP_METRICS:
                continue
            raw = records.stat(raw_selector, metric, preset, stat.seeds)
            if raw is not None and raw.n == stat.n:
                drops[metric] = raw.mean - stat.mean
    norm = None
    if chance is not None and "privacy_cmap" in stats:
        norm = normalised_stat(records, selector, preset, chance)
    defaults = full_params(selector.method, {}, selector.dataset) or {}
    changed = {k: v for k, v in selector.params.items() if defaults.get(k) != v}
    shown = params_text(changed, ", ")
    models = params_text(selector.evaluation, ", ")
    label = selector.method + (f" ({shown})" if shown else "") + (f" [{models}]" if models else "")
    points: tuple[tuple[int, float, float], ...] = ()
    if {"action_top1", "privacy_cmap"} <= set(stats):
        points = tuple(
            (int(r["seed"]), float(r["metrics"]["privacy_cmap"]) * 100,
             float(r["metrics"]["action_top1"]) * 100)
            for r in chosen
        )  # fmt: skip
    return Entry(
        selector.method,
        changed,
        dict(selector.evaluation),
        label,
        stats,
        drops,
        norm,
        row_cost(chosen),
        _mean_ap(chosen),
        tuple(str(r["key"]) for r in chosen),
        points,
    )


# ------------------------------------------------------------------ writing the site

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{cursor:pointer;background:#f4f4f4;user-select:none}
th.sorted-asc::after{content:" ▲"} th.sorted-desc::after{content:" ▼"}
td.text,th.text{text-align:left}
tr.front td:first-child{font-weight:bold}
.legend span{cursor:pointer;margin-right:1rem;white-space:nowrap}
.legend span.off{opacity:.35}
.note{color:#555;font-size:.85rem}
.v{white-space:nowrap}
.wide{overflow-x:auto}
#tooltip{position:fixed;background:#222;color:#fff;padding:.2rem .4rem;font-size:.8rem;
border-radius:3px;pointer-events:none;display:none}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("page-data").textContent);
  // sortable tables: click a header; numbers sort by data-v, text by its content
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("sorted-asc");
        table.querySelectorAll("th").forEach(function (h) {
          h.classList.remove("sorted-asc", "sorted-desc");
        });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col], y = b.cells[col];
          var vx = x.getAttribute("data-v"), vy = y.getAttribute("data-v");
          var cmp;
          if (vx !== null && vy !== null) {
            var nx = vx === "" ? Infinity : parseFloat(vx);
            var ny = vy === "" ? Infinity : parseFloat(vy);
            cmp = nx - ny;
          } else {
            cmp = x.textContent.localeCompare(y.textContent);
          }
          return asc ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  // the action-privacy plane: one g.trace per method, the Pareto front as a dashed line
  var holder = document.getElementById("plane");
  if (!holder || !data.traces.length) { return; }
  var NS = "http://www.w3.org/2000/svg";
  var W = 760, H = 460, L = 60, R = 20, T = 20, B = 50;
  var xs = [], ys = [];
  data.traces.forEach(function (t) {
    t.points.forEach(function (p) { xs.push(p[1]); ys.push(p[2]); });
  });
  function span(v) {
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v), pad = (hi - lo) * 0.08 || 1;
    return [lo - pad, hi + pad];
  }
  var sx = span(xs), sy = span(ys);
  function X(v) { return L + (v - sx[0]) / (sx[1] - sx[0]) * (W - L - R); }
  function Y(v) { return H - B - (v - sy[0]) / (sy[1] - sy[0]) * (H - T - B); }
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  var svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H}, holder);
  el("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#999"}, svg);
  for (var i = 0; i <= 5; i++) {
    var vx = sx[0] + (sx[1] - sx[0]) * i / 5, vy = sy[0] + (sy[1] - sy[0]) * i / 5;
    el("text", {x: X(vx), y: H - B + 16, "text-anchor": "middle", "font-size": 11}, svg)
      .textContent = vx.toFixed(1);
    el("text", {x: L - 6, y: Y(vy) + 4, "text-anchor": "end", "font-size": 11}, svg)
      .textContent = vy.toFixed(1);
  }
  el("text", {x: (W + L) / 2, y: H - 10, "text-anchor": "middle", "font-size": 12}, svg)
    .textContent = "privacy cMAP (%), lower is better";
  el("text", {x: 14, y: (H - B + T) / 2, "text-anchor": "middle", "font-size": 12,
              transform: "rotate(-90 14 " + (H - B + T) / 2 + ")"}, svg)
    .textContent = "action top-1 (%), higher is better";
  if (data.front.length > 1) {
    var d = data.front.map(function (p, k) {
      return (k ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1);
    }).join(" ");
    el("path", {d: d, fill: "none", stroke: "green", "stroke-dasharray": "5 4",
                class: "front"}, svg);
  }
  var tip = document.getElementById("tooltip");
  var legend = document.getElementById("legend");
  data.traces.forEach(function (t, k) {
    var colour = "hsl(" + Math.round(k * 360 / data.traces.length) + ",65%,45%)";
    var g = el("g", {class: "trace", "data-method": t.label}, svg);
    t.points.forEach(function (p) {
      var c = el("circle", {cx: X(p[1]), cy: Y(p[2]), r: 3.5, fill: colour, opacity: 0.55}, g);
      c.addEventListener("mousemove", function (ev) {
        tip.style.display = "block";
        tip.style.left = ev.clientX + 12 + "px";
        tip.style.top = ev.clientY + 12 + "px";
        tip.textContent = t.label + ", seed " + p[0] + ": cMAP " + p[1].toFixed(2) +
          ", top-1 " + p[2].toFixed(2);
      });
      c.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    });
    el("circle", {cx: X(t.mean[0]), cy: Y(t.mean[1]), r: 7, fill: "none", stroke: colour,
                  "stroke-width": 2}, g);
    var item = document.createElement("span");
    item.style.color = colour;
    item.textContent = "● " + t.label;
    item.addEventListener("click", function () {
      var off = item.classList.toggle("off");
      g.style.display = off ? "none" : "";
    });
    legend.appendChild(item);
  });
})();
"""


def _cell(stat: Stat | None, metric: str, drop: float | None = None) -> str:
    if stat is None:
        return '<td data-v="">–</td>'
    digits = METRIC_DECIMALS.get(metric, 3)
    text = f"{stat.mean:.{digits}f}"
    if stat.n > 1:
        text += f" ± {stat.std:.{digits}f}"
    text = f'<span class="v">{text}</span>'  # mean ± std on one line, the drop below it
    if drop is not None:
        arrow = "↓" if drop >= 0 else "↑"
        text += f'<br><span class="note">({arrow} {abs(drop):.{digits}f})</span>'
    return f'<td data-v="{stat.mean:.6g}">{text}</td>'


def _page_html(page: Page, pages: Sequence[Page]) -> str:
    e = html.escape
    heads = ["Method", "Parameters (non-default)", "Seeds"]
    heads += [METRIC_TITLES[m] for m in page.metrics]
    with_norm = any(x.normalised for x in page.entries)
    if with_norm:
        heads.append("cMAP, chance-normalised (%) ↓")
    heads += ["Params ↓", "GFLOP/frame ↓", "frames/s (320x240) ↑", "Records"]
    rows = []
    for entry in page.entries:
        front = entry.label in page.front
        method = METHODS.get(entry.method) if entry.method in METHODS.names() else None
        reference = " [reference]" if method is not None and method.reference else ""
        cells = [
            f'<td class="text"><a href="methods.html#{e(entry.method)}">{e(entry.method)}</a>'
            f"{reference}{' ★' if front else ''}</td>",
            f'<td class="text">{e(params_text(entry.params, ", ")) or "–"}'
            f"{' [' + e(params_text(entry.evaluation, ', ')) + ']' if entry.evaluation else ''}</td>",
            f'<td data-v="{len(entry.records)}">{len(entry.records)}</td>',
        ]
        cells += [_cell(entry.stats.get(m), m, entry.drops.get(m)) for m in page.metrics]
        if with_norm:
            cells.append(_cell(entry.normalised, "privacy_cmap"))
        cost = entry.cost
        cells += [
            f'<td data-v="{cost.parameters}">{parameters_text(cost.parameters)}</td>'
            if cost else '<td data-v="">–</td>',
            f'<td data-v="{cost.gflops_per_frame:.6g}">{cost.gflops_per_frame:.3g}</td>'
            if cost else '<td data-v="">–</td>',
            f'<td data-v="{cost.fps_320x240:.6g}">{fps_text(cost.fps_320x240)}</td>'
            if cost else '<td data-v="">–</td>',
        ]  # fmt: skip
        links = " ".join(f'<a href="records/{k}.json">{k[:8]}</a>' for k in entry.records)
        cells.append(f'<td class="text">{links}</td>')
        rows.append(f'<tr class="{"front" if front else ""}">{"".join(cells)}</tr>')
    head = "".join(
        f'<th class="{"text" if i < 2 else ""}">{e(h)}</th>' for i, h in enumerate(heads)
    )
    attributes = sorted({a for x in page.entries for a in x.ap})
    ap_rows = "".join(
        f'<tr><td class="text">{e(x.label)}</td>'
        + "".join(
            f'<td data-v="{x.ap[a]:.6g}">{x.ap[a]:.1f}</td>'
            if a in x.ap
            else '<td data-v="">–</td>'
            for a in attributes
        )
        + "</tr>"
        for x in page.entries
        if x.ap
    )
    ap_head = '<th class="text">Method</th>' + "".join(f"<th>{e(a)}</th>" for a in attributes)
    traces = [
        {
            "label": x.label,
            "points": [list(p) for p in x.points],
            "mean": [x.stats["privacy_cmap"].mean, x.stats["action_top1"].mean],
        }
        for x in page.entries
        if x.points
    ]
    by_label = {x.label: x for x in page.entries}
    front_points = [
        [by_label[lab].stats["privacy_cmap"].mean, by_label[lab].stats["action_top1"].mean]
        for lab in page.front
    ]
    data = json.dumps({"traces": traces, "front": front_points}).replace("</", "<\\/")
    nav = " · ".join(
        f'<a href="{p.slug}.html">{e(p.dataset)} / {e(p.protocol)} / {e(p.preset)}</a>'
        for p in pages
    )
    plane = (
        '<h2>Action against privacy</h2><p class="note">Each method\'s runs (small dots, one '
        "per seed) and their mean (ring); the dashed line is the Pareto front of the means. "
        "Click a legend entry to hide or show its method.</p>"
        '<div id="legend" class="legend"></div><div id="plane"></div>'
        if traces
        else ""
    )
    ap_section = (
        f'<h2>AP per private attribute (%)</h2><table class="sortable"><thead><tr>{ap_head}'
        f"</tr></thead><tbody>{ap_rows}</tbody></table>"
        if ap_rows
        else ""
    )
    title = f"privbench leaderboard: {page.dataset}, {page.protocol}, {page.preset}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{STYLE}</style></head><body>
<p class="note"><a href="index.html">All leaderboards</a> · <a href="methods.html">Methods</a> · {nav}</p>
<h1>{e(title)}</h1>
<p class="note">Mean ± sample std over seeds; (↓ x): the drop from raw data over the same
seeds (none for reference columns: cMAP on raw, and PSNR / SSIM, whose raw row scores g on
raw images); ★: on the Pareto front (higher top-1, lower cMAP). Click a column to sort.
Chance-normalised cMAP: (cMAP − chance) / (raw − chance), per seed (100: raw, 0: chance).
Cost: the anonymizer's parameters, GFLOP per frame at the working size and frames/s of
anonymize() at 320x240, as each run measured them.</p>
<div class="wide"><table id="leaderboard" class="sortable"><thead><tr>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>
{plane}
{ap_section}
<div id="tooltip"></div>
<script type="application/json" id="page-data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def _methods_html(names: Sequence[str]) -> str:
    e = html.escape
    items = []
    for name in names:
        cls = METHODS.get(name)
        params = ", ".join(f"{k} (default {p.describe_default()})" for k, p in cls.params.items())
        items.append(
            f'<h2 id="{e(name)}">{e(name)}</h2><p>{e(cls.description)}</p>'
            f'<p class="note">Source: {e(cls.paper) or "privbench"}'
            f"{'; learned' if cls.trainable else '; fixed transform'}"
            f"{'; a reference, not a baseline' if cls.reference else ''}. "
            f"Parameters: {e(params) or 'none'}.</p>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>privbench methods</title>
<style>{STYLE}</style></head><body>
<p class="note"><a href="index.html">All leaderboards</a></p>
<h1>Methods</h1>{"".join(items)}</body></html>
"""


def _index_html(pages: Sequence[Page]) -> str:
    e = html.escape
    items = "".join(
        f'<li><a href="{p.slug}.html">{e(p.dataset)}, {e(p.protocol)}, {e(p.preset)}</a>: '
        f"{len(p.entries)} method settings</li>"
        for p in pages
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>privbench leaderboards</title>
<style>{STYLE}</style></head><body>
<h1>privbench leaderboards</h1>
<p>Generated from the records by <code>bench leaderboard</code>; works offline.
<a href="methods.html">Methods</a>.</p><ul>{items}</ul></body></html>
"""


def write_site(records: RecordSet, out: Path, chance: Chance | None = None) -> list[Path]:
    """The site under `out`: index.html, methods.html, a page per (dataset, protocol,
    preset) and records/<key>.json; the files written."""
    pages = build_pages(records, chance)
    written = []
    for page in pages:
        path = out / f"{page.slug}.html"
        atomic_write_text(path, _page_html(page, pages))
        written.append(path)
    shown = sorted({x.method for p in pages for x in p.entries} | set(METHODS.names()))
    names = [n for n in shown if n in METHODS.names()]
    for name, text in (("methods.html", _methods_html(names)), ("index.html", _index_html(pages))):
        atomic_write_text(out / name, text)
        written.append(out / name)
    keys = {k for p in pages for x in p.entries for k in x.records}
    for record in records.records:
        if record["key"] in keys:
            path = out / "records" / f"{record['key']}.json"
            atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
            written.append(path)
    return written
