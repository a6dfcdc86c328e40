package api

import (
	"encoding/json"
	"testing"
)

// appendJSON writes what encoding/json would for every kind of value a view
// holds, strings with every escape included, spaced as Cinder's Python
// json.dumps; values of other types go through encoding/json as they are.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `q"b\s`, "tab\tnl\nret\r", "\x00\x1f", "<a&b>", "é ünïcode ✓", "\u2028\u2029", "bad\xffutf8"}
	for _, s := range strs {
		got, err := appendJSON(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Errorf("string %q: got %s, want %s", s, got, want)
		}
	}
	v := object{
		{"s", "x"}, {"n", nil}, {"b", true}, {"i", 42}, {"i64", int64(-7)}, {"f", 1.5},
		{"m", map[string]string{"b": "2", "a": "1"}}, {"list", []object{{{"k", "v"}}, {}}},
		{"any", []any{1, "two", nil}}, {"other", map[string]int{"x": 1}},
	}
	got, err := appendJSON(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"s": "x", "n": null, "b": true, "i": 42, "i64": -7, "f": 1.5, "m": {"a": "1", "b": "2"}, "list": [{"k": "v"}, {}], "any": [1, "two", null], "other": {"x":1}}`
	if string(got) != want {
		t.Errorf("object:\n got %s\nwant %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
}
