#!/usr/bin/env python3
"""Parsing, environment capture and reporting for scripts/compare.sh (bench/compare/README.md).

compare.sh runs the servers and the load generators; this program turns what they printed into
figures and files. Standard library only (Python 3.8+). Subcommands:

  environment --root DIR [--nexure BIN] [--nexload BIN] [--fastify-dir DIR]
      Prints the machine and software versions as a JSON object.
  record --tool wrk|nexload --server S --workload W --round N --output FILE [--json FILE]
         --time FILE --ticks N --clk-tck HZ --wall-us N --exit-code N --server-alive 0|1
      Parses one load-generator run and prints one JSON line (appended to runs.jsonl by the
      caller); a one-line summary goes to stderr.
  report --runs FILE --events FILE --environment FILE --out PREFIX [settings...]
      Writes PREFIX.json (everything), PREFIX.md (tables) and PREFIX.png (chart, via gnuplot).
  markdown RESULT.json  /  chart RESULT.json OUT.png
      Regenerates the table or the chart from a result file written by `report`.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SCHEMA = "nexure-compare/1"
# A load generator above this share of its core was (close to) the limit of the run.
LOADGEN_BOUND_PERCENT = 90.0
# Other work on the machine (or steal) above this share of a core during the runs is worth a note.
BUSY_MACHINE_PERCENT = 15.0
WORKLOAD_TITLES = {"plain": "Plain keep-alive", "pipelined": "Pipelined"}
SERVER_TITLES = {
    "nexure": "nexure-server",
    "nexure-node": "NexureJS (Node addon)",
    "nginx": "nginx",
    "node-http": "Node http",
    "fastify": "Fastify",
    "uws": "uWebSockets.js",
    "ultimate-express": "ultimate-express",
    "nexure-node-api": "NexureJS small API",
    "fastify-api": "Fastify small API",
    "uws-api": "uWebSockets.js small API",
    "ultimate-express-api": "ultimate-express small API",
    "node-http-nexure": "Node http listener on nexurejs/http",
    "express": "Express 5",
    "express-nexure": "Express 5 on nexurejs/http",
    "fastify-nexure": "Fastify on nexurejs/http",
    "express-api": "Express 5 small API",
    "express-nexure-api": "Express 5 small API on nexurejs/http",
    "fastify-nexure-api": "Fastify small API on nexurejs/http",
}
# Shorter names under the chart's bars.
CHART_TITLES = {
    "nexure-node": "NexureJS",
    "nexure-node-api": "NexureJS API",
    "fastify-api": "Fastify API",
    "uws": "uWS.js",
    "uws-api": "uWS.js API",
    "ultimate-express": "ultimate-express",
    "ultimate-express-api": "ultimate-express API",
    "node-http-nexure": "http on NexureJS",
    "express-nexure": "Express on NexureJS",
    "fastify-nexure": "Fastify on NexureJS",
    "express-api": "Express API",
    "express-nexure-api": "Express API on NexureJS",
    "fastify-nexure-api": "Fastify API on NexureJS",
}
# NexureJS against its JavaScript peers (issue 20): (title, server, reference or None for the
# figure itself, workload, metric, goal). Reported per load generator, never asserted.
PEER_FIGURES = [
    ("hello world, pipelined req/s", "nexure-node", "uws", "pipelined", "req_per_sec",
     "at least 1.5x"),
    ("hello world, plain µs CPU/req", "nexure-node", "uws", "plain", "server_cpu_us_per_req",
     "at most 0.85x"),
    ("small API, pipelined µs CPU/req", "nexure-node-api", None, "pipelined",
     "server_cpu_us_per_req", "at most 2.0 µs"),
    ("small API, plain µs CPU/req", "nexure-node-api", "fastify-api", "plain",
     "server_cpu_us_per_req", "at most 0.33x"),
    ("small API, plain µs CPU/req", "nexure-node-api", "ultimate-express-api", "plain",
     "server_cpu_us_per_req", ""),
    ("small API, pipelined µs CPU/req", "nexure-node-api", "uws-api", "pipelined",
     "server_cpu_us_per_req", ""),
    # nexurejs/http (issue 21): the same Express app, and Fastify, on the engine.
    ("Express hello, plain µs CPU/req", "express-nexure", "ultimate-express", "plain",
     "server_cpu_us_per_req", "at most 0.5x"),
    ("Express small API, plain µs CPU/req", "express-nexure-api", "ultimate-express-api", "plain",
     "server_cpu_us_per_req", "at most 0.5x"),
    ("Express hello, plain µs CPU/req", "express-nexure", "express", "plain",
     "server_cpu_us_per_req", ""),
    ("Fastify hello, plain µs CPU/req", "fastify-nexure", "fastify", "plain",
     "server_cpu_us_per_req", "at most 0.5x"),
    ("Fastify small API, plain µs CPU/req", "fastify-nexure-api", "fastify-api", "plain",
     "server_cpu_us_per_req", "at most 0.5x"),
    ("Fastify hello, pipelined µs CPU/req", "fastify-nexure", "fastify", "pipelined",
     "server_cpu_us_per_req", ""),
    ("Node http listener, plain µs CPU/req", "node-http-nexure", "node-http", "plain",
     "server_cpu_us_per_req", ""),
    ("Node http listener, pipelined µs CPU/req", "node-http-nexure", "node-http", "pipelined",
     "server_cpu_us_per_req", ""),
]
# Bar colours per load generator: blue, orange, then more if tools are ever added.
TOOL_COLOURS = ["#2f6fb0", "#e08a2c", "#4c9a52", "#9a4c8e"]


def fail(message):
    print(f"compare.py: error: {message}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------------------------------------
# environment


def read_text(path, default=None):
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return default


def command_output(argv, timeout=10):
    """stdout+stderr of argv, stripped, or None when it cannot run or fails."""
    if shutil.which(argv[0]) is None and not os.path.isfile(argv[0]):
        return None
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return (done.stdout + done.stderr).strip()


def first_line(text):
    return text.splitlines()[0].strip() if text else None


def cpu_model():
    text = read_text("/proc/cpuinfo", "")
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def governors():
    """The scaling governors in use ("none" when cpufreq is absent, as in most VMs)."""
    found = set()
    for cpu in sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*")):
        g = read_text(cpu / "cpufreq" / "scaling_governor")
        if g:
            found.add(g)
    return ",".join(sorted(found)) if found else "none"


def vulnerabilities():
    out = {}
    for f in sorted(Path("/sys/devices/system/cpu/vulnerabilities").glob("*")):
        out[f.name] = read_text(f, "unreadable")
    return out


def kernel_cmdline():
    """The kernel's own parameters. What follows a lone `--` is passed to init, not the kernel,
    and is left out (in a VM it describes the host's machinery, not the guest's kernel)."""
    text = read_text("/proc/cmdline", "")
    words = text.split()
    if "--" in words:
        words = words[: words.index("--")]
    return " ".join(words)


def loadavg():
    """The 1, 5 and 15 minute load averages: how busy the machine was besides this run."""
    text = read_text("/proc/loadavg")
    return " ".join(text.split()[:3]) if text else None


def binary_built(path):
    """When a binary was last written (UTC), which says which build was measured."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def git_state(root):
    commit = command_output(["git", "-C", root, "rev-parse", "--verify", "-q", "HEAD"])
    # --no-optional-locks: reading the state must not write the index.
    status = command_output(["git", "--no-optional-locks", "-C", root, "status", "--porcelain",
                             "--untracked-files=no"])
    return {"commit": commit or "unknown",
            "dirty": bool(status) if status is not None else None}


