#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# The number crunching of tests/bench/run.sh: one fio result in the guest,
# the report files on the host. Each subcommand prints to stdout.
#
# Usage: tests/bench/report.py COMMAND ARG...
#   fio-json FILE STAT HZ RAMP
#                          "iops MiB/s p50_us p99_us cpu_us cs vcpus" of
#                          one fio --output-format=json run, with the
#                          /proc/stat snapshots tests/bench/stat-snap.sh
#                          wrote to STAT, USER_HZ and the ramp time (s)
#   markdown TSV INFO      results.md: one row per job, queue count and
#                          path, from results.tsv and the BENCH-INFO line
#   rst MARKDOWN           results.rst: results.md as an RST grid table
#   chart TSV              chart.dat: kIOPS per job (rows) and path
#                          (columns), for gnuplot
#   scatter TSV            scatter.dat: one block per path (in the order
#                          of chart.dat's columns) of "CPU-us-per-I/O
#                          kIOPS job" lines, for gnuplot's index
#
# results.tsv holds one "device|job|queues|path|iops|MiB/s|p50|p99|cpu_us|
# cs|vcpus" line per job run (the guest's BENCH| lines); INFO is "kernel|vCPUs|fio|qsd|
# runtime|placement" (its BENCH-INFO| line).

import datetime
import json
import re
import sys


def fio_json(path, stat, hz, ramp):
    """Read and write summed (one of them is zero). The percentiles are of
    the total latency (lat_percentiles=1: from fio preparing the request to
    its completion), as clat leaves the submission out and io_uring on
    null_blk completes within the submitting call.

    cpu_us and cs are the guest's busy CPU time (us) and context switches
    per I/O, vcpus its busy CPU time per second, from the first "start" to
    the last "end" snapshot in STAT (one of each per job thread). Exits
    non-zero unless all three are positive."""
    # fio's note on exec_prerun comes before the JSON.
    text = open(path).read()
    j = json.loads(text[text.find("{"):])["jobs"][0]
    iops = bw = 0.0
    p50 = p99 = 0.0
    runtime = 0.0
    for d in ("read", "write"):
        s = j[d]
        if s["total_ios"] == 0:
            continue
        runtime = max(runtime, s["runtime"] / 1000.0)
        iops += s["iops"]
        bw += s["bw_bytes"] / 1048576.0
        pc = s["lat_ns"].get("percentile", {})
        p50 = max(p50, pc.get("50.000000", 0) / 1000.0)
        p99 = max(p99, pc.get("99.000000", 0) / 1000.0)
    # "start|end uptime_s busy_ticks ctxt"
    snaps = {"start": [], "end": []}
    try:
        lines = open(stat).readlines()
    except OSError as e:
        sys.exit("no /proc/stat snapshots: %s" % e)
    for line in lines:
        f = line.split()
        if len(f) == 4 and f[0] in snaps:
            snaps[f[0]].append((float(f[1]), int(f[2]), int(f[3])))
    if not snaps["start"] or not snaps["end"] or not iops:
        sys.exit("no /proc/stat snapshots or no I/O (%s)" % stat)
    # The threads of a job start apart (by seconds, at worst, on a loaded
    # TCG host), so in the window other threads may still ramp up or be
    # done already: count the I/O each thread did in it at its share of
    # fio's IOPS over its ramp and measured time, as the threads of a job
    # run alike.
    t0, b0, c0 = min(snaps["start"])
    t1, b1, c1 = max(snaps["end"])
    active = sum(max(0.0, min(s + runtime, t1) - max(s - float(ramp), t0))
                 for s, _, _ in snaps["start"])
    ios = iops / len(snaps["start"]) * active
    if t1 <= t0 or ios <= 0:
        sys.exit("empty /proc/stat window (%s)" % stat)
    busy = (b1 - b0) / float(hz)
    vcpus = busy / (t1 - t0)
    cpu_us = busy * 1e6 / ios
    cs = (c1 - c0) / ios
    if cpu_us <= 0 or cs <= 0 or vcpus <= 0:
        sys.exit("CPU per I/O %.3f us, %.4f context switches per I/O, %.2f"
                 " vCPUs busy: not all positive" % (cpu_us, cs, vcpus))
    print("%.0f %.1f %.1f %.1f %.2f %.4f %.2f"
          % (iops, bw, p50, p99, cpu_us, cs, vcpus))


def read_tsv(path):
    return [l.rstrip("\n").split("|") for l in open(path) if l.strip()]


