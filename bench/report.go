package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the copy table.
type row struct {
	Case         string  `json:"case"`
	Tool         string  `json:"tool"`
	Command      string  `json:"command,omitempty"`
	Runs         int     `json:"runs"`
	Seconds      float64 `json:"seconds,omitempty"`      // median wall time, final sync included
	Extrapolated bool    `json:"extrapolated,omitempty"` // Seconds is an estimate: the run was stopped at a cap
	Ratio        float64 `json:"engine_ratio,omitempty"` // the engine library's seconds ÷ Seconds
	Allocated    int64   `json:"allocated_bytes,omitempty"`
	SourceData   int64   `json:"source_data_bytes,omitempty"` // the source's non-zero bytes
	Equal        *bool   `json:"equal,omitempty"`
	Stale        *int64  `json:"stale_blocks,omitempty"` // thick destinations: extents still holding old bytes
	PeakRSS      int64   `json:"peak_rss_bytes,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// setCheck records a comparison's outcome; stale says whether to report stale extents.
func (r *row) setCheck(c *check, stale bool) {
	if c == nil {
		return
	}
	r.Equal = &c.equal
	if stale {
		r.Stale = &c.stale
	}
}

// equal reports whether the destination was compared and found equal.
func (r *row) equal() bool { return r.Equal != nil && *r.Equal }

// measured reports whether the row holds a time.
func (r *row) measured() bool { return r.Seconds > 0 }

// controlRow is one control-plane figure next to real Cinder's and the goal.
type controlRow struct {
	Transport string  `json:"transport"`
	Measure   string  `json:"measure"`
	Value     float64 `json:"value,omitempty"`
	Unit      string  `json:"unit"`
	Cinder    float64 `json:"real_cinder,omitempty"` // real Cinder on this kind of machine, from the issue
	Note      string  `json:"note,omitempty"`
}

// goal is a target of the issue, checked against a measured value.
type goal struct {
	What    string  `json:"what"`
	Value   float64 `json:"value"`
	Limit   float64 `json:"limit"`
	AtLeast bool    `json:"at_least,omitempty"` // Value must reach Limit rather than stay within it
	Unit    string  `json:"unit,omitempty"`
	Missing string  `json:"missing,omitempty"` // why it could not be measured
}

// met reports whether the goal was measured and reached.
func (g goal) met() bool {
	if g.Missing != "" {
		return false
	}
	if g.AtLeast {
		return g.Value >= g.Limit
	}
	return g.Value <= g.Limit
}

// results is everything one run of the benchmark measured, as written to JSON.
type results struct {
	Started time.Time    `json:"started"`
	Machine machine      `json:"machine"`
	Copies  []row        `json:"copies"`
	Control []controlRow `json:"control_plane"`
	Paging  []pageRow    `json:"paging,omitempty"`
	Goals   []goal       `json:"goals"`
	Failed  bool         `json:"failed"` // the engine's output differed from its source, or a case could not run
}

// printCopies writes the copy table.
func printCopies(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\ttool\tseconds\tengine/tool\tallocated MB\tequal\tstale MiB blocks\tpeak RSS MiB\t\tnote")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t%s\n", r.Case, r.Tool, seconds(r), orDash(r.Ratio, "%.2f"),
			orDash(float64(r.Allocated)/1e6, "%.0f"), yesNo(r.Equal), staleCount(r.Stale),
			orDash(float64(r.PeakRSS)/mib, "%.1f"), r.Note)
	}
	return tw.Flush()
}

// printControl writes the control-plane table.
func printControl(w io.Writer, rows []controlRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport\tmeasure\tvalue\treal Cinder\t\tnote")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t%s\n", r.Transport, r.Measure, withUnit(r.Value, r.Unit), withUnit(r.Cinder, r.Unit), r.Note)
	}
	return tw.Flush()
}

// printPaging writes case P's table.
func printPaging(w io.Writer, rows []pageRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "database\tvolumes\tmeasure\tmedian\tp99\treq/s\t\tnote")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\t%s\n", r.Database, r.Volumes, r.Measure,
			withUnit(r.MedianMs, "ms"), withUnit(r.P99Ms, "ms"), orDash(r.RPS, "%.0f"), r.Note)
	}
	return tw.Flush()
}

// printGoals writes each goal with its outcome.
func printGoals(w io.Writer, goals []goal) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\tmeasured\ttarget\toutcome")
	for _, g := range goals {
		op, outcome := "≤", "met"
		if g.AtLeast {
			op = "≥"
		}
		switch {
		case g.Missing != "":
			outcome = "not measured: " + g.Missing
		case !g.met():
			outcome = "NOT MET"
		}
		value := number(g.Value, g.Unit)
		if g.Missing != "" {
			value = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", g.What, value, op, number(g.Limit, g.Unit), outcome)
	}
	return tw.Flush()
}

// writeJSON writes res to path.
func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

func seconds(r row) string {
	switch {
	case !r.measured():
		return "-"
	case r.Extrapolated:
		return fmt.Sprintf("~%.0f", r.Seconds)
	}
	return fmt.Sprintf("%.3f", r.Seconds)
}

func orDash(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "yes"
	}
	return "NO"
}

func staleCount(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

// withUnit is number, or "-" for 0: not measured.
func withUnit(v float64, unit string) string {
	if v == 0 {
		return "-"
	}
	return number(v, unit)
}

// number is v to at most 3 decimals, with its unit.
func number(v float64, unit string) string {
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
	if unit == "" || unit == "×" {
		return s + unit
	}
	return s + " " + unit
}

// median is the middle of ts (the mean of the two middle ones for an even count); 0 for none.
func median[T ~int64 | ~float64](ts []T) T {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ts))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