def versions(args):
    v = {}
    nginx = command_output(["nginx", "-v"])
    v["nginx"] = re.sub(r"^.*nginx/", "", first_line(nginx)) if nginx else None
    v["node"] = command_output(["node", "--version"])
    fastify = None
    if args.fastify_dir:
        pkg = Path(args.fastify_dir) / "node_modules" / "fastify" / "package.json"
        try:
            fastify = json.loads(pkg.read_text())["version"]
        except (OSError, ValueError, KeyError):
            fastify = None
    v["fastify"] = fastify
    # `wrk -v` prints its banner and exits with status 1.
    try:
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10,
                              check=False)
        m = re.search(r"wrk\s+(\S+)", done.stdout + done.stderr)
        v["wrk"] = m.group(1) if m else None
    except (OSError, subprocess.SubprocessError):
        v["wrk"] = None
    for key, name, binary in (("nexure_server", "nexure-server", args.nexure),
                              ("nexload", "nexload", args.nexload)):
        text = None
        if binary and os.access(binary, os.X_OK):
            # nexure-server prints "nexure-server 0.1.0" and then build details, one per line.
            text = command_output([binary, "--version"], timeout=5)
            if text:
                parts = [line.strip() for line in text.splitlines() if line.strip()]
                parts[0] = re.sub(r"^" + re.escape(name) + r"\s+", "", parts[0])
                text = ", ".join(parts)
            else:
                text = "(no --version)"
            text += f", built {binary_built(binary)}"
        v[key] = text
    gp = command_output(["gnuplot", "--version"])
    v["gnuplot"] = first_line(gp)
    v["python"] = platform.python_version()
    return v


def cmd_environment(args):
    root = args.root
    env = {
        "date_utc": subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"], capture_output=True,
                                   text=True, check=False).stdout.strip(),
        "virtualization": command_output(["systemd-detect-virt"]) or (
            "a hypervisor (cpuinfo flag)" if " hypervisor" in read_text("/proc/cpuinfo", "")
            else "none detected"),
        "kernel": platform.release(),
        "os": (re.search(r'PRETTY_NAME="([^"]*)"', read_text("/etc/os-release", "") or "") or
               [None, None])[1],
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "governor": governors(),
        "vulnerabilities": vulnerabilities(),
        "kernel_cmdline": kernel_cmdline(),
        "loadavg_start": loadavg(),
        "git": git_state(root),
        "versions": versions(args),
    }
    json.dump(env, sys.stdout, indent=2)
    sys.stdout.write("\n")


# ------------------------------------------------------------------------------------------------
# record: one load-generator run

UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def wrk_time_us(text):
    """wrk's latency figure ("512.00us", "1.23ms", "2.00s") in microseconds."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        return None
    return float(m.group(1)) * UNITS_US[m.group(2)]


def parse_wrk(text):
    out = {"requests": None, "duration_s": None, "rps": None, "latency_us": {},
           "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "parse": None,
                      "status": 0}}
    lat = out["latency_us"]
    in_distribution = False
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"(\d+) requests in ([0-9.]+)(us|ms|s|m|h),", s)
        if m:
            out["requests"] = int(m.group(1))
            out["duration_s"] = float(m.group(2)) * UNITS_US[m.group(3)] / 1e6
            continue
        m = re.match(r"Requests/sec:\s+([0-9.]+)", s)
        if m:
            out["rps"] = float(m.group(1))
            continue
        m = re.match(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", s)
        if m and not in_distribution:
            lat["mean"] = wrk_time_us(m.group(1))
            lat["max"] = wrk_time_us(m.group(3))
            continue
        if s.startswith("Latency Distribution"):
            in_distribution = True
            continue
        m = re.match(r"(\d+(?:\.\d+)?)%\s+(\S+)$", s)
        if in_distribution and m:
            value = wrk_time_us(m.group(2))
            # wrk's percentile lookup gives 0 when its rank falls past the recorded samples (seen
            # for p99 in pipelined runs): that is "no figure", not zero latency.
            key = "p" + m.group(1).replace(".", "")
            lat[key] = value if value else None
            continue
        in_distribution = in_distribution and bool(m)
        m = re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
        if m:
            e = out["errors"]
            e["connect"], e["read"], e["write"], e["timeout"] = map(int, m.groups())
            continue
        m = re.match(r"Non-2xx or 3xx responses:\s+(\d+)", s)
        if m:
            out["errors"]["status"] = int(m.group(1))
    return out


def parse_nexload(path):
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise ValueError(f"cannot read nexload's report {path}: {err.strerror}") from err
    except ValueError as err:
        raise ValueError(f"nexload's report {path} is not valid JSON: {err}") from err
    for field in ("requests", "duration_s", "rps", "errors", "status", "latency_us"):
        if field not in data:
            raise ValueError(f"nexload's report {path} has no '{field}' field")
    e = data["errors"]
    status = data["status"]
    lat = data["latency_us"]
    out = {
        "requests": int(data["requests"]),
        "duration_s": float(data["duration_s"]),
        "rps": float(data["rps"]),
        "latency_us": {k: lat.get(k) for k in ("p50", "p90", "p99", "p999", "p9999", "max",
                                                "min", "mean")},
        "errors": {
            "connect": e.get("connect", 0), "read": e.get("read", 0),
            "write": e.get("write", 0), "timeout": e.get("timeout", 0),
            "parse": e.get("parse", 0),
            # Not an error for nexload, but the comparison wants 200s only: count the others.
            "status": sum(int(status.get(c, 0)) for c in ("1xx", "3xx", "4xx", "5xx")),
        },
    }
    if data.get("first_error"):
        out["first_error"] = data["first_error"]
    if "corrected_latency_us" in data:
        c = data["corrected_latency_us"]
        out["corrected_latency_us"] = {k: c.get(k) for k in ("p50", "p90", "p99", "p999",
                                                             "p9999", "max")}
    return out


def read_time_file(path):
    """/usr/bin/time -f '%U %S %e' output: the last line holds user, system, elapsed seconds."""
    text = read_text(path, "")
    for line in reversed(text.splitlines()):
        parts = line.split()
        if len(parts) == 3:
            try:
                return tuple(float(p) for p in parts)
            except ValueError:
                continue
    return None


def read_proc_stat_cpu(path):
    """The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal
    (clock ticks, all CPUs together), or None."""
    text = read_text(path, "") if path else ""
    parts = text.split()
    if len(parts) < 9 or parts[0] != "cpu":
        return None
    try:
        return [int(x) for x in parts[1:9]]
    except ValueError:
        return None


def machine_load(args, wall_s, server_percent, loadgen_percent):
    """What else ran during the run, in % of one core: the processes' time on all CPUs (user,
    nice, system, irq, softirq) less the server's and the load generator's, and the time the
    hypervisor took (steal). irq and softirq count because with tick-based accounting (this
    kernel's) a tick that lands in an interrupt is added to the interrupted task's stime but
    booked as irq/softirq in /proc/stat: without them, a server whose loopback TCP runs in softirq
    used more CPU than the whole machine, and every run read below zero. Both are approximate: the counters come from different accounting paths.
    "Other" is returned as measured: below zero the counters disagree (the machine's total is less
    than the server's and the load generator's own), which says the reading is unreliable, not
    that the machine was quiet; other_load_negative() flags it."""
    before = read_proc_stat_cpu(args.proc_stat_before)
    after = read_proc_stat_cpu(args.proc_stat_after)
    if not before or not after or wall_s <= 0:
        return None, None
    delta = [b - a for a, b in zip(before, after)]
    per_core = 100.0 / (args.clk_tck * wall_s)
    processes = (delta[0] + delta[1] + delta[2] + delta[5] + delta[6]) * per_core
    other = processes - (server_percent or 0) - (loadgen_percent or 0)
    return round(other, 1), round(delta[7] * per_core, 1)


def other_load_negative(value):
    """True for an "other load" reading below zero: the counters disagree, the reading is bad."""
    return value is not None and value < 0


def cmd_record(args):
    problems = []
    if args.tool == "wrk":
        text = read_text(args.output, "")
        parsed = parse_wrk(text)
        if parsed["requests"] is None or parsed["rps"] is None:
            problems.append("wrk printed no summary")
    else:
        try:
            parsed = parse_nexload(args.json)
        except ValueError as err:
            problems.append(str(err))
            parsed = {"requests": None, "duration_s": None, "rps": None, "latency_us": {},
                      "errors": {}}
    if args.exit_code != 0:
        problems.append(f"{args.tool} exited with status {args.exit_code}")
    if not args.server_alive:
        problems.append("the server died during the run")

    requests = parsed["requests"]
    cpu_s = args.ticks / args.clk_tck
    wall_s = args.wall_us / 1e6
    times = read_time_file(args.time)
    loadgen_cpu = None
    if times and times[2] > 0:
        loadgen_cpu = round((times[0] + times[1]) / times[2] * 100, 1)
    server_percent = round(cpu_s / wall_s * 100, 1) if wall_s > 0 else None
    other_percent, steal_percent = machine_load(args, wall_s, server_percent, loadgen_cpu)
    errors = parsed["errors"]
    if errors:
        errors["total"] = sum(v for v in errors.values() if isinstance(v, int))
    record = {
        "server": args.server,
        "workload": args.workload,
        "tool": args.tool,
        "round": args.round,
        "requests": requests,
        "duration_s": parsed["duration_s"],
        "req_per_sec": round(parsed["rps"], 2) if parsed["rps"] is not None else None,
        "server_cpu_ticks": args.ticks,
        "server_cpu_us_per_req": round(cpu_s * 1e6 / requests, 3) if requests else None,
        "server_cpu_percent": server_percent,
        "wall_s": round(wall_s, 3),
        "loadgen_cpu_percent": loadgen_cpu,
        "loadgen_bound": loadgen_cpu is not None and loadgen_cpu > LOADGEN_BOUND_PERCENT,
        "other_cpu_percent": other_percent,
        "other_cpu_negative": other_load_negative(other_percent),
        "steal_percent": steal_percent,
        "latency_us": parsed["latency_us"],
        "errors": errors,
        "problems": problems,
        "output": os.path.basename(args.output),
    }
    if "corrected_latency_us" in parsed:
        record["corrected_latency_us"] = parsed["corrected_latency_us"]
    if parsed.get("first_error"):
        record["first_error"] = parsed["first_error"]
    print(json.dumps(record))
    summary = (f"round {args.round}: {args.server} {args.workload} ({args.tool}): "
               f"{fmt_int(record['req_per_sec'])} req/s, "
               f"{fmt_num(record['server_cpu_us_per_req'], 3)} µs CPU/req, "
               f"server CPU {fmt_num(record['server_cpu_percent'], 1)}%, "
               f"{args.tool} CPU {fmt_num(loadgen_cpu, 1)}%, "
               f"p99 {fmt_ms(record['latency_us'].get('p99'))} ms, "
               f"errors {errors.get('total', '?') if errors else '?'}, "
               f"other load {fmt_num(other_percent, 0)}%")
    if other_load_negative(other_percent):
        summary += " (negative: the counters disagree, the reading is unreliable)"
    if problems:
        summary += " — " + "; ".join(problems)
    print(f"compare.sh: {summary}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------
# formatting


def fmt_int(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_num(v, digits):
    return "—" if v is None else f"{v:.{digits}f}"


def fmt_other(v):
    """An "other load" reading, flagged with ‡ when negative (see machine_load)."""
    return fmt_num(v, 0) + (" ‡" if other_load_negative(v) else "")


def fmt_ms(us):
    if us is None:
        return "—"
    ms = us / 1000.0
    if ms < 1:
        return f"{ms:.3f}"
    if ms < 100:
        return f"{ms:.2f}"
    return f"{ms:.0f}"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}×"


def short_rps(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e5:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def short_cpu(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ------------------------------------------------------------------------------------------------
# report


def read_jsonl(path):
    out = []
    text = read_text(path, "")
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as err:
                fail(f"{path}:{number}: not a JSON line: {err}")
    return out


def summarise(runs, servers, tools, workloads):
    """Medians over rounds per (server, workload, tool), with per-round ratios to nginx."""
    by_key = {}
    for r in runs:
        by_key.setdefault((r["server"], r["workload"], r["tool"]), []).append(r)
    nginx_by_round = {(r["workload"], r["tool"], r["round"]): r for r in runs
                      if r["server"] == "nginx"}
    rows = []
    for workload in workloads:
        for server in servers:
            for tool in tools:
                group = by_key.get((server, workload, tool))
                if not group:
                    continue
                ok = [r for r in group if r["req_per_sec"] is not None]
                rps_ratios, cpu_ratios = [], []
                for r in ok:
                    ref = nginx_by_round.get((workload, tool, r["round"]))
                    if server == "nginx" or not ref or not ref.get("req_per_sec"):
                        continue
                    rps_ratios.append(r["req_per_sec"] / ref["req_per_sec"])
                    if r["server_cpu_us_per_req"] and ref.get("server_cpu_us_per_req"):
                        cpu_ratios.append(r["server_cpu_us_per_req"] /
                                          ref["server_cpu_us_per_req"])
                latency_keys = sorted({k for r in ok for k in r["latency_us"]})
                rps = [r["req_per_sec"] for r in ok]
                rows.append({
                    "server": server, "workload": workload, "tool": tool,
                    "rounds": len(ok),
                    "req_per_sec": median(rps),
                    "req_per_sec_min": min(rps) if rps else None,
                    "req_per_sec_max": max(rps) if rps else None,
                    "server_cpu_us_per_req": median(r["server_cpu_us_per_req"] for r in ok),
                    "server_cpu_us_per_req_min": min((r["server_cpu_us_per_req"] for r in ok
                                                      if r["server_cpu_us_per_req"]),
                                                     default=None),
                    "server_cpu_us_per_req_max": max((r["server_cpu_us_per_req"] for r in ok
                                                      if r["server_cpu_us_per_req"]),
                                                     default=None),
                    "server_cpu_percent": median(r["server_cpu_percent"] for r in ok),
                    "loadgen_cpu_percent": median(r["loadgen_cpu_percent"] for r in ok),
                    "loadgen_bound_rounds": sum(1 for r in ok if r["loadgen_bound"]),
                    "latency_us": {k: median(r["latency_us"].get(k) for r in ok)
                                   for k in latency_keys},
                    "errors_total": sum((r["errors"] or {}).get("total", 0) for r in ok),
                    "ratio_to_nginx": {
                        "req_per_sec": median(rps_ratios),
                        "server_cpu_us_per_req": median(cpu_ratios),
                        "req_per_sec_per_round": [round(x, 4) for x in rps_ratios],
                        "server_cpu_us_per_req_per_round": [round(x, 4) for x in cpu_ratios],
                    } if server != "nginx" else None,
                })
    return rows


def peer_figures(runs, tools):
    """PEER_FIGURES measured: per tool, the figure (or its ratio to the reference, taken per
    round), its median and the rounds'."""
    by = {(r["server"], r["workload"], r["tool"], r["round"]): r for r in runs}
    out = []
    for title, server, ref, workload, metric, goal in PEER_FIGURES:
        for tool in tools:
            values = []
            for (s, w, t, rnd), r in sorted(by.items(), key=lambda kv: kv[0][3]):
                if (s, w, t) != (server, workload, tool) or not r.get(metric):
                    continue
                if ref is None:
                    values.append(r[metric])
                    continue
                other = by.get((ref, workload, tool, rnd))
                if other and other.get(metric):
                    values.append(r[metric] / other[metric])
            if values:
                out.append({"title": title, "server": server, "reference": ref,
                            "workload": workload, "metric": metric, "tool": tool, "goal": goal,
                            "median": median(values),
                            "per_round": [round(v, 4) for v in values]})
    return out


def cmd_report(args):
    runs = read_jsonl(args.runs)
    events = read_jsonl(args.events) if args.events else []
    try:
        env = json.loads(Path(args.environment).read_text())
    except (OSError, ValueError) as err:
        fail(f"cannot read the environment file {args.environment}: {err}")
    env["loadavg_end"] = loadavg()
    servers = [s for s in args.servers.split(",") if s]
    tools = [t for t in args.tools.split(",") if t]
    workloads = ["plain", "pipelined"]
    result = {
        "schema": SCHEMA,
        "started_utc": args.started,
        "finished_utc": subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"],
                                       capture_output=True, text=True,
                                       check=False).stdout.strip(),
        "settings": {
            "duration_s": args.duration, "rounds": args.rounds, "warmup_s": args.warmup,
            "connections": args.connections, "pipeline": args.pipeline,
            "load_threads": 1, "servers": servers, "tools": tools,
            "pinned": args.pinned == 1, "pinning": args.pinning,
            "loadgen_bound_percent": LOADGEN_BOUND_PERCENT,
        },
        "environment": env,
        "servers": {e["server"]: {k: v for k, v in e.items() if k not in ("kind", "server")}
                    for e in events if e.get("kind") == "server"},
        "skipped": [{"what": e["what"], "reason": e["reason"]} for e in events
                    if e.get("kind") == "skipped"],
        "notes": [e["text"] for e in events if e.get("kind") == "note"],
        "failures": [e["text"] for e in events if e.get("kind") == "failure"] +
                    [f"{r['server']} {r['workload']} ({r['tool']}, round {r['round']}): {p}"
                     for r in runs for p in r.get("problems", [])],
        "summary": summarise(runs, servers, tools, workloads),
        "peers": peer_figures(runs, tools),
        "runs": runs,
    }
    prefix = Path(args.out)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_suffix(".json")
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    png_path = prefix.with_suffix(".png")
    chart_ok = False
    if args.no_chart:
        result["chart"] = None
    else:
        chart_ok = draw_chart(result, png_path)
        result["chart"] = png_path.name if chart_ok else None
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    md_path = prefix.with_suffix(".md")
    md_path.write_text(markdown(result))
    print(str(json_path))
    print(str(md_path))
    if chart_ok:
        print(str(png_path))


