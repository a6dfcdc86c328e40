package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/drivers/volcopy"
)

const gib = 1 << 30

func TestFormatLine(t *testing.T) {
	for _, c := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{gib, 4 * gib, 2 * time.Second, "copy: 25% 1.0 GiB/4.0 GiB 512.0 MiB/s"},
		{0, 4 * gib, 0, "copy: 0% 0 B/4.0 GiB 0 B/s"},
		{1825361101, 4 * gib, time.Second, "copy: 42% 1.7 GiB/4.0 GiB 1.7 GiB/s"},
		{0, 0, time.Second, "copy: 100% 0 B/0 B 0 B/s"},
	} {
		if got := formatLine(c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("formatLine(%d, %d, %v) = %q, want %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
}

func TestFormatBar(t *testing.T) {
	got := formatBar(gib, 4*gib, 2*time.Second, 80)
	want := "[######------------------] 25% 1.0 GiB/4.0 GiB 512.0 MiB/s ETA 0:06"
	if got != want {
		t.Fatalf("formatBar = %q, want %q", got, want)
	}
	if got, want := formatBar(4*gib, 4*gib, 2*time.Second, 80), "[########################] 100% 4.0 GiB/4.0 GiB 2.0 GiB/s ETA 0:00"; got != want {
		t.Fatalf("formatBar at the end = %q, want %q", got, want)
	}
	// Too narrow for a bar: the text alone.
	if got, want := formatBar(gib, 4*gib, 2*time.Second, 60), "25% 1.0 GiB/4.0 GiB 512.0 MiB/s ETA 0:06"; got != want {
		t.Fatalf("formatBar on 60 columns = %q, want %q", got, want)
	}
	// The bar keeps its length as the text changes, and leaves the last column free.
	for _, width := range []int{66, 80, 132, 300} {
		var lens []int
		for _, done := range []int64{0, 5 << 20, gib, 4*gib - 1} {
			b := formatBar(done, 4*gib, 3*time.Second, width)
			if len(b) > width-1 {
				t.Fatalf("bar of %d columns on a terminal of %d: %q", len(b), width, b)
			}
			lens = append(lens, strings.Index(b, "]"))
		}
		for _, l := range lens {
			if l != lens[0] || l < minBar {
				t.Fatalf("width %d: bar lengths %v, want equal and at least %d", width, lens, minBar)
			}
		}
	}
}

func TestETA(t *testing.T) {
	for _, c := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{0, gib, time.Second, "--:--"},
		{gib, gib, time.Second, "0:00"},
		{1, 3, time.Second, "0:02"},
		{1 << 20, 1 << 40, time.Second, "291:16:15"},
		{1, 1 + 3599, time.Second, "59:59"},
	} {
		if got := eta(c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("eta(%d, %d, %v) = %q, want %q", c.done, c.total, c.elapsed, got, c.want)
		}
	}
}

func TestIEC(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 850 << 20: "850.0 MiB",
		4 * gib: "4.0 GiB", 1 << 40: "1.0 TiB", 1 << 60: "1.0 EiB", math.MaxInt64: "8.0 EiB",
	} {
		if got := iec(n); got != want {
			t.Errorf("iec(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMeterBar(t *testing.T) {
	var w bytes.Buffer
	m := &meter{w: &w, width: 80}
	m.update(volcopy.Stats{Size: 4 * gib, Written: gib / 2, Skipped: gib / 2, Elapsed: 2 * time.Second})
	m.update(volcopy.Stats{Size: 4 * gib, Written: gib, Zeroed: 3 * gib, Elapsed: 4 * time.Second})
	m.end()
	m.end()
	want := "\r" + formatBar(gib, 4*gib, 2*time.Second, 80) + "\x1b[K" +
		"\r" + formatBar(4*gib, 4*gib, 4*time.Second, 80) + "\x1b[K\n"
	if w.String() != want {
		t.Fatalf("bar output %q, want %q", w.String(), want)
	}
}

func TestMeterLines(t *testing.T) {
	var w bytes.Buffer
	m := &meter{w: &w}
	m.update(volcopy.Stats{Size: 4 * gib, Written: gib, Elapsed: 2 * time.Second})
	m.update(volcopy.Stats{Size: 4 * gib, Written: gib, Skipped: 3 * gib, Elapsed: 3 * time.Second}) // the end: the summary says it
	m.end()
	if want := "copy: 25% 1.0 GiB/4.0 GiB 512.0 MiB/s\n"; w.String() != want {
		t.Fatalf("plain output %q, want %q", w.String(), want)
	}
}
