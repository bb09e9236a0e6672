#!/usr/bin/env python3
"""Turns one bench run's work files into the table, bench/results.json and bench/RESULTS.md.

    report.py --work bench/tmp/<stamp> --json bench/results.json --markdown bench/RESULTS.md

Ratios are always gravel / pushgateway. Medians are over the rounds of a phase.
"""
import argparse
import glob
import json
import os
import statistics
import sys

TARGETS = {
    "ingest_ratio": 5.0,          # gravel samples/s >= 5x pushgateway's
    "parser_mb_s": 300.0,         # single-threaded
    "scrape_s": 1.0,              # GET /metrics of 1,000,000 series
    "bytes_per_series": 400.0,    # resident memory per stored series
    "stored_growth": 0.9,         # samples/s at 100k stored >= 90% of that at 1k stored
}
LOAD_THRESHOLD = 0.10  # other processes' share of all CPUs above which a run counts as under load


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read_text(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def push_samples(work):
    """Sample lines of the push body (not comments, not blank)."""
    n = 0
    with open(os.path.join(work, "push.txt"), "rb") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(b"#"):
                n += 1
    return n


def wrk_runs(work, label, gateway, samples):
    """Per-run figures and their medians for one gateway in one phase."""
    runs = []
    for path in sorted(glob.glob(os.path.join(work, f"{label}-{gateway}-[0-9]*.json"))):
        r = load(path)
        if not r or "requests" not in r:
            continue
        seconds = r["duration_us"] / 1e6
        pushes = r["requests"] / seconds if seconds else 0
        lat = r["latency_us"]
        if not r["requests"]:
            lat = {k: None for k in lat}
        ms = lambda v: None if v is None else v / 1000
        runs.append({
            "pushes_per_s": pushes,
            "samples_per_s": pushes * samples,
            "p50_ms": ms(lat["p50"]),
            "p90_ms": ms(lat["p90"]),
            "p99_ms": ms(lat["p99"]),
            "max_ms": ms(lat["max"]),
            "errors": sum(r["errors"].values()),
            "gateway_cpu_us_per_push": r["gateway_cpu_s"] / r["requests"] * 1e6 if r["requests"] else None,
            "gateway_system_fraction": r["gateway_system_s"] / r["gateway_cpu_s"] if r.get("gateway_cpu_s") else None,
            "gateway_context_switches_per_push": r["gateway_context_switches"] / r["requests"]
            if r["requests"] and "gateway_context_switches" in r else None,
            "wrk_cpu_s": r["wrk_cpu_s"],
            "other_cpu_fraction": r.get("other_cpu_fraction"),
        })
    if not runs:
        return None
    keys = [k for k in runs[0] if k != "errors"]
    result = {k: median([run[k] for run in runs]) for k in keys}
    result["errors"] = sum(run["errors"] for run in runs)
    result["rounds"] = len(runs)
    result["runs"] = runs
    return result


def pct(v):
    return None if v is None else 100 * v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, digits=None):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    if digits is None:
        a = abs(v)
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3
    return f"{v:,.{digits}f}"


