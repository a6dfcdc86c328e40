package api

import (
	"bytes"
	_ "embed" // Cinder's resource_filters.json
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Microversions of list filtering (cinder/api/microversions.py).
const (
	mvStrictBooleans       = 2  // boolean filters take only true or false
	mvGlanceMetadataFilter = 4  // glance_metadata
	mvGroupFilter          = 10 // group_id
	mvGeneralFilters       = 31 // resource_query_filters_file rules a non-admin's filters
	mvResourceFilters      = 33 // GET /resource_filters
	mvLikeFilters          = 34 // key~ filters
	mvTimeFilters          = 60 // created_at and updated_at comparisons
)

// cinderResourceFilters is Cinder's etc/cinder/resource_filters.json, the
// default of resource_query_filters_file.
//
//go:embed resource_filters.json
var cinderResourceFilters []byte

// resourceFilters are the list filters a non-admin may use, by resource,
// in the order of the resource_query_filters_file.
type resourceFilters []resourceFilter

// resourceFilter is one resource's filters.
type resourceFilter struct {
	resource string
	filters  []string
}

// loadResourceFilters reads the resource_query_filters_file path, or
// Cinder's own when path is "". As Cinder, a file that cannot be read
// allows no filter, which the log says.
func loadResourceFilters(path string) resourceFilters {
	b := cinderResourceFilters
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			slog.Error("api: resource query filters file unreadable: non-admins may not filter lists", "err", err)
			return nil
		}
	}
	rf, err := parseResourceFilters(b)
	if err != nil {
		slog.Error("api: resource query filters file invalid: non-admins may not filter lists", "file", path, "err", err)
		return nil
	}
	return rf
}

// parseResourceFilters decodes a JSON object of lists of filter names,
// keeping its order.
func parseResourceFilters(b []byte) (resourceFilters, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("resource filters: not a JSON object")
	}
	var rf resourceFilters
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("resource filters: %w", err)
		}
		f := resourceFilter{resource: t.(string)} // an object's keys are strings
		if err := dec.Decode(&f.filters); err != nil {
			return nil, fmt.Errorf("resource filters of %s: %w", f.resource, err)
		}
		rf = append(rf, f)
	}
	return rf, nil
}

// of returns the filters of resource.
func (rf resourceFilters) of(resource string) []string {
	for _, f := range rf {
		if f.resource == resource {
			return f.filters
		}
	}
	return nil
}

// listResourceFilters answers GET /resource_filters (3.33): the filters of
// every resource, or of ?resource= alone (none for an unknown one).
func (s *server) listResourceFilters(r *http.Request) (reply, error) {
	if !ver(r).atLeast(mvResourceFilters) {
		return reply{}, newFault(http.StatusNotFound, "The resource could not be found.")
	}
	want := r.URL.Query().Get("resource")
	items := []object{}
	for _, f := range s.filter {
		if want == "" || f.resource == want {
			items = append(items, object{{"resource", f.resource}, {"filters", f.filters}})
		}
	}
	return reply{http.StatusOK, object{{"resource_filters", items}}}, nil
}

// pagingParams are the list parameters that page and sort, not filter.
var pagingParams = []string{"limit", "marker", "offset", "sort", "sort_key", "sort_dir"}

// filtersOf returns the filters of list request r: its query parameters
// but those of paging, sorting and (from 3.45) with_count, each with its
// last value, as Cinder reads req.params.
func filtersOf(r *http.Request) map[string]string {
	q := r.URL.Query()
	filters := make(map[string]string, len(q))
	for k, vs := range q {
		if !slices.Contains(pagingParams, k) && (k != "with_count" || !ver(r).atLeast(mvCount)) {
			filters[k] = vs[len(vs)-1]
		}
	}
	return filters
}

// attributeConverters rename filters to their columns (Cinder's
// ATTRIBUTE_CONVERTERS).
var attributeConverters = map[string]string{"name~": "display_name~", "description~": "display_description~",
	"consumes_quota": "use_quota"}

// invalidFilters is Cinder's 400 for list filters keys the caller may not
// use, as reject_invalid_filters words it.
func invalidFilters(keys []string) error {
	return newFault(http.StatusBadRequest, "Invalid filters %s are found in query options.", strings.Join(keys, ","))
}

