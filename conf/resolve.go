package conf

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
	goini "gopkg.in/ini.v1"
)

// setting is one option's raw value and where it was set: a file, an
// environment variable, or "" for a default.
type setting struct {
	value, from string
}

// resolver layers the files, the environment and the defaults in viper, and
// substitutes $var references the way oslo.config does.
type resolver struct {
	v        *viper.Viper      // the files merged in order, the environment over them, the defaults under
	parse    parser            // parseINI, or a test's wrapper of it
	origin   map[string]string // key → the last file that set it
	backends map[string]bool   // sections of enabled backends
	active   map[string]bool   // keys being substituted, to catch loops
}

// keyDelimiter separates section and option in viper keys; it is not "."
// so that a section name with dots stays one section.
const keyDelimiter = "::"

// envPrefix and envKeys make the variable that overrides an option:
// CINDER_<SECTION>_<OPTION>, upper-case, with "::", "." and "-" as "_".
const envPrefix = "cinder"

var envKeys = strings.NewReplacer(keyDelimiter, "_", ".", "_", "-", "_")

// envName is the environment variable viper reads for key.
func envName(key string) string { return envKeys.Replace(strings.ToUpper(envPrefix + "_" + key)) }

// newResolver returns a resolver reading files with parse, and CINDER_
// environment variables over them.
func newResolver(parse parser) *resolver {
	v := viper.NewWithOptions(viper.KeyDelimiter(keyDelimiter), viper.EnvKeyReplacer(envKeys))
	v.SetEnvPrefix(envPrefix)
	v.AllowEmptyEnv(true) // an empty value is a value, as in a file
	v.AutomaticEnv()
	return &resolver{
		v:        v,
		parse:    parse,
		origin:   map[string]string{},
		backends: map[string]bool{},
		active:   map[string]bool{},
	}
}

// setDefaults gives a section's options their defaults.
func (r *resolver) setDefaults(section string, options map[string]string) {
	for opt, value := range options {
		r.v.SetDefault(section+keyDelimiter+opt, value)
	}
}

// addBackend marks section as an enabled backend's, whose options fall back
// to [DEFAULT], and gives them their defaults.
func (r *resolver) addBackend(section string, options map[string]string) {
	r.backends[section] = true
	r.setDefaults(section, options)
}

// A parser reads one INI file into section → option → raw value.
type parser func(data []byte) (map[string]map[string]any, error)

// parseINI parses oslo.config's INI dialect: no inline comments, indented
// continuation lines, a repeated option keeping its last value, and names
// lower-cased. It keeps empty sections, which viper's INI codec drops.
func parseINI(data []byte) (map[string]map[string]any, error) {
	f, err := goini.LoadSources(goini.LoadOptions{
		InsensitiveKeys:            true,
		IgnoreInlineComment:        true,
		AllowPythonMultilineValues: true,
	}, data)
	if err != nil {
		return nil, err
	}
	sections := map[string]map[string]any{}
	for _, s := range f.Sections() {
		name := strings.ToLower(s.Name())
		if sections[name] == nil {
			sections[name] = map[string]any{}
		}
		for _, k := range s.Keys() {
			sections[name][k.Name()] = continued(k.Value())
		}
	}
	return sections, nil
}

// read parses one file, once, and merges it over the files read before.
func (r *resolver) read(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("conf: %w", err)
	}
	sections, err := r.parse(data)
	if err != nil {
		return fmt.Errorf("conf: %s: %s", file, oneLine(err.Error()))
	}
	merged := make(map[string]any, len(sections))
	for section, options := range sections {
		for opt := range options {
			r.origin[section+keyDelimiter+opt] = file
		}
		merged[section] = options
	}
	if err := r.v.MergeConfigMap(merged); err != nil {
		return fmt.Errorf("conf: %s: %w", file, err)
	}
	return nil
}

// hasSection reports whether some file has the section, even empty.
func (r *resolver) hasSection(section string) bool { return r.v.InConfig(section) }