def markdown(tsv, info_line):
    rows = read_tsv(tsv)
    info = info_line.split("|") + [""] * 6
    res = {}
    order = []
    for dev, job, nq, tr, *vals in rows:
        k = (dev, job, nq)
        if k not in res:
            res[k] = {}
            order.append(k)
        res[k][tr] = [float(v) for v in vals]
    print("Date %s; guest kernel %s, %s vCPUs (QEMU TCG); %s; %s; %s s per job; %s."
          % (datetime.date.today().isoformat(), info[0], info[1], info[2],
             info[3] or "no qemu-storage-daemon", info[4],
             info[5] or "jobs not pinned"))
    print()
    # Paths in the order they ran; the baselines each row is compared with.
    paths = list(dict.fromkeys(r[3] for r in rows))
    bases = [b for b in ("io_uring", "io_uring+sqpoll", "qsd") if b in paths]
    name = {"io_uring+sqpoll": "sqpoll"}
    print("| device | job | queues | path | IOPS | MiB/s | p50 us | p99 us"
          " | CPU us/IO | cs/IO | busy vCPUs | "
          + " | ".join("vs " + name.get(b, b) for b in bases) + " |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
          + " | ".join("---:" for b in bases) + " |")
    for k in order:
        for tr in paths:
            if tr not in res[k]:
                continue
            iops, bw, p50, p99, cpu, cs, vcpus = res[k][tr]

            def ratio(base):
                b = res[k].get(base)
                return "%.2f" % (iops / b[0]) if b and b[0] else "-"
            print("| %s | %s | %s | %s | %.0f | %.1f | %.0f | %.0f | %.1f"
                  " | %.3f | %.2f | %s |"
                  % (k[0], k[1], k[2], tr, iops, bw, p50, p99, cpu, cs,
                     vcpus, " | ".join(ratio(b) for b in bases)))


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
    for dev, job, nq, tr, iops, *_ in rows:
        k = "%s q%s" % (job, nq) if dev == "nullb0" else "%s %s q%s" % (dev, job, nq)
        if k not in res:
            res[k] = {}
            order.append(k)
        res[k][tr] = float(iops) / 1000
    paths = list(dict.fromkeys(r[3] for r in rows))
    print("job " + " ".join(paths))
    for k in order:
        print('"%s" %s' % (k, " ".join("%.2f" % res[k].get(t, 0) for t in paths)))


def scatter(tsv):
    rows = read_tsv(tsv)
    paths = list(dict.fromkeys(r[3] for r in rows))
    for t in paths:
        for dev, job, nq, tr, iops, bw, p50, p99, cpu, *_ in rows:
            if tr != t:
                continue
            k = "%s q%s" % (job, nq) if dev == "nullb0" else "%s %s q%s" % (dev, job, nq)
            print('%s %.2f "%s"' % (cpu, float(iops) / 1000, k))
        print()
        print()


def scale(tsv):
    """Aggregate IOPS of N queues of one device ("nullb0", queues N) and
    of N devices of one queue ("Nxnullb0"), each as a multiple of the
    same path's one queue of one device, with CPU time per I/O."""
    rows = read_tsv(tsv)
    devs = re.compile(r"([0-9]+)x(.+)$")
    one = {}
    for dev, job, nq, tr, iops, *_ in rows:
        if not devs.match(dev) and nq == "1":
            one[(dev, job, tr)] = float(iops)
    print("| backend | job | path | N | queues of one device: IOPS | x of 1"
          " | CPU us/IO | devices of one queue: IOPS | x of 1 | CPU us/IO |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    res = {}
    order = []
    for dev, job, nq, tr, iops, bw, p50, p99, cpu, *_ in rows:
        m = devs.match(dev)
        if m:
            n, base = m.groups()
            kind = 1
        else:
            n, base = nq, dev
            kind = 0
        k = (base, job, tr, n)
        if k not in res:
            res[k] = [None, None]
            order.append(k)
        res[k][kind] = (float(iops), float(cpu))
    for base, job, tr, n in order:
        b = one.get((base, job, tr))
        cells = []
        for v in res[(base, job, tr, n)]:
            if v is None:
                cells += ["-", "-", "-"]
            else:
                cells += ["%.0f" % v[0],
                          "%.2f" % (v[0] / b) if b else "-",
                          "%.1f" % v[1]]
        print("| %s | %s | %s | %s | %s |" % (base, job, tr, n,
                                            " | ".join(cells)))


COMMANDS = {
    "fio-json": (fio_json, 4),
    "markdown": (markdown, 2),
    "rst": (rst, 1),
    "chart": (chart, 1),
    "scatter": (scatter, 1),
    "scale": (scale, 1),
}


def main(argv):
    cmd = COMMANDS.get(argv[1]) if len(argv) > 1 else None
    if not cmd or len(argv) - 2 != cmd[1]:
        sys.stderr.write("usage: report.py {fio-json FILE STAT HZ RAMP | markdown TSV INFO"
                         " | rst MARKDOWN | chart TSV | scatter TSV | scale TSV}\n")
        return 2
    cmd[0](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