// generalFilters applies Cinder's general filtering of lists (from 3.31)
// to filters of resource and reports whether it did: keys are ASCII; a
// non-admin may use only the filters the resource_query_filters_file
// allows the resource (from 3.34 key~ too where key~ is allowed), and
// all_tenants, which is dropped; name~, description~ and consumes_quota
// are renamed to their columns.
func (s *server) generalFilters(r *http.Request, resource string, filters map[string]string) (bool, error) {
	if !ver(r).atLeast(mvGeneralFilters) {
		return false, nil
	}
	for k := range filters {
		if strings.ContainsFunc(k, func(c rune) bool { return c >= 0x80 }) {
			return true, newFault(http.StatusBadRequest, "Filter keys can only contain ASCII characters.")
		}
	}
	if !cinder.FromContext(r.Context()).IsAdmin {
		allowed, like := s.filter.of(resource), ver(r).atLeast(mvLikeFilters)
		var invalid []string
		for _, k := range slices.Sorted(maps.Keys(filters)) {
			if ok := slices.Contains(allowed, k) || like && slices.Contains(allowed, k+"~"); !ok {
				invalid = append(invalid, k)
			}
		}
		// cinderclient always sends all_tenants: Cinder ignores it.
		if i := slices.Index(invalid, "all_tenants"); i >= 0 {
			invalid = slices.Delete(invalid, i, i+1)
			delete(filters, "all_tenants")
		}
		if len(invalid) > 0 {
			return true, invalidFilters(invalid)
		}
	}
	renameAttributes(filters)
	return true, nil
}

// renameAttributes renames filters to their columns (attributeConverters).
func renameAttributes(filters map[string]string) {
	for from, to := range attributeConverters {
		if v, ok := filters[from]; ok {
			delete(filters, from)
			filters[to] = v
		}
	}
}

// listFilters returns the filters of list request r of resource, as
// Cinder's process_general_filtering: from 3.31 generalFilters rules
// them; before, a non-admin's filters not in allowed are dropped, and
// everyone's that added names for a later microversion.
func (s *server) listFilters(r *http.Request, resource string, allowed []string, added map[string]int) (map[string]string, error) {
	filters := filtersOf(r)
	general, err := s.generalFilters(r, resource, filters)
	if err != nil || general {
		return filters, err
	}
	admin := cinder.FromContext(r.Context()).IsAdmin
	for k := range filters {
		if minor, ok := added[k]; ok && !ver(r).atLeast(minor) || !admin && !slices.Contains(allowed, k) {
			delete(filters, k)
		}
	}
	return filters, nil
}

// volumeAddedFilters are the volume filters of later microversions, which
// earlier ones drop (before general filtering, from 3.31, rules them).
var volumeAddedFilters = map[string]int{"glance_metadata": mvGlanceMetadataFilter, "group_id": mvGroupFilter,
	"created_at": mvTimeFilters, "updated_at": mvTimeFilters, "use_quota": mvUseQuota}

// volumeFilter reads the list parameters of r as Cinder's volume lists
// (cinder/api/v3/volumes.py): paging, sorting, the project and the
// filters; limit is the page size.
func (s *server) volumeFilter(r *http.Request) (db.VolumeFilter, int, error) {
	rc := cinder.FromContext(r.Context())
	f := db.VolumeFilter{HideTargets: !rc.IsAdmin}
	p, err := pageOf(r)
	if err != nil {
		return f, 0, err
	}
	f.Marker, f.Offset, f.SortKey, f.SortDescending = p.marker, p.offset, p.sortKey, p.descending
	if f.ProjectID, err = listProject(r); err != nil {
		return f, 0, err
	}
	filters, err := s.listFilters(r, "volume", s.filter.of("volume"), volumeAddedFilters)
	if err != nil {
		return f, 0, err
	}
	return f, p.limit, matchVolumes(r, &f, filters)
}

