package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// reportOnSIGUSR2 makes each SIGUSR2 produce a Guru Meditation Report, as
// oslo.reports does for OpenStack services, until ctx ends: one log line
// msg="guru meditation report" goroutines=N fds=M stacks=PATH, where PATH is
// dir/guru-<name>-<pid>.txt, rewritten each time with every goroutine's
// stack (pprof goroutine profile, debug=2). The service keeps serving.
func reportOnSIGUSR2(ctx context.Context, name, dir string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2) // before returning: an unhandled SIGUSR2 kills
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				guruReport(filepath.Join(dir, fmt.Sprintf("guru-%s-%d.txt", name, os.Getpid())))
			}
		}
	}()
}

// guruReport counts the goroutines and open file descriptors, then writes
// the stacks to path and logs the counts.
func guruReport(path string) {
	goroutines := runtime.NumGoroutine()
	fds, err := openFDs()
	if err != nil {
		slog.Error("guru meditation report: cannot count open file descriptors", "err", err)
	}
	if err := writeStacks(path); err != nil {
		slog.Error("guru meditation report: cannot write goroutine stacks", "path", path, "err", err)
	}
	slog.Info("guru meditation report", "goroutines", goroutines, "fds", fds, "stacks", path)
}

// openFDs counts the process's open file descriptors in /proc/self/fd, less
// the one reading it.
func openFDs() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/fd: %w", err)
	}
	return len(entries) - 1, nil
}

// writeStacks writes every goroutine's stack to path.
func writeStacks(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = pprof.Lookup("goroutine").WriteTo(f, 2)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
