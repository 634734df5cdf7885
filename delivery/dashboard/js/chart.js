//! Small SVG time-series charts for the metrics page: lines over time buckets,
//! axes labelled in the viewer's timezone, a legend, and a hover title per
//! bucket. Built with createElementNS; only numbers, classes and constant
//! presentation attributes are set, and every text goes in as a text node.

import {h} from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const MARGIN = {top: 12, right: 14, bottom: 30, left: 52};
const HEIGHT = 240;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A round step (1, 2, 5 × 10ⁿ) so axis ticks read well. */
function niceStep(max, ticks) {
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

function yScale(series, height) {
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const top = Math.max(1, ...values);
  const step = niceStep(top, 4);
  const max = Math.ceil(top / step) * step;
  const y = (v) => MARGIN.top + (height - MARGIN.top - MARGIN.bottom) * (1 - v / max);
  const ticks = [];
  for (let t = 0; t <= max + step / 2; t += step) ticks.push(t);
  return {y, ticks};
}

/** Label format for the x axis: clock time within a day, dates beyond. */
function timeFormat(times) {
  const span = times.length > 1 ? times[times.length - 1] - times[0] : 0;
  if (span <= 26 * 3600e3) return new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit'});
  if (span <= 8 * 86400e3) return new Intl.DateTimeFormat(undefined, {weekday: 'short', hour: '2-digit'});
  return new Intl.DateTimeFormat(undefined, {month: 'short', day: 'numeric'});
}

const fullTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit',
});

function axes(group, {x, y, ticks, times, width, height, format}) {
  for (const t of ticks) {
    const yy = y(t);
    group.append(svg('line', {x1: MARGIN.left, x2: width - MARGIN.right, y1: yy, y2: yy, stroke: '#e3e6eb'}));
    group.append(svg('text', {x: MARGIN.left - 6, y: yy + 4, 'text-anchor': 'end'}, format(t)));
  }
  const fmt = timeFormat(times);
  const labels = Math.max(2, Math.min(times.length, Math.floor((width - MARGIN.left - MARGIN.right) / 90)));
  const every = Math.max(1, Math.ceil(times.length / labels));
  for (let i = 0; i < times.length; i += every) {
    group.append(svg('text', {x: x(i), y: height - 10, 'text-anchor': 'middle'}, fmt.format(times[i])));
  }
  group.append(svg('line', {x1: MARGIN.left, x2: width - MARGIN.right, y1: y(0), y2: y(0), stroke: '#b8c0cc'}));
}

/** One series as a line (gaps, null, break it) and the dots of points with no neighbour to join. */
function seriesPaths(values, x, y) {
  let line = '';
  let dots = '';
  const present = (i) => values[i] !== null && values[i] !== undefined;
  values.forEach((v, i) => {
    if (!present(i)) return;
    const at = `${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
    if (!present(i - 1) && !present(i + 1)) dots += `M${at} h0.01 `;
    else line += `${present(i - 1) ? 'L' : 'M'}${at} `;
  });
  return {line: line.trim(), dots: dots.trim()};
}

/** Invisible columns whose <title> lists every series at that time. */
function hoverColumns(group, {series, times, x, width, height, format}) {
  const step = times.length > 1 ? x(1) - x(0) : width - MARGIN.left - MARGIN.right;
  times.forEach((t, i) => {
    const lines = [fullTime.format(t), ...series.map((s) => `${s.name}: ${format(s.values[i])}`)];
    group.append(svg('rect', {
      x: Math.max(MARGIN.left, x(i) - step / 2), y: MARGIN.top,
      width: Math.max(1, step), height: height - MARGIN.top - MARGIN.bottom, opacity: 0,
    }, svg('title', null, lines.join('\n'))));
  });
}

export function legend(series) {
  return h('div', {class: 'legend'}, series.map((s, i) =>
    h('span', null, h('span', {class: `swatch s${i % 6}`, 'aria-hidden': 'true'}), s.name)));
}

/**
 * lineChart({title, times: [Date], series: [{name, values: [number|null]}], format, width})
 * → a <div> holding the legend and the SVG. `format` renders a value (ticks, titles).
 */
export function lineChart({title, times, series, format = (v) => (v === null || v === undefined ? '—' : String(v)), width = 800}) {
  const w = Math.max(320, Math.min(1200, Math.round(width)));
  const {y, ticks} = yScale(series, HEIGHT);
  const inner = w - MARGIN.left - MARGIN.right;
  const x = (i) => MARGIN.left + (times.length > 1 ? (inner * i) / (times.length - 1) : inner / 2);
  const root = svg('svg', {class: 'chart', viewBox: `0 0 ${w} ${HEIGHT}`, role: 'img'});
  root.append(svg('title', null, title));
  const grid = svg('g');
  axes(grid, {x, y, ticks, times, width: w, height: HEIGHT, format});
  root.append(grid);
  series.forEach((s, i) => {
    const {line, dots} = seriesPaths(s.values, x, y);
    if (line) root.append(svg('path', {d: line, class: `s${i % 6}`, fill: 'none', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round'}));
    if (dots) root.append(svg('path', {d: dots, class: `s${i % 6}`, fill: 'none', 'stroke-width': 6, 'stroke-linecap': 'round'}));
  });
  hoverColumns(root, {series, times, x, width: w, height: HEIGHT, format});
  return h('div', {class: 'chart-box'}, legend(series), root);
}