// matchVolumes sets f to select the volumes filters name (their host,
// image metadata and the rest), as the volume list reads them.
func matchVolumes(r *http.Request, f *db.VolumeFilter, filters map[string]string) error {
	f.Host = popFilters(filters, "host")["host"]
	if v, ok := filters["glance_metadata"]; ok {
		delete(filters, "glance_metadata")
		md, ok := pyDict(v)
		f.GlanceMetadata, f.Nothing = md, !ok
	}
	return matchFilters(&f.Match, filters, true, boolFilters, ver(r).atLeast(mvStrictBooleans))
}

// popFilters takes out of filters all_tenants and project_id, which
// listProject read, and the keys apart, which it returns; name becomes
// display_name.
func popFilters(filters map[string]string, apart ...string) map[string]string {
	out := map[string]string{}
	delete(filters, "all_tenants")
	delete(filters, "project_id")
	for _, k := range apart {
		if v, ok := filters[k]; ok {
			out[k] = v
			delete(filters, k)
		}
	}
	if name, ok := filters["name"]; ok {
		delete(filters, "name")
		filters["display_name"] = name
	}
	return out
}

// boolFilters are the filters of the volumes' boolean columns.
var boolFilters = []string{"bootable", "multiattach", "use_quota", "deleted"}

// matchFilters sets m from filters as Cinder's database layer reads them:
// time comparisons on created_at and updated_at (volumes' only: times),
// metadata dictionaries, key~ like filters, the booleans (strictly when
// strict, as check_volume_filters) and exact matches. A filter Cinder
// cannot apply selects nothing.
func matchFilters(m *db.Match, filters map[string]string, times bool, booleans []string, strict bool) error {
	m.Fields, m.Like = map[string]string{}, map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(filters)) {
		v := filters[k]
		switch {
		case times && (k == "created_at" || k == "updated_at"):
			cmps, err := timeComparisons(k, v)
			if err != nil {
				return err
			}
			m.Times = append(m.Times, cmps...)
		case k == "metadata":
			md, ok := pyDict(v)
			m.Metadata, m.Nothing = md, m.Nothing || !ok
		case strings.HasSuffix(k, "~"):
			m.Like[strings.TrimSuffix(k, "~")] = v
		case slices.Contains(booleans, k):
			b, err := boolFilter(k, v, strict)
			if err != nil {
				return err
			}
			m.Fields[k] = strconv.FormatBool(b)
		default:
			m.Fields[k] = v
		}
	}
	return nil
}

// boolFilter reads the value of boolean filter key: strictly (from 3.2)
// one of oslo's boolean strings, before that anything but empty or False
// as Python spells it.
func boolFilter(key, value string, strict bool) (bool, error) {
	if strict {
		b, ok := parseBool(value)
		if !ok {
			return false, cinder.InvalidInput("'%s = %s'", key, value)
		}
		return b, nil
	}
	switch value {
	case "False", "false", "FALSE":
		return false, nil
	}
	return value != "", nil
}

// timeComparisonOps are Cinder's time comparison operators.
var timeComparisonOps = []string{"gt", "gte", "eq", "neq", "lt", "lte"}

// timeComparisons reads a time filter on column, op:time[,op:time…], as
// Cinder's _handle_time_comparison_filters: a later comparison with the
// same operator replaces an earlier one.
func timeComparisons(column, value string) ([]db.TimeFilter, error) {
	byOp := map[string]time.Time{}
	for _, unit := range strings.Split(value, ",") {
		op, at := unit, unit // without a colon, Cinder reads the unit as both
		if i := strings.IndexByte(unit, ':'); i >= 0 {
			op, at = unit[:i], unit[i+1:]
		}
		if !slices.Contains(timeComparisonOps, op) {
			return nil, newFault(http.StatusBadRequest, "Invalid %s operator", op)
		}
		t, ok := parseISOTime(at)
		if !ok {
			return nil, newFault(http.StatusBadRequest, "Invalid %s value", at)
		}
		byOp[op] = t
	}
	var out []db.TimeFilter
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		out = append(out, db.TimeFilter{Column: column, Op: op, Time: byOp[op]})
	}
	return out, nil
}

