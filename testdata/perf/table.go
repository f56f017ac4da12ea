//go:build ignore

// table prints the README's Performance table from the logs perf.sh wrote in a directory:
//
//	go run ./testdata/perf/table.go DIR BEFORE_COMMIT
//
// A figure of this checkout it cannot find in the logs is shown as "?", and it then exits
// with status 1 after printing the table; one of the older build that was not run (perf.sh runs
// it at the smaller sizes) is shown as "not run".
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run ./testdata/perf/table.go DIR BEFORE_COMMIT")
		os.Exit(2)
	}
	dir, before := os.Args[1], os.Args[2]
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return ""
		}
		return string(b)
	}
	missing := 0
	row := func(figure, goal, was, now string) {
		if strings.Contains(now, "?") {
			missing++
		}
		fmt.Printf("| %s | %s | %s | %s |\n", figure, goal, was, now)
	}
	defer func() {
		if missing > 0 {
			fmt.Fprintf(os.Stderr, "%d figures were not found in the logs in %s (shown as ?)\n", missing, dir)
			os.Exit(1)
		}
	}()
	fmt.Printf("| figure | goal | before (%s) | now |\n| --- | --- | --- | --- |\n", before)

	scale := regexp.MustCompile(`SCALE n=(\d+) baseline=(\S+) peak_rss_baseline=(\S+)MiB \(anon (\S+)MiB, file (\S+)MiB\) peak_rss_burst=(\S+)MiB \(anon (\S+)MiB, file (\S+)MiB\) peak_rss_reconciliations=(\S+)MiB \(anon (\S+)MiB, file (\S+)MiB\) cpu=(\S+) state_file=(\S+)MiB \((\d+) B/task\).* quiet_poll_requests=(\S+)`)
	runs := func(log string) map[string][]string {
		out := map[string][]string{}
		for _, m := range scale.FindAllStringSubmatch(log, -1) {
			out[m[1]] = m
		}
		return out
	}
	was, now := runs(read("scale-before.log")), runs(read("scale-now.log"))
	sizes := []int{1000, 10000, 100000} // perf.sh's default, when the run left no figure
	if len(now) > 0 {
		sizes = nil
		for n := range now {
			v, _ := strconv.Atoi(n)
			sizes = append(sizes, v)
		}
		slices.Sort(sizes)
	}
	get := func(m []string, i int) string {
		if m == nil {
			return "?"
		}
		return m[i]
	}
	mib := func(m []string, i int) string {
		if m == nil {
			return "?"
		}
		if m[i] == "not run" {
			return m[i]
		}
		return fmt.Sprintf("%s MiB (%s + %s)", m[i], m[i+1], m[i+2])
	}
	for _, size := range sizes {
		n := strconv.Itoa(size)
		w, c := was[n], now[n]
		if w == nil { // not run for the older build: every cell says so
			w = make([]string, 16)
			for i := range w {
				w[i] = "not run"
			}
		}
		goal := ""
		if size == 100000 {
			goal = "≤ 64 MiB"
		}
		tasks := fmt.Sprintf("%s tasks", group(size))
		row(tasks+": peak RSS in the baseline (own memory + mapped pages)", goal, mib(w, 3), mib(c, 3))
		row(tasks+": peak RSS in a burst of 1% of the tasks changing", "", mib(w, 6), mib(c, 6))
		row(tasks+": peak RSS in two reconciliations", goal, mib(w, 9), mib(c, 9))
		row(tasks+": baseline", "", get(w, 2), get(c, 2))
		row(tasks+": requests per quiet poll after the burst", "1", get(w, 15), get(c, 15))
		file := func(m []string) string {
			if m != nil && m[13] == "not run" {
				return m[13]
			}
			return get(m, 13) + " MiB (" + get(m, 14) + " B/task)"
		}
		row(tasks+": state file", "", file(w), file(c))
		row(tasks+": CPU of the whole run", "", get(w, 12), get(c, 12))
	}

	load := regexp.MustCompile(`ack p50 (\S+) p99 (\S+) max (\S+); errors (\d+);.*= (\S+) ms/command`)
	for _, delay := range []string{"0s", "2s"} {
		l := func(build string) []string {
			return load.FindStringSubmatch(read("load-" + build + "-" + delay + ".log"))
		}
		w, c := l("before"), l("now")
		show := func(m []string, i int) string {
			if m == nil {
				return "?"
			}
			return m[i]
		}
		api, goalMax, goalP99 := "instant API", "", "≤ 20 ms"
		if delay == "2s" {
			api, goalMax, goalP99 = "API answering in 2 s", "≤ 1.5 s", ""
		}
		row("200 `/tasks paused`/s, "+api+": ack p50", "", show(w, 1), show(c, 1))
		row("… ack p99", goalP99, show(w, 2), show(c, 2))
		row("… ack max", goalMax, show(w, 3), show(c, 3))
		row("… errors", "0", show(w, 4), show(c, 4))
		row("… taskbot's CPU a command", "", show(w, 5)+" ms", show(c, 5)+" ms")
	}

	bench := regexp.MustCompile(`BenchmarkReconcile/(\S+?)-\d+\s+\d+\s+(\d+) ns/op\s+(\S+) cpu-ms/op`)
	cpu := map[string][]float64{}
	for _, m := range bench.FindAllStringSubmatch(read("bench-reconcile.log"), -1) {
		v, _ := strconv.ParseFloat(m[3], 64)
		cpu[m[1]] = append(cpu[m[1]], v)
	}
	ratio := "?"
	if f, r := median(cpu["fetch-and-decode"]), median(cpu["reconcile"]); f > 0 && r > 0 {
		ratio = fmt.Sprintf("%.2f× (%.0f ÷ %.0f ms CPU, medians of %d)", r/f, r, f, len(cpu["reconcile"]))
	}
	row("reconciliation of 10,000 unchanged tasks: CPU ÷ fetch-and-decode of the same pages", "≤ 1.3×", "", ratio)

	cron := regexp.MustCompile(`(\d+) tasks: cron script min (\S+) median (\S+); Go client fetch\+decode min (\S+) median (\S+)`)
	found := map[int][]string{}
	for _, m := range cron.FindAllStringSubmatch(read("cron.log"), -1) {
		size, _ := strconv.Atoi(m[1])
		found[size] = m
	}
	for _, size := range sizes {
		took := "?"
		if m := found[size]; m != nil {
			took = fmt.Sprintf("%s ÷ %s", m[3], m[5])
		}
		row(fmt.Sprintf("%s tasks: one run of the cron + curl + jq poller ÷ taskbot fetching and decoding the same pages", group(size)), "", "", took)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func group(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
