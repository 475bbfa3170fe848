#!/usr/bin/env python3
"""Issue 6's figures from a comparison run: the Node addon (examples/hello.js) against Node's
`http` and Fastify, measured in the same run by scripts/compare.sh.

    python3 bench/node/targets.py bench/results/compare-<time>.json [--md OUT.md]

Prints, per load generator, the per-round and median ratios the targets are stated in:
  - pipelined (depth 16) requests/s of nexure-node over node-http (target: at least 8x);
  - plain keep-alive server CPU per request of nexure-node over node-http (target: at most 0.6x);
and the same ratios for Fastify, next to uWebSockets.js's ratios to Node `http` in the reference
table of BENCHMARKING.md (uWS cannot be installed here: it is not on the npm registry, so it is
placed by those ratios rather than measured). Only reads the JSON; it measures nothing itself.
"""
import argparse
import json
import statistics
import sys

# BENCHMARKING.md, reference table (same machine, same method, for each row):
# Node 20 http: plain ~73k req/s, ~13.0 us/req; pipelined ~93k req/s, ~10.7 us/req.
# uWebSockets.js 20 (JS handler): plain ~133k, ~7.1 us; pipelined ~833k, ~1.0 us.
UWS_RATIO = {
    ("plain", "req_per_sec"): 133 / 73,
    ("plain", "server_cpu_us_per_req"): 7.1 / 13.0,
    ("pipelined", "req_per_sec"): 833 / 93,
    ("pipelined", "server_cpu_us_per_req"): 1.0 / 10.7,
}
TARGETS = {
    ("pipelined", "req_per_sec"): (">=", 8.0),
    ("plain", "server_cpu_us_per_req"): ("<=", 0.6),
}


def per_round(runs, server, workload, tool, figure):
    out = {}
    for r in runs:
        if r["server"] == server and r["workload"] == workload and r["tool"] == tool:
            if r.get(figure) is not None:
                out[r["round"]] = r[figure]
    return out


def ratios(runs, server, base, workload, tool, figure):
    a = per_round(runs, server, workload, tool, figure)
    b = per_round(runs, base, workload, tool, figure)
    rounds = sorted(set(a) & set(b))
    return [(k, a[k] / b[k]) for k in rounds if b[k]]


def fmt(x):
    return f"{x:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--md", help="also write the table to this Markdown file")
    args = ap.parse_args()
    with open(args.json) as f:
        data = json.load(f)
    runs = data["runs"]
    tools = sorted({r["tool"] for r in runs})
    servers = {r["server"] for r in runs}
    if "nexure-node" not in servers or "node-http" not in servers:
        print("targets.py: the run has no nexure-node or no node-http figures "
              f"(servers: {', '.join(sorted(servers))})", file=sys.stderr)
        return 2

    lines = [
        f"Issue 6 figures from `{args.json}` (ratios to Node `http` in the same run; per round, "
        "then the median):",
        "",
        "| load generator | figure | nexure-node / node-http per round | median | target | met | "
        "Fastify / node-http median | uWS / Node http (BENCHMARKING.md) |",
        "|---|---|---|---:|---|---|---:|---:|",
    ]
    verdicts = []
    for tool in tools:
        for (workload, figure) in [("pipelined", "req_per_sec"), ("plain", "req_per_sec"),
                                   ("plain", "server_cpu_us_per_req"),
                                   ("pipelined", "server_cpu_us_per_req")]:
            rs = ratios(runs, "nexure-node", "node-http", workload, tool, figure)
            if not rs:
                continue
            med = statistics.median(v for _, v in rs)
            fast = ratios(runs, "fastify", "node-http", workload, tool, figure)
            fast_med = fmt(statistics.median(v for _, v in fast)) if fast else "—"
            target = TARGETS.get((workload, figure))
            if target:
                op, value = target
                met = med >= value if op == ">=" else med <= value
                target_text = f"{op} {value}"
                met_text = "yes" if met else "no"
                verdicts.append((tool, workload, figure, med, target_text, met))
            else:
                target_text, met_text = "—", "—"
            name = f"{workload} {'req/s' if figure == 'req_per_sec' else 'µs CPU/req'}"
            lines.append(
                f"| {tool} | {name} | {' / '.join(fmt(v) for _, v in rs)} | **{fmt(med)}** | "
                f"{target_text} | {met_text} | {fast_med} | {fmt(UWS_RATIO[(workload, figure)])} |")
    text = "\n".join(lines) + "\n"
    print(text)
    for tool, workload, figure, med, target_text, met in verdicts:
        print(f"{tool}: {workload} {figure} ratio {med:.2f} (target {target_text}): "
              f"{'met' if met else 'NOT met'}")
    if args.md:
        with open(args.md, "a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