# ------------------------------------------------------------------------------------------------
# Markdown


def server_label(result, server):
    info = result["servers"].get(server, {})
    version = info.get("version")
    title = SERVER_TITLES.get(server, server)
    return f"{title} {version}" if version else title


def rounds_text(rounds):
    return "1 round" if rounds == 1 else f"{rounds} rounds; figures are medians over the rounds"


def markdown(result):
    s = result["settings"]
    env = result["environment"]
    v = env.get("versions", {})
    git = env.get("git", {})
    lines = []
    add = lines.append
    add(f"# Server comparison, {result['started_utc']}")
    add("")
    add(f"Each server alone, one worker/process, {s['pinning']}. {s['connections']} keep-alive "
        f"connections, 1 load thread, {s['duration_s']} s per run after a {s['warmup_s']} s "
        f"warm-up; pipelined runs send {s['pipeline']} requests per write. "
        f"{rounds_text(s['rounds'])}. Response: "
        f"`Hello, World!` (text/plain) to `GET /plaintext`; the servers named \"small API\" "
        f"answer `GET /api/v1/users/42` with `Authorization: Bearer bench-token` instead: a "
        f"token check, the user as JSON and an `x-request-id` header added on the way out "
        f"(bench/compare/servers/api-shape.js).")
    add("")
    if result.get("chart"):
        add(f"![requests per second and server CPU per request]({result['chart']})")
        add("")
    tools = s["tools"]
    for workload in ("plain", "pipelined"):
        rows = [r for r in result["summary"] if r["workload"] == workload]
        if not rows:
            continue
        title = WORKLOAD_TITLES[workload]
        if workload == "pipelined":
            title += f", depth {s['pipeline']}"
        add(f"## {title}")
        add("")
        add("| server | load generator | req/s | µs CPU/req | req/s ÷ nginx | CPU/req ÷ nginx "
            "| server CPU % | load gen. CPU % | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
            "| errors |")
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            ratio = r["ratio_to_nginx"] or {}
            rps_ratio, cpu_ratio = "1", "1"
            if r["server"] != "nginx":
                rps_ratio = fmt_ratio(ratio.get("req_per_sec"))
                cpu_ratio = fmt_ratio(ratio.get("server_cpu_us_per_req"))
            lat = r["latency_us"]
            loadgen = fmt_num(r["loadgen_cpu_percent"], 1)
            if r["loadgen_bound_rounds"]:
                loadgen += " †"
            rps = fmt_int(r["req_per_sec"])
            if r["rounds"] > 1:
                rps += f" ({short_rps(r['req_per_sec_min'])}–{short_rps(r['req_per_sec_max'])})"
            add(f"| {server_label(result, r['server'])} | {r['tool']} | {rps} "
                f"| {fmt_num(r['server_cpu_us_per_req'], 2)} "
                f"| {rps_ratio} | {cpu_ratio} "
                f"| {fmt_num(r['server_cpu_percent'], 0)} | {loadgen} "
                f"| {fmt_ms(lat.get('p50'))} | {fmt_ms(lat.get('p90'))} | {fmt_ms(lat.get('p99'))} "
                f"| {fmt_ms(lat.get('p999'))} | {fmt_ms(lat.get('max'))} | {r['errors_total']:,} |")
        add("")
    peers = result.get("peers") or []
    if peers:
        add("## NexureJS against its JavaScript peers")
        add("")
        add("Ratios are taken per round between runs of the same round and load generator, then "
            "the median; the goals are issues 20's and 21's (reported, not asserted).")
        add("")
        add("| figure | load generator | NexureJS ÷ | median | per round | goal |")
        add("|---|---|---|---:|---|---|")
        for p in peers:
            ref = SERVER_TITLES.get(p["reference"], p["reference"]) if p["reference"] else "—"
            unit = "" if p["reference"] is None else "x"
            rounds = ", ".join(f"{v:.2f}" for v in p["per_round"])
            add(f"| {p['title']} | {p['tool']} | {ref} | {p['median']:.2f}{unit} | {rounds} "
                f"| {p['goal']} |")
        add("")
    add("How to read: when the server's CPU is near 100 %, req/s is what the server can do on "
        "one core; when the load generator's is (marked †: above "
        f"{s['loadgen_bound_percent']:.0f} % in at least one round), req/s is the load "
        "generator's limit: compare µs CPU/req then, which stays meaningful. Ratios are taken "
        "per round against nginx "
        "measured with the same tool, then the median. With several rounds, req/s shows the "
        "range over the rounds in brackets. "
        "Latencies: nexload times every request; wrk times each pipelined batch as one sample "
        "and reports p50/p75/p90/p99 only (— where a figure is not available).")
    add("")
    notes = list(result["notes"])
    other = median(r.get("other_cpu_percent") for r in result["runs"])
    steal = median(r.get("steal_percent") for r in result["runs"])
    if other is not None and other >= BUSY_MACHINE_PERCENT:
        notes.append(f"other processes used a median {other:.0f} % of a core during the runs "
                     "(see \"other load\" below): these figures are noisier than usual")
    negative = [r for r in result["runs"] if other_load_negative(r.get("other_cpu_percent"))]
    if negative:
        notes.append(f"{len(negative)} of {len(result['runs'])} runs read a negative other load "
                     "(marked ‡ below): the machine's counters came out below the server's and "
                     "the load generator's own, so for those runs the other load is unknown, "
                     "not zero")
    if steal is not None and steal >= BUSY_MACHINE_PERCENT:
        notes.append(f"the hypervisor took a median {steal:.0f} % of a core (steal) during the "
                     "runs: these figures are noisier than usual")
    if result["skipped"] or notes:
        add("## Notes")
        add("")
        for item in result["skipped"]:
            add(f"- skipped {item['what']}: {item['reason']}")
        for note in notes:
            add(f"- {note}")
        add("")
    if result["failures"]:
        add("## Problems during the run")
        add("")
        for f in result["failures"]:
            add(f"- {f}")
        add("")
    add("## Environment")
    add("")
    vulns = env.get("vulnerabilities", {})
    mitigated = sorted(k for k, text in vulns.items() if text.startswith("Mitigation"))
    vulnerable = sorted(k for k, text in vulns.items() if text.startswith("Vulnerable"))
    dirty = git.get("dirty")
    add("| | |")
    add("|---|---|")
    add(f"| date (UTC) | {result['started_utc']} – {result['finished_utc']} |")
    add(f"| OS, kernel | {env.get('os') or 'unknown'}, {env.get('kernel')} |")
    add(f"| CPU | {env.get('cpu_model')}, {env.get('cpus')} CPUs, "
        f"governor: {env.get('governor')} |")
    add(f"| mitigations | {', '.join(mitigated) or 'none reported'} mitigated; "
        f"{', '.join(vulnerable) or 'none'} reported vulnerable |")
    add(f"| kernel command line | `{env.get('kernel_cmdline') or ''}` |")
    add(f"| load average at start / end | {env.get('loadavg_start')} / {env.get('loadavg_end')} |")
    add(f"| git commit | {git.get('commit')}"
        f"{' (uncommitted changes in tracked files)' if dirty else ''} |")
    vtext = ", ".join(f"{k.replace('_', '-')} {val}" for k, val in v.items() if val)
    add(f"| versions | {vtext} |")
    add("")
    add("## Every run")
    add("")
    add("Other load: CPU time of everything else on the machine during the run (builds, other "
        "sessions), and steal: time the hypervisor gave to other guests, both in % of one core. "
        "Both are printed as measured; ‡ marks a negative other load, a reading where the "
        "counters disagree (unreliable, not a quiet machine).")
    add("")
    add("| round | server | workload | tool | req/s | µs CPU/req | server CPU % | load gen. CPU % "
        "| other load % | steal % | p99 ms | errors |")
    add("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in result["runs"]:
        e = r.get("errors") or {}
        parts = [f"{k} {val}" for k, val in e.items() if k != "total" and val]
        add(f"| {r['round']} | {r['server']} | {r['workload']} | {r['tool']} "
            f"| {fmt_int(r['req_per_sec'])} | {fmt_num(r['server_cpu_us_per_req'], 3)} "
            f"| {fmt_num(r['server_cpu_percent'], 1)} | {fmt_num(r['loadgen_cpu_percent'], 1)} "
            f"| {fmt_other(r.get('other_cpu_percent'))} | {fmt_num(r.get('steal_percent'), 0)} "
            f"| {fmt_ms(r['latency_us'].get('p99'))} | {', '.join(parts) or '0'} |")
    add("")
    return "\n".join(lines)


def cmd_markdown(args):
    result = json.loads(Path(args.result).read_text())
    sys.stdout.write(markdown(result))


# ------------------------------------------------------------------------------------------------
# chart (gnuplot)


def gp_string(text):
    """A gnuplot double-quoted string (where \\n is a line break)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def panel(result, workload, metric, servers, tools):
    """gnuplot commands for one panel: bars per server, one per tool, with value labels,
    min-max whiskers over the rounds and a hatch where the load generator was the limit."""
    s = result["settings"]
    rows = {(r["server"], r["tool"]): r for r in result["summary"] if r["workload"] == workload}
    n = len(tools)
    width = 0.8 / n
    is_rps = metric == "req_per_sec"
    blocks = []
    plots = []
    top = 0.0
    bound_rows = []
    for i, tool in enumerate(tools):
        data = []
        for g, server in enumerate(servers):
            r = rows.get((server, tool))
            if not r or r[metric] is None:
                continue
            value = r[metric]
            lo = r.get(metric + "_min") or value
            hi = r.get(metric + "_max") or value
            x = g + (i - (n - 1) / 2) * width
            label = short_rps(value) if is_rps else short_cpu(value)
            data.append(f'{x:.4f} {value:.6g} {lo:.6g} {hi:.6g} "{label}"')
            top = max(top, hi)
            if is_rps and r["loadgen_bound_rounds"]:
                bound_rows.append(f"{x:.4f} {value:.6g}")
        if not data:
            continue
        name = f"$d_{workload}_{metric}_{i}"
        blocks.append(f"{name} << EOD\n" + "\n".join(data) + "\nEOD")
        colour = TOOL_COLOURS[i % len(TOOL_COLOURS)]
        plots.append(f"{name} using 1:2:({width * 0.95:.4f}) with boxes fc rgb '{colour}' "
                     f"title {gp_string(tool)}")
        if s["rounds"] > 1:
            # Whiskers from the lowest to the highest round, with caps (drawn as vectors: the
            # errorbar styles put a marker on the median).
            cap = width * 0.15
            whisker = "nohead lc rgb '#333333' lw 1 notitle"
            plots.append(f"{name} using 1:3:(0):($4-$3) with vectors {whisker}")
            for column in (3, 4):
                plots.append(f"{name} using ($1-{cap:.4f}):{column}:({2 * cap:.4f}):(0) "
                             f"with vectors {whisker}")
        plots.append(f"{name} using 1:4:5 with labels offset 0,0.7 font ',9' notitle")
    if bound_rows:
        name = f"$b_{workload}_{metric}"
        blocks.append(f"{name} << EOD\n" + "\n".join(bound_rows) + "\nEOD")
        plots.append(f"{name} using 1:2:({width * 0.95:.4f}) with boxes fs transparent pattern 4 "
                     "border lc rgb '#222222' lc rgb '#222222' "
                     "title 'load gen. >90% busy'")
    title = WORKLOAD_TITLES[workload]
    if workload == "pipelined":
        title += f" (depth {s['pipeline']})"
    if is_rps:
        title += ": requests per second (higher is better)"
        ylabel = "requests / s"
    else:
        title += ": server CPU per request (lower is better)"
        ylabel = "server CPU µs / request"
    # Headroom above the highest whisker for its label and, above that, the legend's one line.
    ymax = (top or 1) * 1.3
    cmds = blocks + [
        f"set title {gp_string(title)}",
        f"set ylabel {gp_string(ylabel)}",
        f"set yrange [0:{ymax:.6g}]",
        f"set ytics ({y_tics(ymax, is_rps)})",
        # gnuplot gives every entry of a horizontal key the width of the longest title: narrow the
        # columns when the long "load gen." entry is there, so that the key fits in one row.
        f"set key width {-5 if bound_rows else 0}",
    ]
    if plots:
        cmds.append("plot " + ", \\\n     ".join(plots))
    else:
        cmds.append("set label 1 'no data' at graph 0.5, graph 0.5 center")
        cmds.append("plot NaN notitle")
        cmds.append("unset label 1")
    return cmds


def y_tics(ymax, is_rps):
    """Explicit y tics for [0, ymax]: a step of 1, 2 or 5 times a power of ten giving at most 8
    intervals, labelled "250k", "1.5M" for requests/s (gnuplot's own %c format rounds 1.5M to
    "2M")."""
    step = 10 ** math.floor(math.log10(ymax / 8)) if ymax > 0 else 1
    for factor in (1, 2, 5, 10):
        if ymax / (step * factor) <= 8:
            step *= factor
            break
    tics = []
    value = 0.0
    while value <= ymax + step * 1e-9:
        if not is_rps:
            label = f"{value:g}"
        elif value >= 1e6:
            label = f"{value / 1e6:g}M"
        elif value >= 1e3:
            label = f"{value / 1e3:g}k"
        else:
            label = f"{value:g}"
        tics.append(f'"{label}" {value:.10g}')
        value = round(value + step, 10)
    return ", ".join(tics)


def chart_script(result, png_path):
    s = result["settings"]
    env = result["environment"]
    servers = [x for x in s["servers"] if any(r["server"] == x for r in result["summary"])]
    tools = [t for t in s["tools"] if any(r["tool"] == t for r in result["summary"])]
    xtics = ", ".join(f"{gp_string(CHART_TITLES.get(x, SERVER_TITLES.get(x, x)))} {g}"
                      for g, x in enumerate(servers))
    rounds = "1 round"
    if s["rounds"] > 1:
        rounds = f"median of {s['rounds']} rounds, whiskers: min–max"
    title = (f"NexureJS comparison, {result['started_utc'][:10]}: one server core, "
             f"{s['connections']} connections, {s['duration_s']} s runs, {rounds}\n"
             f"{env.get('cpu_model')}, {env.get('cpus')} vCPU, Linux {env.get('kernel')}")
    cmds = [
        "set encoding utf8",
        f"set terminal pngcairo size {max(1400, 150 * len(servers))},1100 noenhanced "
        "font 'DejaVu Sans,11'",
        f"set output {gp_string(str(png_path))}",
        f"set multiplot layout 2,2 title {gp_string(title)} font ',12'",
        "set style fill solid 0.9 border rgb '#333333'",
        "set grid ytics lc rgb '#dddddd'",
        "set border 3",
        "set tics nomirror",
        "set key top center horizontal Left reverse opaque box lc rgb '#cccccc' samplen 2",
        f"set xtics ({xtics}) font ',10' rotate by 30 right",
        f"set xrange [-0.6:{max(len(servers), 1) - 0.4}]",
    ]
    for workload in ("plain", "pipelined"):
        cmds += panel(result, workload, "req_per_sec", servers, tools)
        cmds += panel(result, workload, "server_cpu_us_per_req", servers, tools)
    cmds.append("unset multiplot")
    return "\n".join(cmds) + "\n"


def draw_chart(result, png_path):
    if shutil.which("gnuplot") is None:
        print("compare.py: warning: gnuplot not found (Debian package gnuplot-nox); no chart",
              file=sys.stderr)
        return False
    script = chart_script(result, png_path)
    with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as f:
        f.write(script)
        gp = f.name
    try:
        # A UTF-8 locale, so that gnuplot's `set encoding utf8` can convert (scripts/lib.sh
        # exports LC_ALL=C).
        gp_env = dict(os.environ, LC_ALL="C.UTF-8")
        done = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60,
                              check=False, env=gp_env)
    except subprocess.TimeoutExpired:
        print("compare.py: warning: gnuplot took more than 60 s; no chart", file=sys.stderr)
        return False
    finally:
        if not os.environ.get("COMPARE_KEEP_GNUPLOT"):
            os.unlink(gp)
    if done.returncode != 0 or not png_path.exists():
        print(f"compare.py: warning: gnuplot failed (script {gp}):\n{done.stderr}",
              file=sys.stderr)
        return False
    if done.stderr.strip():
        print(f"compare.py: gnuplot said: {done.stderr.strip()}", file=sys.stderr)
    return True


def cmd_chart(args):
    result = json.loads(Path(args.result).read_text())
    if not draw_chart(result, Path(args.png)):
        sys.exit(1)


# ------------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("environment")
    e.add_argument("--root", required=True)
    e.add_argument("--nexure")
    e.add_argument("--nexload")
    e.add_argument("--fastify-dir")
    e.set_defaults(func=cmd_environment)

    r = sub.add_parser("record")
    r.add_argument("--tool", choices=["wrk", "nexload"], required=True)
    r.add_argument("--server", required=True)
    r.add_argument("--workload", choices=["plain", "pipelined"], required=True)
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--json")
    r.add_argument("--time", required=True)
    r.add_argument("--ticks", type=int, required=True)
    r.add_argument("--clk-tck", type=int, required=True)
    r.add_argument("--wall-us", type=int, required=True)
    r.add_argument("--exit-code", type=int, required=True)
    r.add_argument("--server-alive", type=int, choices=[0, 1], required=True)
    r.add_argument("--proc-stat-before")
    r.add_argument("--proc-stat-after")
    r.set_defaults(func=cmd_record)

    rep = sub.add_parser("report")
    rep.add_argument("--runs", required=True)
    rep.add_argument("--events")
    rep.add_argument("--environment", required=True)
    rep.add_argument("--out", required=True, help="path without extension")
    rep.add_argument("--started", required=True)
    rep.add_argument("--servers", required=True)
    rep.add_argument("--tools", required=True)
    rep.add_argument("--duration", type=int, required=True)
    rep.add_argument("--rounds", type=int, required=True)
    rep.add_argument("--warmup", type=int, required=True)
    rep.add_argument("--connections", type=int, required=True)
    rep.add_argument("--pipeline", type=int, required=True)
    rep.add_argument("--pinned", type=int, choices=[0, 1], required=True)
    rep.add_argument("--pinning", required=True)
    rep.add_argument("--no-chart", action="store_true")
    rep.set_defaults(func=cmd_report)

    m = sub.add_parser("markdown")
    m.add_argument("result")
    m.set_defaults(func=cmd_markdown)

    c = sub.add_parser("chart")
    c.add_argument("result")
    c.add_argument("png")
    c.set_defaults(func=cmd_chart)

    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
