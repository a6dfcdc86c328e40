package service

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// records is a slog handler sending every record to a channel.
type records chan slog.Record

func (h records) Enabled(context.Context, slog.Level) bool      { return true }
func (h records) Handle(_ context.Context, r slog.Record) error { h <- r.Clone(); return nil }
func (h records) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h records) WithGroup(string) slog.Handler                 { return h }

// SIGUSR2 logs the goroutine and file descriptor counts and writes the
// stacks, and the process goes on: a second signal reports again, counting
// the files opened in between.
func TestGuruMeditationReportOnSIGUSR2(t *testing.T) {
	logged := make(records, 16)
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(logged))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	reportOnSIGUSR2(ctx, "cinder-test", dir)

	report := func() map[string]any {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
		for {
			select {
			case r := <-logged:
				if r.Message != "guru meditation report" {
					t.Fatalf("logged %q %v, want only the report", r.Message, r)
				}
				attrs := map[string]any{}
				r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.Any(); return true })
				return attrs
			case <-timeout:
				t.Fatal("no guru meditation report 10s after SIGUSR2")
			}
		}
	}
	first := report()
	for range 3 {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() }) // read-only: nothing to lose
	}
	second := report()

	if g, _ := first["goroutines"].(int64); g < 2 {
		t.Fatalf("report counts %v goroutines, want at least the test's and the reporter's", first["goroutines"])
	}
	if fds, _ := first["fds"].(int64); fds < 1 || second["fds"] != fds+3 {
		t.Fatalf("reports count %v then %v fds, want a positive count growing by the 3 files opened", first["fds"], second["fds"])
	}
	path := filepath.Join(dir, "guru-cinder-test-"+strconv.Itoa(os.Getpid())+".txt")
	if second["stacks"] != path {
		t.Fatalf("stacks written to %v, want %s", second["stacks"], path)
	}
	stacks, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(stacks), "goroutine ") || !strings.Contains(string(stacks), "service.guruReport") {
		t.Fatalf("stacks file %s: %v\n%s", path, err, stacks)
	}
}
