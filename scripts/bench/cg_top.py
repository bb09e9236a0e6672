#!/usr/bin/env python3
"""Top functions of a callgrind profile, with Swift names demangled, as Markdown.

    cg_top.py callgrind.out [--top 25] [--title "parse"] [--per N --per-unit "MB"]

Prints two tables: self cost (instructions executed in the function itself) and
inclusive cost (the function and everything it calls). With --per, also the
instructions per unit (per MB parsed, per push, per series).
"""
import argparse
import re
import shutil
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*?)\s+\[(.*)\]\s*$")


def annotate(path, inclusive):
    cmd = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    total = None
    rows = []
    for line in out.splitlines():
        if line.strip().endswith("PROGRAM TOTALS"):
            total = int(line.split()[0].replace(",", ""))
            continue
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        where = m.group(3)
        function = where.split(":", 1)[1] if ":" in where else where
        obj = m.group(4).rsplit("/", 1)[-1]
        rows.append([ir, float(m.group(2)), function, obj])
    return total, rows


def demangle(names):
    tool = shutil.which("swift-demangle")
    if not tool or not names:
        return names

    def run(*flags):
        out = subprocess.run([tool, *flags, "--compact"], input="\n".join(names) + "\n",
                             capture_output=True, text=True).stdout.splitlines()
        return out if len(out) == len(names) else names

    simple, full = run("--simplified"), run()
    result = []
    for s, f in zip(simple, full):
        # Name the type arguments of a specialisation: Array.append<A>(contentsOf:) on
        # UnsafeBufferPointer and on Array are different hot spots.
        m = re.match(r"generic specialization <(.*?)> of ", f)
        if m and s.startswith("specialized "):
            args = re.sub(r"\b(Swift|Shared|GravelGateway|NIOCore)\.", "", m.group(1))
            s = f"{s} [{args}]"
        result.append(s)
    return result


# Frames that only wrap the profiled phase (they are 100% inclusive and say nothing).
WRAPPERS = re.compile(r"^(\(below main\)|__libc_start_main.*|0x[0-9a-f]+|.*_main|main)$")


def shorten(name, limit=110):
    # Generic specialisation noise adds little to a hot-spot list.
    name = name.replace("Swift.", "").replace("Shared.", "")
    return name if len(name) <= limit else name[: limit - 1] + "…"


def table(rows, top, per, per_unit):
    rows = [r for r in rows if not WRAPPERS.match(r[2])]
    names = demangle([r[2] for r in rows[:top]])
    head = "| Ir | % | " + (f"Ir per {per_unit} | " if per else "") + "function | object |"
    lines = [head, "|---:|---:|" + ("---:|" if per else "") + "---|---|"]
    for r, name in zip(rows[:top], names):
        extra = f"{r[0] / per:,.0f} | " if per else ""
        lines.append(f"| {r[0]:,} | {r[1]:.2f} | {extra}`{shorten(name).replace('|', '¦')}` | {r[3]} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--title", default="")
    ap.add_argument("--per", type=float, default=0)
    ap.add_argument("--per-unit", default="unit")
    ap.add_argument("--inclusive-top", type=int, default=None,
                    help="rows of the inclusive table (default: --top; 0: no table, for async code where "
                         "callgrind's inclusive costs follow task switches, not calls)")
    ap.add_argument("--components", default="",
                    help="label=regex;... : inclusive cost of the largest function whose demangled name matches "
                         "(for synchronous functions; async ones are split into partial functions)")
    args = ap.parse_args()

    total, self_rows = annotate(args.profile, inclusive=False)
    _, incl_rows = annotate(args.profile, inclusive=True)
    print(f"### {args.title}".rstrip())
    print()
    summary = f"Total: {total:,} instructions"
    if args.per:
        summary += f" ({total / args.per:,.0f} per {args.per_unit})"
    print(summary + ".")
    print()
    if args.components:
        names = demangle([r[2] for r in incl_rows])
        print("Inclusive cost of parts (largest matching function):")
        print()
        print("| part | Ir | % | " + (f"Ir per {args.per_unit} |" if args.per else "") + " function |")
        print("|---|---:|---:|" + ("---:|" if args.per else "") + "---|")
        for spec in args.components.split(";"):
            label, _, pattern = spec.partition("=")
            best = None
            for r, name in zip(incl_rows, names):
                if "'" in name or not re.search(pattern, name):
                    continue  # `'2` marks a recursion level: not a real inclusive cost
                if best is None or r[0] > best[0][0]:
                    best = (r, name)
            if best is None:
                print(f"| {label} | - | - | " + ("- | " if args.per else "") + "(not found) |")
                continue
            r, name = best
            extra = f"{r[0] / args.per:,.0f} | " if args.per else ""
            print(f"| {label} | {r[0]:,} | {100 * r[0] / total:.2f} | {extra}`{shorten(name)}` |")
        print()
    print("Self cost:")
    print()
    print(table(self_rows, args.top, args.per, args.per_unit))
    print()
    rows = args.top if args.inclusive_top is None else args.inclusive_top
    if rows > 0:
        print("Inclusive cost:")
        print()
        print(table(incl_rows, rows, args.per, args.per_unit))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