def fmt_ratio(r):
    if r is None:
        return "-"
    if r >= 100:
        return f"{r:,.0f}x"
    return f"{r:.2f}x" if r >= 0.095 else f"{r:.2g}x"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    args = ap.parse_args()
    work = args.work

    machine = load(os.path.join(work, "machine-start.json"), {})
    machine_end = load(os.path.join(work, "machine-end.json"), {})
    config = load(os.path.join(work, "config.json"), {})
    cpu = load(os.path.join(work, "cpu.json"))
    samples = push_samples(work)
    config["push_samples"] = samples

    results = {"schema": 1, "machine": machine, "config": config}
    rows = []  # section, metric, gravel, pushgateway, ratio, target, met

    def row(section, metric, g=None, p=None, r=None, target="", met=None, digits=None):
        rows.append({
            "section": section, "metric": metric,
            "gravel": g, "pushgateway": p, "ratio": r, "target": target, "met": met,
            "_digits": digits,
        })

    other_fractions = []
    phase_other = {}  # phase -> other processes' CPU share of each run in it

    # --- ingest --------------------------------------------------------------
    ingest = {gw: wrk_runs(work, "ingest", gw, samples) for gw in ("gravel", "pushgateway")}
    if ingest["gravel"] and ingest["pushgateway"]:
        g, p = ingest["gravel"], ingest["pushgateway"]
        for gw in ("gravel", "pushgateway"):
            ingest[gw]["rss_bytes"] = (load(os.path.join(work, f"ingest-{gw}-rss.json"), {}) or {}).get("rss_bytes")
            other_fractions += [run["other_cpu_fraction"] for run in ingest[gw]["runs"]]
            phase_other.setdefault("ingest", []).extend(run["other_cpu_fraction"] for run in ingest[gw]["runs"])
        r_samples = ratio(g["samples_per_s"], p["samples_per_s"])
        ingest["ratio"] = {
            "samples_per_s": r_samples,
            "p99_ms": ratio(g["p99_ms"], p["p99_ms"]),
            "gateway_cpu_us_per_push": ratio(g["gateway_cpu_us_per_push"], p["gateway_cpu_us_per_push"]),
        }
        ingest["targets"] = {
            "samples_ratio_met": r_samples is not None and r_samples >= TARGETS["ingest_ratio"],
            "p99_met": g["p99_ms"] is not None and p["p99_ms"] is not None and g["p99_ms"] <= p["p99_ms"],
        }
        sec = f"Ingest ({samples} samples/push, {config.get('connections')} conns, {config.get('duration_s')} s x {g['rounds']})"
        row(sec, "pushes/s", g["pushes_per_s"], p["pushes_per_s"], ratio(g["pushes_per_s"], p["pushes_per_s"]))
        row(sec, "samples/s", g["samples_per_s"], p["samples_per_s"], r_samples, ">= 5x pushgateway",
            ingest["targets"]["samples_ratio_met"])
        row(sec, "p50 latency (ms)", g["p50_ms"], p["p50_ms"], ratio(g["p50_ms"], p["p50_ms"]))
        row(sec, "p99 latency (ms)", g["p99_ms"], p["p99_ms"], ingest["ratio"]["p99_ms"], "<= pushgateway",
            ingest["targets"]["p99_met"])
        row(sec, "gateway CPU per push (us)", g["gateway_cpu_us_per_push"], p["gateway_cpu_us_per_push"],
            ingest["ratio"]["gateway_cpu_us_per_push"])
        row(sec, "  of which in the kernel (%)", pct(g["gateway_system_fraction"]), pct(p["gateway_system_fraction"]), None, "", None, 0)
        row(sec, "gateway context switches per push", g["gateway_context_switches_per_push"],
            p["gateway_context_switches_per_push"], ratio(g["gateway_context_switches_per_push"], p["gateway_context_switches_per_push"]))
        row(sec, "failed requests", g["errors"], p["errors"], None, "0", g["errors"] == 0 and p["errors"] == 0, 0)
    results["ingest"] = ingest

    # --- cpu (gravel-bench) --------------------------------------------------
    if cpu:
        results["cpu"] = cpu
        if "parse" in cpu:
            c = cpu["parse"]
            sec = f"Parser ({c['input_bytes'] / 1e6:.1f} MB exposition, {c['samples']:,} samples, single thread)"
            row(sec, "MB/s, median", c["median_mb_s"], target=">= 300", met=c["median_mb_s"] >= TARGETS["parser_mb_s"])
            row(sec, "MB/s, best", c["best_mb_s"])
            row(sec, "samples/s, median", c["median_samples_per_s"])
        if "push" in cpu:
            c = cpu["push"]
            sec = f"One push without HTTP ({c['samples']} samples, gravel-bench)"
            row(sec, "parse (us)", c["parse"]["median_us"])
            row(sec, "merge into its group (us)", c["merge"]["median_us"])
            row(sec, "parse + merge (us)", c["parse_and_merge"]["median_us"])
            row(sec, "pushes/s on one core", c["pushes_per_s_one_core"])
        if "merge" in cpu:
            c = cpu["merge"]
            sec = f"Merge ({c['series']:,} parsed series into a GroupState)"
            row(sec, "insert (ns/series)", c["insert"]["ns_per_series"])
            row(sec, "aggregate (ns/series)", c["aggregate"]["ns_per_series"])
        if "render" in cpu:
            c = cpu["render"]
            one, groups, keys = c["one_group"], c["per_group"], c["keys_only"]
            sec = f"Render and memory ({c['series']:,} series, GroupState + ExpositionWriter, gravel-bench)"
            row(sec, "render, one GroupState (ms), median", one["median_ms"])
            row(sec, "render, one GroupState, first incl. key sort (ms)", one["first_render_ms"])
            row(sec, f"render, {groups['groups']:,} GroupStates as in the store (ms), median", groups["median_ms"])
            row(sec, f"render, {groups['groups']:,} GroupStates (MB/s)", groups["median_mb_s"])
            row(sec, "memory, one GroupState (bytes/series)", one["bytes_per_series"])
            row(sec, f"memory, {groups['groups']:,} GroupStates (bytes/series)", groups["bytes_per_series"])
            row(sec, f"memory, keys alone, {keys['mean_key_length']:.0f} bytes long (bytes/series)", keys["bytes_per_series"])

    # --- stored --------------------------------------------------------------
    stored = {}
    for level in ("1k", "100k"):
        entry = {gw: wrk_runs(work, f"stored-{level}", gw, samples) for gw in ("gravel", "pushgateway")}
        if entry["gravel"] and entry["pushgateway"]:
            for gw in ("gravel", "pushgateway"):
                entry[gw]["preload"] = load(os.path.join(work, f"stored-{level}-{gw}-preload.json"))
                other_fractions += [run["other_cpu_fraction"] for run in entry[gw]["runs"]]
                phase_other.setdefault(f"stored-{level}", []).extend(run["other_cpu_fraction"] for run in entry[gw]["runs"])
            stored[level] = entry
    if "1k" in stored and "100k" in stored:
        sec = "Ingest with series already stored in other groups"
        growth = {}
        for level in ("1k", "100k"):
            g, p = stored[level]["gravel"], stored[level]["pushgateway"]
            row(sec, f"samples/s, {level} stored", g["samples_per_s"], p["samples_per_s"],
                ratio(g["samples_per_s"], p["samples_per_s"]))
            row(sec, f"p99 latency (ms), {level} stored", g["p99_ms"], p["p99_ms"], ratio(g["p99_ms"], p["p99_ms"]))
            row(sec, f"gateway CPU per push (us), {level} stored", g["gateway_cpu_us_per_push"],
                p["gateway_cpu_us_per_push"], ratio(g["gateway_cpu_us_per_push"], p["gateway_cpu_us_per_push"]))
        for gw in ("gravel", "pushgateway"):
            growth[gw] = {
                "samples_per_s_100k_over_1k": ratio(stored["100k"][gw]["samples_per_s"], stored["1k"][gw]["samples_per_s"]),
                "cpu_per_push_100k_over_1k": ratio(stored["100k"][gw]["gateway_cpu_us_per_push"],
                                                   stored["1k"][gw]["gateway_cpu_us_per_push"]),
            }
        stored["growth"] = growth
        gg = growth["gravel"]["samples_per_s_100k_over_1k"]
        row(sec, "samples/s 100k stored / 1k stored", gg, growth["pushgateway"]["samples_per_s_100k_over_1k"],
            None, "gravel >= 0.90 (no growth)", gg is not None and gg >= TARGETS["stored_growth"])
        row(sec, "CPU per push 100k stored / 1k stored", growth["gravel"]["cpu_per_push_100k_over_1k"],
            growth["pushgateway"]["cpu_per_push_100k_over_1k"], None, "", None)
    results["stored_series"] = stored

    # --- scrape --------------------------------------------------------------
    scrape = {}
    for gw in ("gravel", "pushgateway"):
        times = read_text(os.path.join(work, f"scrape-{gw}-times.txt"))
        if not times:
            continue
        timed = [float(line.split()[0]) for line in times.splitlines()]
        size = int(times.splitlines()[0].split()[1])
        cold = read_text(os.path.join(work, f"scrape-{gw}-cold.txt"), "nan 0").split()
        series = int(read_text(os.path.join(work, f"scrape-{gw}-series.txt"), "0") or 0)
        idle = load(os.path.join(work, f"scrape-{gw}-rss-idle.json"), {})
        loaded = load(os.path.join(work, f"scrape-{gw}-rss-loaded.json"), {})
        scraped = load(os.path.join(work, f"scrape-{gw}-rss-scraped.json"), {})
        loading = load(os.path.join(work, f"scrape-{gw}-load.json"), {})
        scrape[gw] = {
            "series": series,
            "load_s": loading.get("seconds"),
            "load_failures": loading.get("failures"),
            "scrape_s_median": median(timed),
            "scrape_s_runs": timed,
            "scrape_s_cold": float(cold[0]),
            "response_bytes": size,
            "rss_idle_bytes": idle.get("rss_bytes"),
            "rss_loaded_bytes": loaded.get("rss_bytes"),
            "rss_after_scrapes_bytes": scraped.get("rss_bytes"),
            "peak_rss_bytes": scraped.get("hwm_bytes"),
            "bytes_per_series": loaded.get("rss_bytes", 0) / series if series else None,
            "bytes_per_series_over_idle": (loaded.get("rss_bytes", 0) - idle.get("rss_bytes", 0)) / series if series else None,
        }
    if "gravel" in scrape and "pushgateway" in scrape:
        g, p = scrape["gravel"], scrape["pushgateway"]
        sec = f"Scrape ({g['series']:,} series loaded, uncompressed GET /metrics)"
        row(sec, "series exposed", g["series"], p["series"], None, "", None, 0)
        check = "" if config.get("pushgateway_scrape_consistency_check") else ", pushgateway without its push consistency check"
        row(sec, f"load time (s){check}", g["load_s"], p["load_s"], ratio(g["load_s"], p["load_s"]))
        row(sec, "GET /metrics (s), median of 3", g["scrape_s_median"], p["scrape_s_median"],
            ratio(g["scrape_s_median"], p["scrape_s_median"]), "<= 1 s",
            g["scrape_s_median"] is not None and g["scrape_s_median"] <= TARGETS["scrape_s"])
        row(sec, "first GET /metrics (s)", g["scrape_s_cold"], p["scrape_s_cold"], ratio(g["scrape_s_cold"], p["scrape_s_cold"]))
        row(sec, "response (MB)", g["response_bytes"] / 1e6, p["response_bytes"] / 1e6, ratio(g["response_bytes"], p["response_bytes"]))
        row(sec, "RSS loaded (MB)", g["rss_loaded_bytes"] / 1e6, p["rss_loaded_bytes"] / 1e6,
            ratio(g["rss_loaded_bytes"], p["rss_loaded_bytes"]))
        row(sec, "RSS per series (bytes)", g["bytes_per_series"], p["bytes_per_series"],
            ratio(g["bytes_per_series"], p["bytes_per_series"]), "<= 400",
            g["bytes_per_series"] is not None and g["bytes_per_series"] <= TARGETS["bytes_per_series"])
        row(sec, "RSS per series over idle (bytes)", g["bytes_per_series_over_idle"], p["bytes_per_series_over_idle"],
            ratio(g["bytes_per_series_over_idle"], p["bytes_per_series_over_idle"]))
        row(sec, "peak RSS after scrapes (MB)", g["peak_rss_bytes"] / 1e6, p["peak_rss_bytes"] / 1e6,
            ratio(g["peak_rss_bytes"], p["peak_rss_bytes"]))
    results["scrape"] = scrape

    # --- extension -----------------------------------------------------------
    ext = load(os.path.join(work, "extension.json"))
    results["extension"] = ext
    if isinstance(ext, dict):
        def flatten(prefix, value):
            if isinstance(value, dict):
                for k, v in value.items():
                    yield from flatten(f"{prefix}{k}." if not isinstance(v, (int, float)) else f"{prefix}{k}", v)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                yield prefix.rstrip("."), value
        for name, value in flatten("", ext):
            row("Extension (scripts/bench-extension.sh)", name, value)

    # --- load --------------------------------------------------------------
    fractions = [f for f in other_fractions if f is not None]
    busy_before = machine.get("busy_fraction_before") or 0
    phase_load = {}
    for path in sorted(glob.glob(os.path.join(work, "load-*.json"))):
        entry = load(path)
        if entry:
            phase_load[entry["phase"]] = entry["other_cpu_fraction"]
    for phase, values in phase_other.items():
        values = [v for v in values if v is not None]
        phase_load[phase] = max(values) if values else None
    worst = max([*fractions, *(v for v in phase_load.values() if v is not None)], default=0)
    under_load = busy_before > LOAD_THRESHOLD or worst > LOAD_THRESHOLD
    loaded = [f"{p} {100 * v:.0f}%" for p, v in phase_load.items() if v is not None and v > LOAD_THRESHOLD]
    quiet = [f"{p} {100 * v:.0f}%" for p, v in phase_load.items() if v is not None and v <= LOAD_THRESHOLD]
    results["load"] = {
        "under_load": under_load,
        "busy_fraction_before": busy_before,
        "busy_fraction_after": machine_end.get("busy_fraction_before"),
        "other_cpu_fraction_during_wrk_max": max(fractions) if fractions else None,
        "other_cpu_fraction_during_wrk_median": median(fractions),
        "other_cpu_fraction_by_phase": phase_load,
        "threshold": LOAD_THRESHOLD,
        "loadavg_start": machine.get("loadavg"),
        "loadavg_end": machine_end.get("loadavg"),
    }

    summary = []
    for r in rows:
        d = dict(r)
        d.pop("_digits")
        summary.append(d)
    results["summary"] = summary
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
        f.write("\n")

    # --- table -------------------------------------------------------------
    header = ["Metric", "Gravel", "Pushgateway", "Ratio g/p", "Target", "Met?"]
    table = []
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            table.append(("section", section))
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        table.append(("row", [r["metric"], fmt(r["gravel"], r["_digits"]), fmt(r["pushgateway"], r["_digits"]),
                              fmt_ratio(r["ratio"]), r["target"], met]))

    load_note = (
        f"UNDER LOAD: other processes' share of the CPUs (worst run) was above {100 * LOAD_THRESHOLD:.0f}% in: "
        f"{', '.join(loaded) or 'the 2 s before start'}"
        f"{'; at or below it in: ' + ', '.join(quiet) if quiet else ''}. "
        f"Absolute numbers of the loaded phases are low and noisy; ratios (same load, alternating rounds) and CPU "
        f"per push are fairer."
        if under_load else "Machine otherwise idle during the runs.")
    title = (f"Gravel vs Pushgateway, {machine.get('date', '?')}, commit {machine.get('git_commit', '?')[:10]}"
             f"{' (dirty)' if machine.get('git_dirty') else ''}, {machine.get('nproc')} x {machine.get('cpu_model')}"
             f"{', QUICK run' if config.get('quick') else ''}")

    widths = [max(len(header[i]), *(len(t[1][i]) for t in table if t[0] == "row")) for i in range(len(header))]
    widths[0] = max(widths[0], 10)
    lines = [title, load_note, ""]
    sep = "  "
    lines.append(sep.join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for kind, content in table:
        if kind == "section":
            lines.append("")
            lines.append(content)
        else:
            lines.append(sep.join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(content, widths))))
    print("\n".join(lines))
    print(f"\nbench: wrote {args.json} and {args.markdown}")

    md = [f"# Benchmark results", "", f"{title}.", "", f"**{load_note}**" if under_load else load_note, ""]
    md.append("Produced by `make bench` (scripts/bench.sh); ratios are gravel / pushgateway; "
              "medians over rounds. Raw figures: bench/results.json.")
    md.append("")
    md.append("| " + " | ".join(header) + " |")
    md.append("|" + "|".join(["---"] + ["---:"] * 3 + ["---", ":---:"]) + "|")
    for kind, content in table:
        if kind == "section":
            md.append(f"| **{content}** | | | | | |")
        else:
            md.append("| " + " | ".join(c.replace("|", "\\|") for c in content) + " |")
    md.append("")
    md += [
        "How it was measured:",
        "",
        f"- Ingest: wrk, {config.get('connections')} connections, {config.get('wrk_threads')} threads, POST of the same "
        f"{config.get('push_body_bytes', '?')}-byte body ({samples} samples: 60 labelled counters, 10 gauges, 3 histograms "
        f"of 12 buckets) to `/metrics/job/bench`; {config.get('warmup_s')} s warm-up, then {config.get('duration_s')} s, "
        f"gravel-gateway and pushgateway alternating for {config.get('rounds')} rounds, medians. "
        "Gateway CPU per push is the process's user + system time over the run divided by its pushes: "
        "less sensitive to other load than throughput.",
        "- Stored series: the same ingest after loading 1k or 100k series into other groups (PUTs of 1,000 series each).",
        f"- Scrape: {config.get('scrape_groups', 0) * config.get('series_per_group', 0):,} series "
        f"({config.get('scrape_groups')} groups x {config.get('series_per_group')}) PUT into a fresh gateway, then one "
        "uncompressed `GET /metrics` and three timed ones (curl `time_total`); RSS from `/proc/<pid>/status`."
        + ("" if config.get("pushgateway_scrape_consistency_check") else
           " The Pushgateway runs with `--push.disable-consistency-check` in this phase only: it checks every push against "
           "everything stored, so loading grows with the square of the series: 100,000 took 8-13 s here, 200,000 took "
           "42 s, 1,000,000 would take about 17 minutes. The flag changes only the push path, not its scrape or what it "
           "holds. Its ingest rows keep the check."),
        "- Parser, merge, render: gravel-bench (Benchmarks/GravelBench), single thread, generated inputs; MB = 10^6 bytes.",
        "- Where the instructions go and what to change: [PROFILE.md](PROFILE.md).",
        "",
    ]
    with open(args.markdown, "w") as f:
        f.write("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
