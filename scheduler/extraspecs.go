package scheduler

import (
	"strconv"
	"strings"
)

// matchSpec reports whether a capability value satisfies a volume type extra
// spec requirement, as cinder/scheduler/filters/extra_specs_ops.py: a first
// word that is an operator (=, ==, !=, >=, <=, <in>, <is>, <or>, s==, s!=,
// s<, s<=, s>, s>=) applies it, anything else is plain string equality.
func matchSpec(value any, req string) bool {
	words := strings.Fields(req)
	var op string
	if len(words) > 0 {
		op, words = words[0], words[1:]
	}
	method, isOp := specOps[op]
	if op != "<or>" && !isOp {
		s, ok := value.(string)
		return ok && s == req
	}
	if value == nil {
		return false
	}
	if op == "<or>" { // <or> v1 <or> v2 …: the words at even places are candidates
		s, ok := value.(string)
		for i := 0; i < len(words); i += 2 {
			if ok && words[i] == s {
				return true
			}
		}
		return false
	}
	return len(words) > 0 && method(value, words[0])
}

// specOps are extra_specs_ops' operators but <or>. Where Python would raise
// (a number compared as a string, a float of a word) they answer false.
var specOps = map[string]func(value any, arg string) bool{
	"=":    numeric(func(x, y float64) bool { return x >= y }),
	"==":   numeric(func(x, y float64) bool { return x == y }),
	"!=":   numeric(func(x, y float64) bool { return x != y }),
	">=":   numeric(func(x, y float64) bool { return x >= y }),
	"<=":   numeric(func(x, y float64) bool { return x <= y }),
	"<in>": func(v any, arg string) bool { s, ok := v.(string); return ok && strings.Contains(s, arg) },
	"<is>": func(v any, arg string) bool { return boolFromString(v) == boolFromString(arg) },
	"s==":  func(v any, arg string) bool { s, ok := v.(string); return ok && s == arg },
	"s!=":  func(v any, arg string) bool { s, ok := v.(string); return !ok || s != arg },
	"s<":   textual(func(x, y string) bool { return x < y }),
	"s<=":  textual(func(x, y string) bool { return x <= y }),
	"s>":   textual(func(x, y string) bool { return x > y }),
	"s>=":  textual(func(x, y string) bool { return x >= y }),
}

// numeric compares float(value) with float(arg), false when either is not a number.
func numeric(cmp func(x, y float64) bool) func(any, string) bool {
	return func(v any, arg string) bool {
		x, ok := toFloat(v)
		if !ok {
			return false
		}
		y, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		return err == nil && cmp(x, y)
	}
}

// textual compares a string value with arg, false for a value of another type.
func textual(cmp func(x, y string) bool) func(any, string) bool {
	return func(v any, arg string) bool {
		s, ok := v.(string)
		return ok && cmp(s, arg)
	}
}

// toFloat is Python's float() of a decoded JSON value.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// boolFromString is oslo_utils.strutils.bool_from_string, not strict: true
// for a true bool or one of 1, t, true, on, y, yes (any case), else false.
func boolFromString(v any) bool {
	var s string
	switch x := v.(type) {
	case bool:
		return x
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		s = strconv.Itoa(x)
	default:
		return false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}
