package db

import "strings"

// holds is the condition that one of the JSON map columns holds the pair
// k: v, and its arguments: the pair as encodeMap writes it, after the
// map's { or a comma. Quotes inside keys and values are escaped, so no
// pair can be forged inside another's key or value.
func holds(d *dialect, k, v string, columns ...string) (string, []any) {
	pair := strings.TrimSuffix(strings.TrimPrefix(encodeMap(map[string]string{k: v}), "{"), "}")
	var either []string
	var args []any
	for _, col := range columns {
		either = append(either, d.position+"("+col+", ?) > 0", d.position+"("+col+", ?) > 0")
		args = append(args, "{"+pair, ","+pair)
	}
	return "(" + strings.Join(either, " OR ") + ")", args
}
