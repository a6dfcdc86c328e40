package backup

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// A fail_reason fits its column of 255 characters, counted as PostgreSQL
// counts them, and keeps the end of a longer reason, which names the cause.
func TestFailReason(t *testing.T) {
	short := errors.New("create backup b: no space left on device")
	if got := failReason(short); got != short.Error() {
		t.Errorf("failReason(%q) = %q, want it unchanged", short, got)
	}
	long := errors.New("create backup b: write " + strings.Repeat("é/", 200) + "obj-00001: no space left on device")
	got := failReason(long)
	if n := utf8.RuneCountInString(got); n != maxFailReason || !utf8.ValidString(got) {
		t.Errorf("failReason of %d characters: %d characters (valid UTF-8: %v), want %d",
			utf8.RuneCountInString(long.Error()), n, utf8.ValidString(got), maxFailReason)
	}
	if !strings.HasPrefix(got, "create backup b: write ") || !strings.HasSuffix(got, "obj-00001: no space left on device") {
		t.Errorf("failReason lost the head or the cause: %q", got)
	}
}
