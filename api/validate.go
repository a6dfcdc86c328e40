package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of Cinder's JSON schemas (cinder/api/validation/parameter_types.py).
const (
	maxInt     = 0x7FFFFFFF // constants.DB_MAX_INT
	maxNameLen = 255
)

// fields are the members of a JSON object of the request body, still raw.
type fields map[string]json.RawMessage

// readBody reads the request body: nil when empty, 415 when not JSON, 413
// when too large, 400 when not well-formed JSON.
func readBody(r *http.Request) (json.RawMessage, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, bodyTooLarge()
		}
		return nil, newFault(http.StatusBadRequest, "Could not read the request body: %v", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && mt != "application/vnd.openstack.volume+json" {
		return nil, newFault(http.StatusUnsupportedMediaType, "Unsupported Content-Type")
	}
	if !json.Valid(b) {
		return nil, newFault(http.StatusBadRequest, "Malformed request body")
	}
	// encoding/json would take invalid UTF-8 and lone surrogates for
	// U+FFFD; Cinder's decoding refuses them.
	if !utf8.Valid(b) || loneSurrogate(b) {
		return nil, newFault(http.StatusBadRequest, "Malformed request body: it is not UTF-8 text.")
	}
	return b, nil
}

// loneSurrogate reports whether b, valid JSON, escapes half of a UTF-16
// surrogate pair (\uD800-\uDFFF) without its other half.
func loneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character; valid JSON has one
		r, ok := escapedRune(b, i)
		switch {
		case !ok:
		case utf16.IsSurrogate(r) && r < 0xDC00:
			low, ok := escapedRune(b, i+6)
			if !ok || b[i+5] != '\\' || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 10
		case utf16.IsSurrogate(r):
			return true
		default:
			i += 4
		}
	}
	return false
}

// escapedRune decodes the escape uXXXX at b[i:], if it is one.
func escapedRune(b []byte, i int) (rune, bool) {
	if i+5 > len(b) || b[i] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
	return rune(n), err == nil
}

// readObject reads the body as a JSON object; an empty body is an error
// naming want, the element expected.
func readObject(r *http.Request, want string) (fields, error) {
	b, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, missingElement(want)
	}
	var f fields
	if kind(b) != "object" || json.Unmarshal(b, &f) != nil {
		return nil, newFault(http.StatusBadRequest, "Malformed request body: expected a JSON object.")
	}
	return f, nil
}

// readMember reads a body {key: {…}} and returns the inner object; other
// top-level keys than allowed are refused.
func readMember(r *http.Request, key string, allowed ...string) (fields, error) {
	body, err := readObject(r, key)
	if err != nil {
		return nil, err
	}
	if err := body.only("", append(allowed, key)...); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, missingElement(key)
	}
	return objectOf(key, raw)
}

func missingElement(key string) *fault {
	return newFault(http.StatusBadRequest, "Missing required element '%s' in request body.", key)
}

// objectOf decodes raw, the value of field, as a JSON object.
func objectOf(field string, raw json.RawMessage) (fields, error) {
	var f fields
	if kind(raw) != "object" || json.Unmarshal(raw, &f) != nil {
		return nil, invalidField(field, raw, "%s is not of type 'object'", pyRepr(raw))
	}
	return f, nil
}

