#!/usr/bin/env python3
"""Flame graphs from `perf script` output, for scripts/profile.sh. Python 3 standard library only.

  flamegraph.py fold  [PERF_SCRIPT]        perf script text -> folded stacks on stdout
  flamegraph.py svg   [--title T] [--subtitle S] [--width PX] FOLDED   -> SVG on stdout
  flamegraph.py top   [--limit N] FOLDED   -> a text summary of the hottest functions

`perf script` must be run with `-F comm,tid,period,ip,sym,dso` (what profile.sh does): each sample
is a header line ("COMM TID PERIOD") followed by one indented line per frame, leaf first
("ADDR SYMBOL (DSO)"), and a blank line.

Folded stacks are one line per distinct stack, root first, frames joined by ';', then a space and
the number of samples: "nexure-server;start_thread;...;llhttp_execute 42". Kernel frames end in
"_[k]"; a frame without a symbol is named after its binary, "[liburing.so.2.3]".

The SVG is self-contained (no external scripts, styles or fonts), so it opens offline in any
browser: hover shows a frame's samples and share, click zooms into a frame, "Search" highlights
frames whose name matches a regular expression, "Reset zoom" goes back.
"""

import argparse
import collections
import html
import re
import sys

KERNEL_SUFFIX = "_[k]"


# ---- folding ---------------------------------------------------------------------------------


def frame_name(symbol, dso):
    """The name a frame gets in the folded stacks."""
    dso_base = dso.rsplit("/", 1)[-1] if dso else ""
    if symbol in ("", "[unknown]"):
        name = "[%s]" % dso_base if dso_base and dso_base != "unknown" else "[unknown]"
    else:
        name = symbol
    # ';' separates frames; control characters are not allowed in XML.
    name = "".join("?" if ord(ch) < 0x20 or ch == "\x7f" else ch for ch in name.replace(";", ":"))
    if dso.startswith("[kernel") or dso.startswith("[guest.kernel"):
        name += KERNEL_SUFFIX
    return name


def parse_frame(line):
    """'ffffffff81b40a8b __io_issue_sqe ([kernel.kallsyms])' -> ('__io_issue_sqe', '[kernel...]')."""
    text = line.strip()
    parts = text.split(None, 1)
    if not parts:
        return None
    rest = parts[1] if len(parts) > 1 else ""
    dso = ""
    if rest.endswith(")") and " (" in rest:
        rest, dso = rest.rsplit(" (", 1)
        dso = dso[:-1]
    elif rest.startswith("(") and rest.endswith(")"):
        rest, dso = "", rest[1:-1]
    return frame_name(rest.strip(), dso)


def fold(lines):
    """Counts each distinct stack in `perf script` output. Returns {folded stack: samples}."""
    stacks = collections.Counter()
    comm = None
    frames = []

    def flush():
        if comm is not None:
            stacks[";".join([comm] + frames[::-1])] += 1

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
        elif line[0] in " \t":
            if comm is not None:
                name = parse_frame(line)
                if name:
                    frames.append(name)
        else:
            flush()
            # "COMM TID PERIOD": the thread name may hold spaces, the last two fields cannot.
            fields = line.split()
            comm = " ".join(fields[:-2]) if len(fields) > 2 else (fields[0] if fields else "?")
            comm = comm.replace(";", ":") or "?"
            frames = []
    flush()
    return stacks


def read_folded(path):
    stacks = collections.Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                sys.exit("%s:%d: not a folded stack line" % (path, line_no))
            stacks[stack] += int(count)
    return stacks


# ---- categories and colours ------------------------------------------------------------------


def category(name):
    if name.endswith(KERNEL_SUFFIX):
        return "kernel"
    if "llhttp" in name:
        return "llhttp"
    if name.startswith("nexure::") or "nexure::" in name:
        return "nexure"
    if name.startswith("[") and name.endswith("]"):
        return "unknown"
    return "other"


