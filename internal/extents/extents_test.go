package extents

import (
	"reflect"
	"testing"
)

// TestCompare: only holes in both maps and extents mapping an offset to
// the same physical block in the same state are unchanged; bytes past
// same are changed whatever the maps say.
func TestCompare(t *testing.T) {
	const k = 4096
	ok := func(logical, physical, length int64) extent {
		return extent{logical: logical * k, physical: physical * k, length: length * k, trusted: true}
	}
	base := []extent{ok(0, 100, 10), ok(20, 200, 4), ok(30, 300, 4), ok(40, 400, 4), ok(50, 500, 4)}
	unwritten := ok(40, 400, 4)
	unwritten.unwritten = true
	delalloc := ok(50, 500, 4)
	delalloc.trusted = false
	cur := []extent{
		ok(0, 100, 4), ok(4, 900, 2), ok(6, 106, 4), // blocks 4-5 rewritten (copy on write)
		ok(12, 600, 1), // written into a hole
		// 20-23 punched out
		ok(30, 300, 4), // unchanged
		unwritten,      // same block, other state
		delalloc,       // unknown
		ok(60, 700, 2), // past same
	}
	got := compare(base, cur, 60*k, 70*k)
	want := []Range{{4 * k, 2 * k}, {12 * k, 1 * k}, {20 * k, 4 * k}, {40 * k, 4 * k}, {50 * k, 4 * k}, {60 * k, 10 * k}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compare = %v\nwant      %v", got, want)
	}
	if got := compare(base, base, 60*k, 60*k); got != nil {
		t.Errorf("a map compared with itself: %v, want nothing changed", got)
	}
}