// isoTime is the ISO 8601 that oslo's parse_isotime (the iso8601 library)
// reads: a year, then optionally month, day, time and zone, in basic or
// extended form. Groups: year, month after a dash, month, day after a
// dash, day, hour, minute, second, fraction, zone.
var isoTime = regexp.MustCompile(`^(\d{4})(?:(?:-(\d{1,2})|(\d{2}))(?:(?:-(\d{1,2})|(\d{2}))` +
	`(?:[ T](\d{2})(?::?(\d{2}))?(?::?(\d{1,2})(?:[.,](\d+))?)?(Z|[-+]\d{2}(?::?\d{2})?)?)?)?)?$`)

// parseISOTime parses s as parse_isotime does and returns it in UTC (a
// time without a zone is UTC); false when s is not such a time or names
// no real one.
func parseISOTime(s string) (time.Time, bool) {
	m := isoTime.FindStringSubmatch(s)
	if m == nil || m[3] != "" && len(s) == 6 { // YYYYMM is not allowed
		return time.Time{}, false
	}
	num := func(def int, groups ...string) int { // the first group present, else def
		for _, g := range groups {
			if g != "" {
				n, _ := strconv.Atoi(g) // digits only
				return n
			}
		}
		return def
	}
	year, month, day := num(0, m[1]), num(1, m[2], m[3]), num(1, m[4], m[5])
	hour, minute, second := num(0, m[6]), num(0, m[7]), num(0, m[8])
	micro := 0
	if frac := m[9]; frac != "" {
		micro, _ = strconv.Atoi((frac + "00000")[:6])
	}
	zone := time.UTC
	if tz := strings.ReplaceAll(m[10], ":", ""); tz != "" && tz != "Z" {
		h, mins := num(0, tz[1:3]), num(0, tz[3:])
		if h > 23 || mins > 59 {
			return time.Time{}, false
		}
		offset := (h*60 + mins) * 60
		if tz[0] == '-' {
			offset = -offset
		}
		zone = time.FixedZone("", offset)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, micro*1000, zone)
	if month < 1 || month > 12 || day != t.Day() || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false // as datetime, refuse what time.Date would normalize
	}
	return t.UTC(), true
}

// pyDict reads a metadata filter: a Python dict literal of strings as
// clients send it ({'k': 'v'}, and JSON), as Cinder's literal_eval reads
// it; false for anything else.
func pyDict(s string) (map[string]string, bool) {
	p := &pyLiteral{s: s}
	if !p.eat('{') {
		return nil, false
	}
	m := map[string]string{}
	for !p.eat('}') {
		k, ok := p.str()
		if !ok || !p.eat(':') {
			return nil, false
		}
		if m[k], ok = p.str(); !ok {
			return nil, false
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return nil, false
			}
			break
		}
	}
	if !p.end() {
		return nil, false
	}
	return m, true
}

// pyLiteral reads a Python literal from s, at i.
type pyLiteral struct {
	s string
	i int
}

func (p *pyLiteral) skipSpace() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

// eat skips spaces and c, reporting whether c came.
func (p *pyLiteral) eat(c byte) bool {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only spaces are left.
func (p *pyLiteral) end() bool {
	p.skipSpace()
	return p.i == len(p.s)
}

// str reads a string literal in single or double quotes, u prefix
// allowed, with Python's escapes.
func (p *pyLiteral) str() (string, bool) {
	p.skipSpace()
	if p.i < len(p.s) && (p.s[p.i] == 'u' || p.s[p.i] == 'U') {
		p.i++
	}
	if p.i >= len(p.s) || p.s[p.i] != '\'' && p.s[p.i] != '"' {
		return "", false
	}
	quote := p.s[p.i]
	var b strings.Builder
	for p.i++; p.i < len(p.s); {
		rest := p.s[p.i:]
		switch {
		case rest[0] == quote:
			p.i++
			return b.String(), true
		case strings.HasPrefix(rest, `\'`) || strings.HasPrefix(rest, `\"`):
			b.WriteByte(rest[1])
			p.i += 2
			continue
		}
		c, _, tail, err := strconv.UnquoteChar(rest, quote)
		if err != nil {
			return "", false
		}
		b.WriteRune(c)
		p.i = len(p.s) - len(tail)
	}
	return "", false
}