# Base hue (degrees) and saturation per category: kernel orange, NexureJS green, llhttp blue,
# libraries yellow, frames without symbols grey.
PALETTE = {
    "kernel": (22, 80),
    "nexure": (110, 55),
    "llhttp": (205, 65),
    "other": (48, 75),
    "unknown": (0, 0),
}


def colour(name):
    hue, sat = PALETTE[category(name)]
    # A stable per-name variation, so that neighbours are told apart.
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    light = 55 + (h % 20)
    hue = (hue + (h >> 8) % 16 - 8) % 360
    return "hsl(%d,%d%%,%d%%)" % (hue, sat, light)


# ---- the tree ----------------------------------------------------------------------------------


class Node:
    __slots__ = ("name", "value", "children")

    def __init__(self, name):
        self.name = name
        self.value = 0
        self.children = {}


def build_tree(stacks):
    root = Node("all")
    for stack, count in stacks.items():
        root.value += count
        node = root
        for frame in stack.split(";"):
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = Node(frame)
            child.value += count
            node = child
    return root


def depth_of(node):
    best = 0
    pending = [(node, 0)]
    while pending:
        n, d = pending.pop()
        best = max(best, d)
        pending.extend((c, d + 1) for c in n.children.values())
    return best


# ---- SVG ---------------------------------------------------------------------------------------

FRAME_H = 16
FONT_SIZE = 12
CHAR_W = 7.0  # average width of a character at FONT_SIZE, for fitting names into frames
PAD = 10
TOP = 54  # title, subtitle and controls
BOTTOM = 28  # the details line
MIN_WIDTH_PX = 0.3  # narrower frames are left out (their share still counts in their parents)

SCRIPT = r"""
var svg = document.documentElement, frames = [], details, matchedText;
var plotW = 0, total = 0, charW = 0, left = 0;
function init() {
  plotW = +svg.getAttribute('data-plot-width'); total = +svg.getAttribute('data-total');
  charW = +svg.getAttribute('data-char-width'); left = +svg.getAttribute('data-left');
  details = document.getElementById('details'); matchedText = document.getElementById('matched');
  var gs = document.getElementsByClassName('f');
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i];
    frames.push({g: g, x: +g.getAttribute('data-x'), w: +g.getAttribute('data-w'),
                 d: +g.getAttribute('data-d'), n: g.getAttribute('data-n'),
                 r: g.getElementsByTagName('rect')[0], t: g.getElementsByTagName('text')[0],
                 fill: g.getElementsByTagName('rect')[0].getAttribute('fill')});
    g.addEventListener('click', zoomTo.bind(null, frames[frames.length - 1]));
    g.addEventListener('mouseover', show.bind(null, frames[frames.length - 1]));
    g.addEventListener('mouseout', function () { details.textContent = ' '; });
  }
  document.getElementById('reset').addEventListener('click', function () { zoom(0, total, 0); });
  document.getElementById('search').addEventListener('click', search);
  zoom(0, total, 0);
}
function share(f) { return f.w + ' samples, ' + (100 * f.w / total).toFixed(2) + '%'; }
function show(f) { details.textContent = f.n + ' (' + share(f) + ')'; }
function fit(name, width) {
  var n = Math.floor((width - 6) / charW);
  if (n < 3) return '';
  return name.length <= n ? name : name.substring(0, n - 2) + '..';
}
function place(f, x, w) {
  f.g.style.display = '';
  f.r.setAttribute('x', left + x); f.r.setAttribute('width', Math.max(w - 0.5, 0.1));
  f.t.setAttribute('x', left + x + 3); f.t.textContent = fit(f.n, w);
}
function zoom(zx, zw, zd) {
  frames.forEach(function (f) {
    if (f.d < zd) {
      if (f.x <= zx && f.x + f.w >= zx + zw) place(f, 0, plotW); else f.g.style.display = 'none';
    } else if (f.x >= zx && f.x + f.w <= zx + zw) {
      var w = f.w / zw * plotW;
      if (w < 0.3) f.g.style.display = 'none'; else place(f, (f.x - zx) / zw * plotW, w);
    } else {
      f.g.style.display = 'none';
    }
  });
}
function zoomTo(f) { zoom(f.x, f.w, f.d); }
function search() {
  var term = window.prompt('Highlight frames matching (regular expression; empty clears):', '');
  if (term === null) return;
  var re = null;
  if (term !== '') {
    try { re = new RegExp(term); } catch (e) { window.alert('Not a regular expression: ' + e); return; }
  }
  var hits = [];
  frames.forEach(function (f) {
    var hit = re !== null && re.test(f.n);
    f.r.setAttribute('fill', hit ? 'rgb(230,0,230)' : f.fill);
    if (hit) hits.push(f);
  });
  // The share of samples under any matching frame: nested matches count once.
  hits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });
  var covered = 0, end = -1;
  hits.forEach(function (f) {
    if (f.x >= end) { covered += f.w; end = f.x + f.w; }
    else if (f.x + f.w > end) { covered += f.x + f.w - end; end = f.x + f.w; }
  });
  matchedText.textContent = re === null ? ' ' :
      'Matched: ' + (100 * covered / total).toFixed(2) + '% (' + term + ')';
}
window.addEventListener('load', init);
"""


