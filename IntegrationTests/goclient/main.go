// goclient pushes with Debian's client_golang, as a Go batch job would, so the tests can
// check Gravel against the real client (and against the Pushgateway, side by side).
//
//	goclient -url http://127.0.0.1:4278 -job batch -op push|add|delete [-format text|proto]
//	         [-value N] [-grouping name=value ...]
//
// It pushes a counter `done_total`, a gauge `last_run_seconds`, a histogram
// `duration_seconds` (observations 0.05 and 2.5, `-value` times each) and a summary
// `size_bytes`. Exit status 0 when the client reports success, 1 with its error otherwise.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
)

type groupings []string

func (g *groupings) String() string     { return strings.Join(*g, ",") }
func (g *groupings) Set(v string) error { *g = append(*g, v); return nil }

func main() {
	url := flag.String("url", "", "gateway base URL")
	job := flag.String("job", "batch", "job name")
	op := flag.String("op", "push", "push, add or delete")
	format := flag.String("format", "text", "text or proto")
	value := flag.Int("value", 1, "how many times to count and observe")
	var extra groupings
	flag.Var(&extra, "grouping", "extra grouping label name=value (repeatable)")
	flag.Parse()

	registry := prometheus.NewRegistry()
	done := prometheus.NewCounter(prometheus.CounterOpts{Name: "done_total", Help: "Runs finished."})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "last_run_seconds", Help: "Length of the last run."})
	duration := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "duration_seconds", Help: "Run durations.", Buckets: []float64{0.1, 1, 10},
	})
	size := prometheus.NewSummary(prometheus.SummaryOpts{Name: "size_bytes", Help: "Sizes."})
	registry.MustRegister(done, last, duration, size)
	for i := 0; i < *value; i++ {
		done.Inc()
		duration.Observe(0.05)
		duration.Observe(2.5)
		size.Observe(100)
	}
	last.Set(float64(*value))

	pusher := push.New(*url, *job).Gatherer(registry)
	if *format == "proto" {
		pusher = pusher.Format(expfmt.FmtProtoDelim)
	} else {
		pusher = pusher.Format(expfmt.FmtText)
	}
	for _, g := range extra {
		parts := strings.SplitN(g, "=", 2)
		if len(parts) != 2 {
			fmt.Fprintf(os.Stderr, "bad -grouping %q: use name=value\n", g)
			os.Exit(2)
		}
		pusher = pusher.Grouping(parts[0], parts[1])
	}
	var err error
	switch *op {
	case "push":
		err = pusher.Push()
	case "add":
		err = pusher.Add()
	case "delete":
		err = pusher.Delete()
	default:
		fmt.Fprintf(os.Stderr, "unknown -op %q\n", *op)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