// only refuses members other than allowed, as additionalProperties false;
// path names the object ("" for the body).
func (f fields) only(path string, allowed ...string) error {
	var extra []string
	for k := range f {
		if !slices.Contains(allowed, k) {
			extra = append(extra, "'"+k+"'")
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	verb := "was"
	if len(extra) > 1 {
		verb = "were"
	}
	msg := "Additional properties are not allowed (" + strings.Join(extra, ", ") + " " + verb + " unexpected)"
	if path == "" {
		return newFault(http.StatusBadRequest, "%s", msg)
	}
	return newFault(http.StatusBadRequest, "Invalid input for field/attribute %s. %s", path, msg)
}

// required fails unless f has key; path names f.
func (f fields) required(path, key string) error {
	if _, ok := f[key]; ok {
		return nil
	}
	raw, _ := json.Marshal(f)
	return invalidField(path, raw, "'%s' is a required property", key)
}

// rawOr returns f[key], or def when absent.
func rawOr(f fields, key string, def json.RawMessage) json.RawMessage {
	if raw, ok := f[key]; ok {
		return raw
	}
	return def
}

// present reports whether f has key with a non-null value.
func (f fields) present(key string) bool {
	raw, ok := f[key]
	return ok && kind(raw) != "null"
}

// invalidField is jsonschema's error as Cinder words it.
func invalidField(field string, raw json.RawMessage, format string, args ...any) *fault {
	return newFault(http.StatusBadRequest, "Invalid input for field/attribute %s. Value: %s. "+format,
		append([]any{field, pyStr(raw)}, args...)...)
}

// kind is the JSON type of raw: object, array, string, number, boolean or null.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// pyStr shows a JSON value as Python's str() would: strings bare.
func pyStr(raw json.RawMessage) string {
	if kind(raw) == "string" {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	return pyRepr(raw)
}

// pyRepr shows a JSON value as Python's repr() would, as jsonschema's messages do.
func pyRepr(raw json.RawMessage) string {
	switch kind(raw) {
	case "string":
		return "'" + pyStr(raw) + "'"
	case "boolean":
		if string(bytes.TrimSpace(raw)) == "true" {
			return "True"
		}
		return "False"
	case "null":
		return "None"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// stringOf decodes raw, the value of field, as a string of at most maxLen
// characters (0: any); null is "" when nullable.
func stringOf(field string, raw json.RawMessage, nullable bool, maxLen int) (string, error) {
	switch kind(raw) {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalidField(field, raw, "%s is not a valid string", pyRepr(raw))
		}
		if maxLen > 0 && len([]rune(s)) > maxLen {
			return "", newFault(http.StatusBadRequest, "Invalid input for field/attribute %s. %s is too long (more than %d characters).",
				field, field, maxLen)
		}
		return s, nil
	case "null":
		if nullable {
			return "", nil
		}
	}
	if nullable {
		return "", invalidField(field, raw, "%s is not of type 'string', 'null'", pyRepr(raw))
	}
	return "", invalidField(field, raw, "%s is not of type 'string'", pyRepr(raw))
}

// nameOf decodes a volume name or description: a string or null of at most
// 255 characters once trimmed, as Cinder's *_non_mandatory_remove_white_spaces.
func nameOf(field string, raw json.RawMessage) (string, error) {
	s, err := stringOf(field, raw, true, 0)
	if err != nil {
		return "", err
	}
	if len([]rune(strings.TrimSpace(s))) > maxNameLen {
		return "", newFault(http.StatusBadRequest, "Invalid input received: %s has %d characters, more than %d.",
			field, len([]rune(strings.TrimSpace(s))), maxNameLen)
	}
	return s, nil
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// sizeOf decodes a volume size as parameter_types.volume_size: an integer,
// or a string of digits, from 1 to 2^31-1 GiB.
func sizeOf(field string, raw json.RawMessage) (int, error) {
	text := string(bytes.TrimSpace(raw))
	switch kind(raw) {
	case "string":
		text = pyStr(raw)
		if !digits.MatchString(text) {
			return 0, invalidField(field, raw, "%s does not match '^[0-9]+$'", pyRepr(raw))
		}
	case "number":
		if strings.ContainsAny(text, ".eE") {
			return 0, invalidField(field, raw, "%s is not of type 'integer', 'string'", pyRepr(raw))
		}
	default:
		return 0, invalidField(field, raw, "%s is not of type 'integer', 'string'", pyRepr(raw))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if (err != nil && !strings.HasPrefix(text, "-")) || n > maxInt {
		return 0, invalidField(field, raw, "%s is greater than the maximum of %d", text, maxInt)
	}
	if err != nil || n < 1 {
		return 0, invalidField(field, raw, "%s is less than the minimum of 1", text)
	}
	return int(n), nil
}

// pyTrue and pyFalse are the strings oslo's bool_from_string accepts.
var (
	pyTrue  = []string{"1", "t", "true", "on", "y", "yes"}
	pyFalse = []string{"0", "f", "false", "off", "n", "no"}
)

// boolOf decodes parameter_types.boolean: true/false or a boolean string.
func boolOf(field string, raw json.RawMessage) (bool, error) {
	switch kind(raw) {
	case "boolean":
		return string(bytes.TrimSpace(raw)) == "true", nil
	case "string":
		if b, ok := parseBool(pyStr(raw)); ok {
			return b, nil
		}
	}
	return false, invalidField(field, raw, "%s is not a boolean", pyRepr(raw))
}

// parseBool is oslo's strict bool_from_string.
func parseBool(s string) (value, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case slices.Contains(pyTrue, s):
		return true, true
	case slices.Contains(pyFalse, s):
		return false, true
	}
	return false, false
}

// boolParam reads a boolean query parameter, def when absent, as Cinder's
// get_bool_param.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return def, nil
	}
	b, ok := parseBool(q.Get(name))
	if !ok {
		return false, newFault(http.StatusBadRequest, "Value '%s' for '%s' is not a boolean.", q.Get(name), name)
	}
	return b, nil
}

// specKey is the key pattern of metadata and extra specs; noSpaceKey that of
// extra specs set through /extra_specs.
var (
	specKey    = regexp.MustCompile(`^[a-zA-Z0-9-_:. /]{1,255}$`)
	noSpaceKey = regexp.MustCompile(`^[a-zA-Z0-9-_:.]{1,255}$`)
)

// specsOf decodes a map of string to string (volume metadata, extra specs):
// keys matching keyPattern, values strings of at most 255 characters, or
// null when nullValues (kept as "").
func specsOf(field string, raw json.RawMessage, keyPattern *regexp.Regexp, nullValues bool) (map[string]string, error) {
	obj, err := objectOf(field, raw)
	if err != nil {
		return nil, err
	}
	specs := make(map[string]string, len(obj))
	unexpected := fields{}
	for k, v := range obj {
		if !keyPattern.MatchString(k) {
			unexpected[k] = v
			continue
		}
		if specs[k], err = stringOf(k, v, nullValues, maxNameLen); err != nil {
			return nil, err
		}
	}
	if err := unexpected.only(field); err != nil {
		return nil, err
	}
	return specs, nil
}