def fit(name, width_px):
    """As much of `name` as fits in a frame `width_px` wide (the script's fit() does the same)."""
    n = int((width_px - 6) // CHAR_W)
    if n < 3:
        return ""
    return name if len(name) <= n else name[: n - 2] + ".."


def render_svg(stacks, title, subtitle, width):
    root = build_tree(stacks)
    total = root.value
    depth = depth_of(root)
    plot_w = width - 2 * PAD
    height = TOP + (depth + 1) * FRAME_H + BOTTOM
    esc = html.escape
    out = []
    out.append('<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
    out.append(
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" '
        'viewBox="0 0 %d %d" data-plot-width="%d" data-total="%d" data-char-width="%.2f" '
        'data-left="%d">' % (width, height, width, height, plot_w, max(total, 1), CHAR_W, PAD)
    )
    out.append(
        "<style>text { font-family: Verdana, 'DejaVu Sans', sans-serif; font-size: %dpx; "
        "fill: #000; } .f { cursor: pointer; } .f:hover rect { stroke: #000; stroke-width: 0.5; } "
        ".ctl { cursor: pointer; fill: #2050b0; } .title { font-size: 17px; } "
        ".sub { fill: #555; }</style>" % FONT_SIZE
    )
    out.append('<rect x="0" y="0" width="100%" height="100%" fill="#fbfbf6"/>')
    out.append(
        '<text class="title" x="%d" y="22" text-anchor="middle">%s</text>'
        % (width // 2, esc(title))
    )
    if subtitle:
        out.append(
            '<text class="sub" x="%d" y="40" text-anchor="middle">%s</text>'
            % (width // 2, esc(subtitle))
        )
    out.append('<text id="reset" class="ctl" x="%d" y="22">Reset zoom</text>' % PAD)
    out.append(
        '<text id="search" class="ctl" x="%d" y="22" text-anchor="end">Search</text>'
        % (width - PAD)
    )
    out.append(
        '<text id="matched" class="sub" x="%d" y="%d" text-anchor="end"> </text>'
        % (width - PAD, height - 10)
    )
    out.append('<text id="details" x="%d" y="%d"> </text>' % (PAD, height - 10))
    if total == 0:
        out.append(
            '<text x="%d" y="%d" text-anchor="middle">No samples.</text>'
            % (width // 2, TOP + FRAME_H)
        )
    # Frames: the root at the bottom, children above their parent, in name order.
    pending = [(root, 0, 0)]
    while pending:
        node, x, d = pending.pop()
        w_px = node.value / total * plot_w if total else 0
        if w_px < MIN_WIDTH_PX:
            continue
        y = TOP + (depth - d) * FRAME_H
        share = 100.0 * node.value / total
        name = node.name if d > 0 else "all"
        out.append(
            '<g class="f" data-x="%d" data-w="%d" data-d="%d" data-n="%s"><title>%s (%d samples, '
            '%.2f%%)</title><rect x="%.1f" y="%d" width="%.1f" height="%d" rx="2" fill="%s"/>'
            '<text x="%.1f" y="%d">%s</text></g>'
            % (
                x,
                node.value,
                d,
                esc(name),
                esc(name),
                node.value,
                share,
                PAD + x / total * plot_w,
                y,
                max(w_px - 0.5, 0.1),
                FRAME_H - 1,
                "rgb(200,200,200)" if d == 0 else colour(name),
                PAD + x / total * plot_w + 3,
                y + FRAME_H - 4,
                esc(fit(name, w_px)),
            )
        )
        child_x = x
        for child_name in sorted(node.children):
            child = node.children[child_name]
            pending.append((child, child_x, d + 1))
            child_x += child.value
    out.append("<script><![CDATA[%s]]></script>" % SCRIPT)
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- the summary -------------------------------------------------------------------------------


def summary(stacks, limit):
    total = sum(stacks.values())
    self_counts = collections.Counter()
    total_counts = collections.Counter()
    by_category = collections.Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")[1:]  # without the thread name
        leaf = frames[-1] if frames else stack.split(";")[0]
        self_counts[leaf] += count
        by_category[category(leaf)] += count
        for name in set(frames):
            total_counts[name] += count
    lines = []
    pct = lambda n: 100.0 * n / total if total else 0.0  # noqa: E731
    lines.append("Samples: %d" % total)
    if total == 0:
        lines.append("No samples were recorded.")
        return "\n".join(lines) + "\n"
    parts = ["%s %.1f%%" % (c, pct(n)) for c, n in by_category.most_common()]
    lines.append("Where the time went (by the sampled function): " + ", ".join(parts))
    lines.append("  (kernel: frames in the kernel; nexure: NexureJS code; llhttp: the HTTP parser;")
    lines.append("   other: libraries; unknown: frames without symbols)")
    for heading, counts in (
        ("Self: samples in the function itself", self_counts),
        ("Total: samples in the function and everything it calls", total_counts),
    ):
        lines.append("")
        lines.append("%s (top %d)" % (heading, limit))
        lines.append("%8s %9s  %s" % ("percent", "samples", "function"))
        for name, n in counts.most_common(limit):
            lines.append("%7.2f%% %9d  %s" % (pct(n), n, name))
    return "\n".join(lines) + "\n"


# ---- command line ------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fold = sub.add_parser("fold", help="perf script output -> folded stacks")
    p_fold.add_argument("input", nargs="?", help="perf script output (default: stdin)")
    p_svg = sub.add_parser("svg", help="folded stacks -> SVG flame graph")
    p_svg.add_argument("folded")
    p_svg.add_argument("--title", default="Flame graph")
    p_svg.add_argument("--subtitle", default="")
    p_svg.add_argument("--width", type=int, default=1200)
    p_top = sub.add_parser("top", help="folded stacks -> hottest functions")
    p_top.add_argument("folded")
    p_top.add_argument("--limit", type=int, default=30)
    args = parser.parse_args()

    if args.command == "fold":
        if args.input:
            with open(args.input, encoding="utf-8", errors="replace") as f:
                stacks = fold(f)
        else:
            stacks = fold(open(sys.stdin.fileno(), encoding="utf-8", errors="replace"))
        for stack, count in sorted(stacks.items()):
            sys.stdout.write("%s %d\n" % (stack, count))
    elif args.command == "svg":
        if args.width < 200:
            parser.error("--width must be at least 200")
        sys.stdout.write(render_svg(read_folded(args.folded), args.title, args.subtitle, args.width))
    else:
        if args.limit < 1:
            parser.error("--limit must be at least 1")
        sys.stdout.write(summary(read_folded(args.folded), args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
