package service

import (
	"os"
	"runtime/debug"
	"testing"
)

// The API's collector target is apiGCPercent, unless GOGC is set, which
// the runtime has then read and tuneGC leaves alone.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	if err := os.Unsetenv("GOGC"); err != nil { // t.Setenv restores it after the test
		t.Fatal(err)
	}
	tuneGC()
	if got := debug.SetGCPercent(100); got != apiGCPercent {
		t.Errorf("GOGC unset: collector target %d, want %d", got, apiGCPercent)
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // as the runtime would have read it at start
	tuneGC()
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GOGC=150: collector target %d, want 150", got)
	}
}
