#!/usr/bin/env python3
"""Replays the conformance cases against running servers and compares them.

Used by scripts/conformance-nginx.sh (which starts the servers); standard library only.

  replay.py --cases DIR --nexure PORT --nginx PORT [--nginx-version V] [--notes FILE]
            [--markdown OUT]

Each case's bytes are sent whole on a fresh connection to 127.0.0.1:PORT. The replayer then reads
responses (1xx are skipped) until the server closes, or until it has at least as many as the case
expects and nothing more arrives for a moment. If the connection is still open it sends a probe
request: an answer to it means "keep-alive", a close means "close", silence means "open" (the
server is still waiting for bytes it thinks belong to a request). The result is written like an
expect: line ("200 400 close"), so that it compares with the case as text.

Prints one line per case (expected, NexureJS, nginx) and, with --markdown, writes the table of the
cases where nginx differs from the expectation, each explained by its line in --notes.
"""

import argparse
import concurrent.futures
import datetime
import os
import re
import socket
import sys
import time

PROBE = b"GET /conformance-probe HTTP/1.1\r\nHost: probe\r\n\r\n"
READ_LIMIT_S = 3.0  # the most one case waits for responses
SETTLE_S = 0.25  # quiet time that ends the reading once the expected responses are in
PROBE_LIMIT_S = 2.0


class CaseError(Exception):
    pass


