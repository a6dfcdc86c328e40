// Package conf reads cinder.conf, oslo.config's INI dialect, with Cinder's
// option names and defaults.
package conf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/encoding/ini"
	"github.com/spf13/viper"
	goini "gopkg.in/ini.v1"
)

// Config is the [DEFAULT] and [database] options plus each enabled backend.
type Config struct {
	Host                         string // DEFAULT host (default: the machine's hostname)
	StatePath                    string // state_path (default /var/lib/cinder)
	TransportURL                 string // transport_url (default fake://)
	ControlExchange              string // control_exchange (default openstack)
	RPCResponseTimeout           time.Duration
	APIListen                    string // osapi_volume_listen (default 0.0.0.0)
	APIPort                      int    // osapi_volume_listen_port (default 8776)
	AuthStrategy                 string // auth_strategy (default noauth)
	EnabledBackends              []string
	DefaultVolumeType            string        // default_volume_type (default __DEFAULT__)
	StorageAvailabilityZone      string        // storage_availability_zone (default nova)
	ReportInterval               time.Duration // report_interval (default 10s)
	ServiceDownTime              time.Duration // service_down_time (default 60s)
	BackendStatsPollingInterval  time.Duration // backend_stats_polling_interval (default 60s)
	SchedulerDefaultFilters      []string      // default AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter
	SchedulerDefaultWeighers     []string      // default CapacityWeigher
	MigrationCreateVolumeTimeout time.Duration // migration_create_volume_timeout_secs (default 300s)
	PeriodicInterval             time.Duration // periodic_interval: between runs of periodic tasks (default 60s)
	SchedulerDriverInitWaitTime  time.Duration // scheduler_driver_init_wait_time: how long a starting scheduler waits for stats (default 60s)
	SchedulerCreateVolumeTimeout time.Duration // scheduler_create_volume_timeout: when a volume no scheduler placed fails (default 300s)
	QuotaGigabytes               int           // quota_gigabytes: GiB a project's volumes may hold, -1 for no limit (default 1000)
	DatabaseConnection           string        // [database] connection (default sqlite:///$state_path/cinder.sqlite)
	DatabaseMaxPoolSize          int           // [database] max_pool_size: connections kept open (default 5)
	DatabaseMaxOverflow          int           // [database] max_overflow: connections opened past the pool under load (default 50)
	Backends                     []*Backend    // the sections named by enabled_backends, in that order
}

// Backend is one enabled backend's section. Each option is read from the
// section, else from [DEFAULT], else takes its default.
type Backend struct {
	Name                     string  // the section name, the backend part of host@backend
	VolumeDriver             string  // volume_driver: "thin" or "thick" (default thin)
	VolumeBackendName        string  // volume_backend_name (default: the section name)
	BackendHost              string  // backend_host (default: DEFAULT host)
	VolumesDir               string  // volumes_dir (default $state_path/volumes/<section>), made absolute
	ReservedPercentage       int     // reserved_percentage (default 0)
	MaxOverSubscriptionRatio float64 // max_over_subscription_ratio (default 20.0; "auto" reads as 20.0)
	VolumeClear              string  // volume_clear: none or zero (default zero)
	VolumeClearSize          int     // volume_clear_size in MiB, 0 = whole volume
	VolumeDDBlocksize        int64   // volume_dd_blocksize in bytes (default 1M)
	VolumeCopyBPSLimit       int64   // volume_copy_bps_limit (default 0 = unlimited)
	TotalCapacityGB          float64 // total_capacity_gb: capacity to report; 0 = the filesystem's size
	AvailabilityZone         string  // backend_availability_zone (default storage_availability_zone)
}

