// gonative pushes one "invocation" worth of native histogram observations with Debian's
// client_golang (1.14), the way a short-lived job using NativeHistogramBucketFactor would.
//
//	gonative -url http://127.0.0.1:4278 -job batch -name rpc_seconds -factor 1.1
//	         -values 0.12,3.5,... [-classic] [-op add|push] [-grouping name=value ...]
//
// The histogram `-name` gets every value of `-values` observed once; `-factor` picks the
// schema (1.1 gives schema 3); `-classic` adds classic buckets (0.1, 1, 10) beside the native
// ones. Pushes in the protobuf format (the only one with native histograms). Exit status 0
// when the client reports success, 1 with its error otherwise.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
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
	name := flag.String("name", "rpc_seconds", "histogram name")
	factor := flag.Float64("factor", 1.1, "NativeHistogramBucketFactor")
	values := flag.String("values", "", "comma-separated observations")
	classic := flag.Bool("classic", false, "also classic buckets 0.1, 1, 10")
	op := flag.String("op", "add", "add (POST) or push (PUT)")
	var extra groupings
	flag.Var(&extra, "grouping", "extra grouping label name=value (repeatable)")
	flag.Parse()

	opts := prometheus.HistogramOpts{
		Name: *name, Help: "Observed values.", NativeHistogramBucketFactor: *factor,
	}
	if *classic {
		// Without them a histogram with a bucket factor has no classic buckets at all.
		opts.Buckets = []float64{0.1, 1, 10}
	}
	histogram := prometheus.NewHistogram(opts)
	registry := prometheus.NewRegistry()
	registry.MustRegister(histogram)
	for _, field := range strings.Split(*values, ",") {
		if field == "" {
			continue
		}
		v, err := strconv.ParseFloat(field, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad value %q: %v\n", field, err)
			os.Exit(2)
		}
		histogram.Observe(v)
	}

	pusher := push.New(*url, *job).Gatherer(registry).Format(expfmt.FmtProtoDelim)
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
	case "add":
		err = pusher.Add()
	case "push":
		err = pusher.Push()
	default:
		fmt.Fprintf(os.Stderr, "unknown -op %q\n", *op)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