def parse_case(path):
    """Parses a case file (tests/conformance/README.md); the C++ loader is the strict one."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    rfc, notes, expect, data = [], [], None, bytearray()
    in_bytes = False
    escapes = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\"}
    for number, line in enumerate(text.split("\n"), 1):
        if in_bytes:
            i = 0
            while i < len(line):
                c = line[i]
                if c != "\\":
                    data += c.encode("ascii")
                    i += 1
                    continue
                e = line[i + 1 : i + 2]
                if e == "x":
                    data.append(int(line[i + 2 : i + 4], 16))
                    i += 4
                elif e in escapes:
                    data += escapes[e]
                    i += 2
                else:
                    raise CaseError(f"{path}:{number}: unknown escape")
            continue
        if line == "---":
            in_bytes = True
        elif line and not line.startswith("#"):
            key, _, value = line.partition(": ")
            if key == "rfc":
                rfc.append(value)
            elif key == "note":
                notes.append(value)
            elif key == "expect":
                expect = " ".join(value.split())
            else:
                raise CaseError(f"{path}:{number}: unknown key {key!r}")
    if expect is None or not rfc or not data:
        raise CaseError(f"{path}: incomplete case")
    name = os.path.basename(path)[: -len(".case")]
    return {"name": name, "rfc": rfc, "notes": notes, "expect": expect, "bytes": bytes(data)}


def expected_count(expect):
    return len(expect.split()) - 1


class Responses:
    """Splits a byte stream into responses: status line, fields, Content-Length or chunked body.

    A response to HEAD carries a Content-Length but no body; rather than tracking which requests
    were HEAD, a body is taken as absent when the next response starts where it would begin
    (the test servers' bodies never start with "HTTP/1.")."""

    def __init__(self):
        self.buf = b""
        self.statuses = []

    def feed(self, data):
        self.buf += data
        while self._one():
            pass

    def _one(self):
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = self.buf[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/\d\.\d (\d{3})", head[0])
        if not m:
            self.statuses.append("garbage")
            self.buf = b""
            return False
        status = int(m.group(1))
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        rest = self.buf[end + 4 :]
        if status < 200 or status in (204, 304) or rest.startswith(b"HTTP/1."):
            used = 0
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            used = self._chunked_length(rest)
            if used is None:
                return False
        elif "content-length" in fields:
            used = int(fields["content-length"])
            if len(rest) < used:
                return False
        else:
            return False  # close-delimited: the rest of the stream
        self.buf = rest[used:]
        if status >= 200:
            self.statuses.append(status)
        return True

    @staticmethod
    def _chunked_length(data):
        at = 0
        while True:
            eol = data.find(b"\r\n", at)
            if eol < 0:
                return None
            size = int(data[at:eol].split(b";")[0], 16)
            at = eol + 2
            if size == 0:
                end = data.find(b"\r\n\r\n", at - 2)
                return None if end < 0 else end + 4
            at += size + 2
            if at > len(data):
                return None


def read_until(sock, stream, want, limit_s):
    """Reads into `stream` until EOF (returns True), or until it holds `want` responses and the
    line has been quiet for SETTLE_S, or `limit_s` passes (returns False)."""
    deadline = time.monotonic() + limit_s
    while True:
        now = time.monotonic()
        if now >= deadline:
            return False
        wait = deadline - now
        if len(stream.statuses) >= want:
            wait = min(wait, SETTLE_S)
        sock.settimeout(wait)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if len(stream.statuses) >= want:
                return False
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
        stream.feed(data)


def replay(port, case):
    stream = Responses()
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        try:
            sock.sendall(case["bytes"])
        except (ConnectionResetError, BrokenPipeError):
            pass
        closed = read_until(sock, stream, expected_count(case["expect"]), READ_LIMIT_S)
        statuses = list(stream.statuses)
        if closed:
            outcome = "close"
        else:
            before = len(stream.statuses)
            try:
                sock.sendall(PROBE)
                closed = read_until(sock, stream, before + 1, PROBE_LIMIT_S)
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            answered = stream.statuses[before:]
            if answered[:1] == [200]:
                outcome = "keep-alive"
            else:
                outcome = "close" if closed else "open"
    return " ".join([str(s) for s in statuses] + [outcome])


def load_notes(path):
    notes = {}
    if not path:
        return notes
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, _, text = line.partition(": ")
            notes[name.strip()] = text.strip()
    return notes


def short_rfc(case):
    refs = []
    for r in case["rfc"]:
        m = re.match(r"(RFC \d+ §[\d.]+)", r)
        if m and m.group(1) not in refs:
            refs.append(m.group(1))
    return ", ".join(refs)


def write_markdown(path, cases, results, args, notes):
    version = args.nginx_version or "?"
    differ = [c for c in cases if results[c["name"]]["nginx"] != c["expect"]]
    ours = [c for c in cases if results[c["name"]]["nexure"] != c["expect"]]
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    out = []
    out.append("# Where nginx differs from the conformance cases\n")
    out.append(
        f"Generated by `scripts/conformance-nginx.sh` on {today}: each of the {len(cases)} cases in "
        f"`tests/conformance/cases/` was sent whole to NexureJS (`nexure-conformance-server`) "
        f"and to Debian's nginx {version} (`return 200` for every path), both on 127.0.0.1. "
        "Outcomes are written like the cases' `expect:` lines: the final statuses in order, then "
        "`close` (the server closed the connection), `keep-alive` (it answered a further request) "
        "or `open` (it kept waiting for bytes it took to be part of a request).\n"
    )
    out.append(
        f"NexureJS matches the expectation in {len(cases) - len(ours)} of {len(cases)} cases; "
        f"nginx differs from it in {len(differ)}.\n"
    )
    out.append(f"| Case | Tests | Expected | nginx {version} | Why |")
    out.append("|---|---|---|---|---|")
    for c in differ:
        why = notes.get(c["name"], "(not explained yet: add a line to tests/conformance/nginx-notes.txt)")
        out.append(
            f"| `{c['name']}` | {short_rfc(c)} | {c['expect']} | {results[c['name']]['nginx']} | "
            f"{why} |"
        )
    if ours:
        out.append("\n## Cases where NexureJS itself differs from the expectation\n")
        out.append("| Case | Expected | NexureJS |")
        out.append("|---|---|---|")
        for c in ours:
            out.append(f"| `{c['name']}` | {c['expect']} | {results[c['name']]['nexure']} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return differ, ours


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", required=True)
    p.add_argument("--nexure", type=int, required=True, help="NexureJS port on 127.0.0.1")
    p.add_argument("--nginx", type=int, required=True, help="nginx port on 127.0.0.1")
    p.add_argument("--nginx-version", default="")
    p.add_argument("--notes", default="")
    p.add_argument("--markdown", default="")
    args = p.parse_args()

    cases = []
    for name in sorted(os.listdir(args.cases)):
        if name.endswith(".case"):
            cases.append(parse_case(os.path.join(args.cases, name)))
    results = {c["name"]: {} for c in cases}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        jobs = {}
        for c in cases:
            jobs[pool.submit(replay, args.nexure, c)] = (c["name"], "nexure")
            jobs[pool.submit(replay, args.nginx, c)] = (c["name"], "nginx")
        for job in concurrent.futures.as_completed(jobs):
            name, server = jobs[job]
            results[name][server] = job.result()

    width = max(len(c["name"]) for c in cases)
    print(f"{'case':<{width}}  {'expected':<22} {'nexure':<22} nginx")
    for c in cases:
        r = results[c["name"]]
        mark = " " if r["nexure"] == c["expect"] else "!"
        diff = "" if r["nginx"] == c["expect"] else "  <- nginx differs"
        print(f"{c['name']:<{width}} {mark}{c['expect']:<22} {r['nexure']:<22} {r['nginx']}{diff}")

    notes = load_notes(args.notes)
    if args.markdown:
        differ, ours = write_markdown(args.markdown, cases, results, args, notes)
    else:
        differ = [c for c in cases if results[c["name"]]["nginx"] != c["expect"]]
        ours = [c for c in cases if results[c["name"]]["nexure"] != c["expect"]]
    unexplained = [c["name"] for c in differ if c["name"] not in notes]
    print(f"\n{len(cases)} cases: NexureJS differs from the expectation in {len(ours)}, "
          f"nginx in {len(differ)} ({len(unexplained)} not explained in the notes)")
    for name in unexplained:
        print(f"  unexplained: {name}")
    return 1 if ours else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CaseError as e:
        print(f"replay.py: {e}", file=sys.stderr)
        sys.exit(2)