// Backend returns the enabled backend whose section is name, or nil.
func (c *Config) Backend(name string) *Backend {
	for _, b := range c.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// defaultSection is [DEFAULT] as viper names it: section names are lower-cased.
const defaultSection = "default"

// defaultOptions are the [DEFAULT] options with their defaults, before
// substitution; host's default, the hostname, is added by Load.
var defaultOptions = map[string]string{
	"state_path":                           "/var/lib/cinder",
	"transport_url":                        "fake://",
	"control_exchange":                     "openstack",
	"rpc_response_timeout":                 "60",
	"osapi_volume_listen":                  "0.0.0.0",
	"osapi_volume_listen_port":             "8776",
	"auth_strategy":                        "noauth",
	"enabled_backends":                     "",
	"default_volume_type":                  "__DEFAULT__",
	"storage_availability_zone":            "nova",
	"report_interval":                      "10",
	"service_down_time":                    "60",
	"backend_stats_polling_interval":       "60",
	"scheduler_default_filters":            "AvailabilityZoneFilter,CapacityFilter,CapabilitiesFilter",
	"scheduler_default_weighers":           "CapacityWeigher",
	"migration_create_volume_timeout_secs": "300",
	"periodic_interval":                    "60",
	"scheduler_driver_init_wait_time":      "60",
	"scheduler_create_volume_timeout":      "300",
	"quota_gigabytes":                      "1000",
}

// databaseOptions are the [database] options with their defaults.
var databaseOptions = map[string]string{
	"connection":    "sqlite:///$state_path/cinder.sqlite",
	"max_pool_size": "5",
	"max_overflow":  "50",
}

// backendOptions returns a backend section's options with their defaults.
func backendOptions(section string) map[string]string {
	literal := strings.ReplaceAll(section, "$", "$$")
	return map[string]string{
		"volume_driver":               "thin",
		"volume_backend_name":         literal,
		"backend_host":                "$host",
		"volumes_dir":                 "$state_path/volumes/" + literal,
		"reserved_percentage":         "0",
		"max_over_subscription_ratio": "20.0",
		"volume_clear":                "zero",
		"volume_clear_size":           "0",
		"volume_dd_blocksize":         "1M",
		"volume_copy_bps_limit":       "0",
		"total_capacity_gb":           "0",
		"backend_availability_zone":   "$storage_availability_zone",
	}
}

// Load reads the files in order, later files overriding earlier ones as
// oslo.config does, applies defaults and $var substitution, and checks values.
func Load(files ...string) (*Config, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("conf: default host: %w", err)
	}
	defaults := map[string]string{"host": strings.ReplaceAll(host, "$", "$$")}
	for k, v := range defaultOptions {
		defaults[k] = v
	}
	r := &resolver{
		values:   map[string]map[string]setting{},
		defaults: map[string]map[string]string{defaultSection: defaults, "database": databaseOptions},
		backends: map[string]bool{},
		active:   map[[2]string]bool{},
	}
	for _, f := range files {
		if err := r.read(f); err != nil {
			return nil, err
		}
	}

	p := &reader{r: r}
	c := &Config{
		Host:                         p.str(defaultSection, "host"),
		StatePath:                    p.str(defaultSection, "state_path"),
		TransportURL:                 p.str(defaultSection, "transport_url"),
		ControlExchange:              p.str(defaultSection, "control_exchange"),
		RPCResponseTimeout:           p.seconds(defaultSection, "rpc_response_timeout", 1),
		APIListen:                    p.str(defaultSection, "osapi_volume_listen"),
		APIPort:                      p.int(defaultSection, "osapi_volume_listen_port", 0, 65535),
		AuthStrategy:                 p.str(defaultSection, "auth_strategy"),
		EnabledBackends:              p.list(defaultSection, "enabled_backends"),
		DefaultVolumeType:            p.str(defaultSection, "default_volume_type"),
		StorageAvailabilityZone:      p.str(defaultSection, "storage_availability_zone"),
		ReportInterval:               p.seconds(defaultSection, "report_interval", 1),
		ServiceDownTime:              p.seconds(defaultSection, "service_down_time", 1),
		BackendStatsPollingInterval:  p.seconds(defaultSection, "backend_stats_polling_interval", 3),
		SchedulerDefaultFilters:      p.list(defaultSection, "scheduler_default_filters"),
		SchedulerDefaultWeighers:     p.list(defaultSection, "scheduler_default_weighers"),
		MigrationCreateVolumeTimeout: p.seconds(defaultSection, "migration_create_volume_timeout_secs", 1),
		PeriodicInterval:             p.seconds(defaultSection, "periodic_interval", 1),
		SchedulerDriverInitWaitTime:  p.seconds(defaultSection, "scheduler_driver_init_wait_time", 1),
		SchedulerCreateVolumeTimeout: p.seconds(defaultSection, "scheduler_create_volume_timeout", 1),
		QuotaGigabytes:               p.int(defaultSection, "quota_gigabytes", -1, 1<<31-1),
		DatabaseConnection:           p.str("database", "connection"),
		DatabaseMaxPoolSize:          p.int("database", "max_pool_size", 1, 1<<16),
		DatabaseMaxOverflow:          p.int("database", "max_overflow", 0, 1<<16),
	}
	if p.err != nil {
		return nil, p.err
	}
	for _, name := range c.EnabledBackends {
		b, err := r.backend(name, files)
		if err != nil {
			return nil, err
		}
		c.Backends = append(c.Backends, b)
	}
	return c, nil
}

