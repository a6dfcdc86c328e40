// Package proc starts and stops the Cinder binaries that the functional
// tests and the benchmark run as real processes.
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Start runs path with args, its output appended to the file logPath.
func Start(path, logPath string, args ...string) (*exec.Cmd, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", path, err)
	}
	defer func() { _ = log.Close() }() // the process writes through a descriptor of its own
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	return cmd, nil
}

// Stop ends cmd with SIGTERM, SIGKILL when it still runs after grace, and
// waits for it. Its errors are dropped: a signal fails only when cmd has
// exited already, and how it exited is in cmd.ProcessState.
func Stop(cmd *exec.Cmd, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
