package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/drivers/volcopy"
)

const (
	barInterval  = 250 * time.Millisecond // how often a terminal's bar is redrawn
	lineInterval = 2 * time.Second        // how often a plain progress line is printed
	minBar       = 10                     // narrower terminals get the text without a bar
	barText      = 52                     // columns kept for the text beside the bar, so that the bar does not jitter
)

// meter shows a copy's progress on w: a single-line bar redrawn in place when
// w is a terminal (width > 0), plain lines at a steady interval otherwise.
// Its writes drop their errors: progress lost on the way loses nothing else.
type meter struct {
	w        io.Writer
	width    int           // the terminal's columns; 0 when w is not a terminal
	interval time.Duration // how often volcopy reports progress
	drawn    bool          // a bar is on screen and its line not yet ended
}

// newMeter returns a meter for f, drawing a bar when f is a terminal.
func newMeter(f *os.File) *meter {
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return &meter{w: f, interval: lineInterval}
	}
	width := 80
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		width = int(ws.Col)
	}
	return &meter{w: f, width: width, interval: barInterval}
}

// update shows st: it is volcopy's Options.Progress. Plain lines are printed
// only while the copy is under way; the summary reports its end.
func (m *meter) update(st volcopy.Stats) {
	done := progressed(st)
	if m.width > 0 {
		_, _ = fmt.Fprintf(m.w, "\r%s\x1b[K", formatBar(done, st.Size, st.Elapsed, m.width))
		m.drawn = true
		return
	}
	if done < st.Size {
		_, _ = fmt.Fprintln(m.w, formatLine(done, st.Size, st.Elapsed))
	}
}

// end ends the bar's line, so that what is printed next starts on its own.
func (m *meter) end() {
	if m.drawn {
		_, _ = fmt.Fprintln(m.w)
		m.drawn = false
	}
}

// progressed is how far a copy has gone through its range: the bytes written,
// zeroed or skipped.
func progressed(st volcopy.Stats) int64 {
	return st.Written + st.Zeroed + st.Skipped
}

// formatLine renders a plain progress line: "copy: 42% 1.7 GiB/4.0 GiB 850.0 MiB/s".
func formatLine(done, total int64, elapsed time.Duration) string {
	return "copy: " + status(done, total, elapsed)
}

// formatBar renders a bar of at most width-1 columns (the last is left free
// so that the terminal does not wrap):
// "[#####-----] 42% 1.7 GiB/4.0 GiB 850.0 MiB/s ETA 0:03".
func formatBar(done, total int64, elapsed time.Duration, width int) string {
	text := fmt.Sprintf("%s ETA %s", status(done, total, elapsed), eta(done, total, elapsed))
	cells := width - 1 - max(len(text), barText) - 3 // "[", "]" and a space
	if cells < minBar {
		return text
	}
	filled := int(float64(cells) * fraction(done, total))
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", cells-filled) + "] " + text
}

// status renders percent, bytes done of total and throughput.
func status(done, total int64, elapsed time.Duration) string {
	return fmt.Sprintf("%d%% %s/%s %s/s", int(100*fraction(done, total)), iec(done), iec(total), iec(int64(rate(done, elapsed))))
}

// eta renders the time left at the throughput so far as m:ss or h:mm:ss,
// "--:--" before anything is done.
func eta(done, total int64, elapsed time.Duration) string {
	r := rate(done, elapsed)
	if r == 0 {
		return "--:--"
	}
	s := int64(math.Ceil(float64(total-done) / r))
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// fraction is done over total in [0, 1]; an empty range is all done.
func fraction(done, total int64) float64 {
	if total <= 0 {
		return 1
	}
	return min(max(float64(done)/float64(total), 0), 1)
}

// rate is the throughput in bytes per second.
func rate(n int64, elapsed time.Duration) float64 {
	if n <= 0 || elapsed <= 0 {
		return 0
	}
	return float64(n) / elapsed.Seconds()
}

// iec renders n in IEC units with one decimal: "512 B", "1.7 GiB".
func iec(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 5 {
		v, unit = v/1024, unit+1
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[unit])
}