// backend registers and reads the section of the enabled backend name.
func (r *resolver) backend(name string, files []string) (*Backend, error) {
	section := strings.ToLower(name)
	switch {
	case strings.ContainsAny(name, "@#:/"):
		return nil, fmt.Errorf("conf: enabled_backends: backend name %q must not contain '@', '#', ':' or '/'", name)
	case r.backends[section]:
		return nil, fmt.Errorf("conf: enabled_backends: backend %q is listed twice", name)
	case section == defaultSection || section == "database":
		return nil, fmt.Errorf("conf: enabled_backends: [%s] is not a backend section", name)
	case !r.hasSection(section):
		return nil, fmt.Errorf("conf: enabled backend %q has no [%s] section in %s", name, name, strings.Join(files, ", "))
	}
	r.backends[section] = true
	r.defaults[section] = backendOptions(name)

	p := &reader{r: r}
	b := &Backend{
		Name:                     name,
		VolumeDriver:             p.choice(section, "volume_driver", "thin", "thick"),
		VolumeBackendName:        p.str(section, "volume_backend_name"),
		BackendHost:              p.str(section, "backend_host"),
		VolumesDir:               p.path(section, "volumes_dir"),
		ReservedPercentage:       p.int(section, "reserved_percentage", 0, 100),
		MaxOverSubscriptionRatio: p.ratio(section, "max_over_subscription_ratio"),
		VolumeClear:              p.choice(section, "volume_clear", "none", "zero"),
		VolumeClearSize:          p.int(section, "volume_clear_size", 0, 1024),
		VolumeDDBlocksize:        p.blocksize(section, "volume_dd_blocksize"),
		VolumeCopyBPSLimit:       p.int64(section, "volume_copy_bps_limit"),
		TotalCapacityGB:          p.float(section, "total_capacity_gb", 0),
		AvailabilityZone:         p.str(section, "backend_availability_zone"),
	}
	return b, p.err
}

// setting is one option's raw value and the file that set it ("" for a default).
type setting struct {
	value, file string
}

// resolver holds the merged files and the known options, and substitutes
// $var references the way oslo.config does.
type resolver struct {
	files    []*viper.Viper                // each file read, for its sections
	values   map[string]map[string]setting // section → option → value, later files winning
	defaults map[string]map[string]string  // section → option → default before substitution
	backends map[string]bool               // sections of enabled backends
	active   map[[2]string]bool            // options being substituted, to catch loops
}

