#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The number crunching of tests/bench/run.sh: one fio result in the guest,
# the report files on the host. Each subcommand prints to stdout.
#
# Usage: tests/bench/report.py COMMAND ARG...
#   fio-json FILE          "iops MiB/s p50_us p99_us" of one fio
#                          --output-format=json run
#   markdown TSV INFO      results.md: one row per job, queue count and
#                          path, from results.tsv and the BENCH-INFO line
#   rst MARKDOWN           results.rst: results.md as an RST grid table
#   chart TSV              chart.dat: kIOPS per job (rows) and path
#                          (columns), for gnuplot
#
# results.tsv holds one "device|job|queues|path|iops|MiB/s|p50|p99" line
# per job run (the guest's BENCH| lines); INFO is "kernel|vCPUs|fio|qsd|
# runtime|placement" (its BENCH-INFO| line).

import datetime
import json
import sys


def fio_json(path):
    """Read and write summed (one of them is zero). The percentiles are of
    the total latency (lat_percentiles=1: from fio preparing the request to
    its completion), as clat leaves the submission out and io_uring on
    null_blk completes within the submitting call."""
    j = json.load(open(path))["jobs"][0]
    iops = bw = 0.0
    p50 = p99 = 0.0
    for d in ("read", "write"):
        s = j[d]
        if s["total_ios"] == 0:
            continue
        iops += s["iops"]
        bw += s["bw_bytes"] / 1048576.0
        pc = s["lat_ns"].get("percentile", {})
        p50 = max(p50, pc.get("50.000000", 0) / 1000.0)
        p99 = max(p99, pc.get("99.000000", 0) / 1000.0)
    print("%.0f %.1f %.1f %.1f" % (iops, bw, p50, p99))


def read_tsv(path):
    return [l.rstrip("\n").split("|") for l in open(path) if l.strip()]


def markdown(tsv, info_line):
    rows = read_tsv(tsv)
    info = info_line.split("|") + [""] * 6
    res = {}
    order = []
    for dev, job, nq, tr, iops, bw, p50, p99 in rows:
        k = (dev, job, nq)
        if k not in res:
            res[k] = {}
            order.append(k)
        res[k][tr] = (float(iops), float(bw), float(p50), float(p99))
    print("Date %s; guest kernel %s, %s vCPUs (QEMU TCG); %s; %s; %s s per job; %s."
          % (datetime.date.today().isoformat(), info[0], info[1], info[2],
             info[3] or "no qemu-storage-daemon", info[4],
             info[5] or "jobs not pinned"))
    print()
    print("| device | job | queues | path | IOPS | MiB/s | p50 us | p99 us | vs io_uring | vs qsd |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    # Paths in the order they ran.
    paths = list(dict.fromkeys(r[3] for r in rows))
    for k in order:
        for tr in paths:
            if tr not in res[k]:
                continue
            iops, bw, p50, p99 = res[k][tr]

            def ratio(base):
                b = res[k].get(base)
                return "%.2f" % (iops / b[0]) if b and b[0] else "-"
            print("| %s | %s | %s | %s | %.0f | %.1f | %.0f | %.0f | %s | %s |"
                  % (k[0], k[1], k[2], tr, iops, bw, p50, p99,
                     ratio("io_uring"), ratio("qsd")))


def rst(md):
    lines = [l.rstrip("\n") for l in open(md)]
    rows = [[c.strip() for c in l.strip("|").split("|")]
            for l in lines if l.startswith("|")]
    rows = [rows[0]] + rows[2:]
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    sep = "+" + "+".join("-" * (x + 2) for x in w) + "+"
    print(lines[0])
    print()
    print(sep)
    for n, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
        print(sep.replace("-", "=") if n == 0 else sep)


def chart(tsv):
    rows = read_tsv(tsv)
    res = {}
    order = []
    for dev, job, nq, tr, iops, bw, p50, p99 in rows:
        k = "%s q%s" % (job, nq) if dev == "nullb0" else "%s %s q%s" % (dev, job, nq)
        if k not in res:
            res[k] = {}
            order.append(k)
        res[k][tr] = float(iops) / 1000
    paths = list(dict.fromkeys(r[3] for r in rows))
    print("job " + " ".join(paths))
    for k in order:
        print('"%s" %s' % (k, " ".join("%.2f" % res[k].get(t, 0) for t in paths)))


COMMANDS = {
    "fio-json": (fio_json, 1),
    "markdown": (markdown, 2),
    "rst": (rst, 1),
    "chart": (chart, 1),
}


def main(argv):
    cmd = COMMANDS.get(argv[1]) if len(argv) > 1 else None
    if not cmd or len(argv) - 2 != cmd[1]:
        sys.stderr.write("usage: report.py {fio-json FILE | markdown TSV INFO"
                         " | rst MARKDOWN | chart TSV}\n")
        return 2
    cmd[0](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