// continued strips the indentation of continuation lines, as oslo.config
// joins them.
func continued(value string) string {
	lines := strings.Split(value, "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = strings.TrimLeft(lines[i], " \t")
	}
	return strings.Join(lines, "\n")
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// errNoOption says an option is neither set nor known.
var errNoOption = errors.New("no such option")

// set returns the raw value of key if the environment or a file sets it,
// the environment winning, as viper layers them.
func (r *resolver) set(key string) (setting, bool) {
	from, ok := r.origin[key]
	name := envName(key)
	if _, env := os.LookupEnv(name); env {
		from, ok = "environment "+name, true
	}
	if !ok {
		return setting{}, false
	}
	return setting{value: r.v.GetString(key), from: from}, true
}

// lookup returns the raw value of a section's option: the section's, else for
// a backend option [DEFAULT]'s, else the default.
func (r *resolver) lookup(section, opt string) (setting, bool) {
	key := section + keyDelimiter + opt
	if s, ok := r.set(key); ok {
		return s, true
	}
	d, known := r.v.Get(key).(string) // not set, so the default if any
	if known && r.backends[section] {
		if s, ok := r.set(defaultSection + keyDelimiter + opt); ok {
			return s, true
		}
	}
	return setting{value: d}, known
}

// where names an option and where it was set, for error messages.
func (r *resolver) where(section, opt string) string {
	s, _ := r.lookup(section, opt)
	name := "[" + section + "]"
	if section == defaultSection {
		name = "[DEFAULT]"
	}
	if s.from == "" {
		return fmt.Sprintf("%s %s (default)", name, opt)
	}
	return fmt.Sprintf("%s: %s %s", s.from, name, opt)
}

// get returns a section's option with $var references substituted.
func (r *resolver) get(section, opt string) (string, error) {
	s, ok := r.lookup(section, opt)
	if !ok {
		return "", errNoOption
	}
	key := section + keyDelimiter + opt
	if r.active[key] {
		return "", fmt.Errorf("conf: %s: substitution refers back to itself", r.where(section, opt))
	}
	r.active[key] = true
	defer delete(r.active, key)
	return r.substitute(section, opt, s.value)
}

// substitute expands $name, ${name} and ${group.name} in the value of
// section's opt, as oslo.config's string.Template: $$ and \$ give "$", and a
// "$" not followed by a name stays as it is.
func (r *resolver) substitute(section, opt, value string) (string, error) {
	value = strings.ReplaceAll(value, `\$`, "$$")
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		if value[i] != '$' {
			b.WriteByte(value[i])
			continue
		}
		rest := value[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			i++
			continue
		case strings.HasPrefix(rest, "{"):
			if n := identifier(rest[1:]); n != "" && strings.HasPrefix(rest[1+len(n):], "}") {
				name = n
				i += len(n) + 2
			}
		default:
			name = identifier(rest)
			i += len(name)
		}
		if name == "" {
			b.WriteByte('$')
			continue
		}
		v, err := r.variable(section, strings.ToLower(name))
		if errors.Is(err, errNoOption) {
			return "", fmt.Errorf("conf: %s: unknown option $%s", r.where(section, opt), name)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// identifier returns the longest prefix of s matching oslo.config's
// template identifier [_a-z][._a-z0-9]*, case-insensitive.
func identifier(s string) string {
	for i := 0; i < len(s); i++ {
		c, lower := s[i], s[i]|0x20
		if c != '_' && (lower < 'a' || lower > 'z') && (i == 0 || c != '.' && (c < '0' || c > '9')) {
			return s[:i]
		}
	}
	return s
}

// variable resolves a substitution name: group.opt names another section's
// option; a plain name is an option of the same section, else of [DEFAULT].
func (r *resolver) variable(section, name string) (string, error) {
	if group, opt, ok := strings.Cut(name, "."); ok {
		return r.get(group, opt)
	}
	v, err := r.get(section, name)
	if errors.Is(err, errNoOption) && section != defaultSection {
		return r.get(defaultSection, name)
	}
	return v, err
}

// reader converts options to their types, keeping the first error.
type reader struct {
	r   *resolver
	err error
}

func (p *reader) str(section, opt string) string {
	if p.err != nil {
		return ""
	}
	v, err := p.r.get(section, opt)
	if err != nil {
		p.err = err
	}
	return v
}

// fail records an error about a section's option.
func (p *reader) fail(section, opt, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("conf: %s: %s", p.r.where(section, opt), fmt.Sprintf(format, args...))
	}
}

func (p *reader) int(section, opt string, minimum, maximum int) int {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err != nil {
		return 0
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		p.fail(section, opt, "%q is not an integer", s)
	case n < minimum || n > maximum:
		p.fail(section, opt, "%d is not between %d and %d", n, minimum, maximum)
	}
	return n
}

func (p *reader) int64(section, opt string) int64 {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		p.fail(section, opt, "%q is not an integer", s)
	case n < 0:
		p.fail(section, opt, "%d is negative", n)
	}
	return n
}

func (p *reader) float(section, opt string, minimum float64) float64 {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil:
		p.fail(section, opt, "%q is not a number", s)
	case !(f >= minimum) || math.IsInf(f, 0):
		p.fail(section, opt, "%s is not a finite number of at least %v", s, minimum)
	}
	return f
}