// keyDelimiter separates section and option in viper keys; it is not "."
// so that a section name with dots stays one section.
const keyDelimiter = "::"

// sectionCodec decodes INI like the go-viper codec, and also keeps sections
// that hold no option, so that an empty backend section still counts.
type sectionCodec struct{ ini.Codec }

func (c sectionCodec) Decode(b []byte, v map[string]any) error {
	if err := c.Codec.Decode(b, v); err != nil {
		return err
	}
	f, err := goini.LoadSources(c.LoadOptions, b)
	if err != nil {
		return err
	}
	for _, name := range f.SectionStrings() {
		if _, ok := v[name]; !ok {
			v[name] = map[string]any{}
		}
	}
	return nil
}

// read parses one file and merges it over what earlier files set.
func (r *resolver) read(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("conf: %w", err)
	}
	reg := viper.NewCodecRegistry()
	codec := sectionCodec{ini.Codec{
		KeyDelimiter: keyDelimiter,
		LoadOptions: ini.LoadOptions{
			// oslo.config: no inline comments, indented continuation lines,
			// and a repeated option keeps its last value (so no shadows).
			IgnoreInlineComment:        true,
			AllowPythonMultilineValues: true,
		},
	}}
	if err := reg.RegisterCodec("ini", codec); err != nil {
		return fmt.Errorf("conf: %s: %w", file, err)
	}
	v := viper.NewWithOptions(viper.WithCodecRegistry(reg), viper.KeyDelimiter(keyDelimiter))
	v.SetConfigType("ini")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("conf: %s: %s", file, oneLine(err.Error()))
	}
	for _, key := range v.AllKeys() {
		i := strings.LastIndex(key, keyDelimiter)
		if i < 0 {
			return fmt.Errorf("conf: %s: option %q is in no section", file, key)
		}
		section, opt := key[:i], key[i+len(keyDelimiter):]
		if r.values[section] == nil {
			r.values[section] = map[string]setting{}
		}
		r.values[section][opt] = setting{value: continued(v.GetString(key)), file: file}
	}
	r.files = append(r.files, v)
	return nil
}

// hasSection reports whether some file has the section, even empty.
func (r *resolver) hasSection(section string) bool {
	for _, v := range r.files {
		if v.IsSet(section) {
			return true
		}
	}
	return false
}

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

// lookup returns the raw value of a section's option: the section's, else for
// a backend option [DEFAULT]'s, else the default.
func (r *resolver) lookup(section, opt string) (setting, bool) {
	if s, ok := r.values[section][opt]; ok {
		return s, true
	}
	d, known := r.defaults[section][opt]
	if known && r.backends[section] {
		if s, ok := r.values[defaultSection][opt]; ok {
			return s, true
		}
	}
	return setting{value: d}, known
}

// where names an option and the file that set it, for error messages.
func (r *resolver) where(section, opt string) string {
	s, _ := r.lookup(section, opt)
	name := "[" + section + "]"
	if section == defaultSection {
		name = "[DEFAULT]"
	}
	if s.file == "" {
		return fmt.Sprintf("%s %s (default)", name, opt)
	}
	return fmt.Sprintf("%s: %s %s", s.file, name, opt)
}

// get returns a section's option with $var references substituted.
func (r *resolver) get(section, opt string) (string, error) {
	s, ok := r.lookup(section, opt)
	if !ok {
		return "", errNoOption
	}
	k := [2]string{section, opt}
	if r.active[k] {
		return "", fmt.Errorf("conf: %s: substitution refers back to itself", r.where(section, opt))
	}
	r.active[k] = true
	defer delete(r.active, k)
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

func (p *reader) choice(section, opt string, choices ...string) string {
	s := strings.TrimSpace(p.str(section, opt))
	if p.err == nil && !slices.Contains(choices, s) {
		p.fail(section, opt, "%q is not one of %s", s, strings.Join(choices, ", "))
	}
	return s
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