// ratio reads max_over_subscription_ratio: a number of at least 1, or
// "auto", which Cinder computes from usage and this emulator reads as 20.0.
func (p *reader) ratio(section, opt string) float64 {
	if strings.TrimSpace(p.str(section, opt)) == "auto" {
		return 20.0
	}
	return p.float(section, opt, 1)
}

// seconds reads an integer number of seconds, at least minimum.
func (p *reader) seconds(section, opt string, minimum int) time.Duration {
	return time.Duration(p.int(section, opt, minimum, 1<<31-1)) * time.Second
}

// list reads a comma-separated list, trimming spaces and dropping empty items.
func (p *reader) list(section, opt string) []string {
	var items []string
	for _, item := range strings.Split(p.str(section, opt), ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// bool reads a boolean as oslo.config does: true, yes, on or 1, false,
// no, off or 0, in any case.
func (p *reader) bool(section, opt string) bool {
	s := strings.ToLower(strings.TrimSpace(p.str(section, opt)))
	switch s {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
	default:
		p.fail(section, opt, "%q is not a boolean", s)
	}
	return false
}

func (p *reader) choice(section, opt string, choices ...string) string {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err == nil && !slices.Contains(choices, s) {
		p.fail(section, opt, "%q is not one of %s", s, strings.Join(choices, ", "))
	}
	return s
}

// optionalPath reads a path, made absolute unless it is "" (none).
func (p *reader) optionalPath(section, opt string) string {
	if strings.TrimSpace(p.str(section, opt)) == "" {
		return ""
	}
	return p.path(section, opt)
}

// path reads a non-empty path and makes it absolute.
func (p *reader) path(section, opt string) string {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err != nil {
		return ""
	}
	if s == "" {
		p.fail(section, opt, "empty path")
		return ""
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		p.fail(section, opt, "%v", err)
	}
	return abs
}

func (p *reader) blocksize(section, opt string) int64 {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err != nil {
		return 0
	}
	n, err := ParseBlocksize(s)
	if err != nil {
		p.fail(section, opt, "%v", err)
	}
	return n
}

// MaxBlocksize bounds volume_dd_blocksize: a buffer that large is allocated.
const MaxBlocksize = 1 << 30

// ParseBlocksize parses volume_dd_blocksize as Cinder's _check_blocksize and
// oslo's string_to_bytes (IEC): digits with an optional K, M, G or T suffix,
// each optionally followed by "i" ("512K", "1M", "1Mi", "4096"), in bytes.
// A leading '-' or '0', a '.', zero and sizes above MaxBlocksize are refused.
func ParseBlocksize(s string) (int64, error) {
	digits := strings.TrimPrefix(s, "+")
	unit := strings.TrimLeft(digits, "0123456789")
	digits = digits[:len(digits)-len(unit)]
	exp, ok := map[string]uint{"": 0, "K": 1, "Ki": 1, "M": 2, "Mi": 2, "G": 3, "Gi": 3, "T": 4, "Ti": 4}[unit]
	if digits == "" || !ok || strings.HasPrefix(s, "0") || strings.HasPrefix(digits, "0") {
		return 0, fmt.Errorf("invalid blocksize %q: want a positive integer with an optional K, M, G or T suffix", s)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > MaxBlocksize>>(10*exp) {
		return 0, fmt.Errorf("invalid blocksize %q: larger than %d bytes", s, MaxBlocksize)
	}
	return n << (10 * exp), nil
}
