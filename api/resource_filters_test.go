package api

import (
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
)

// ids are the ids of the volumes a list answered.
func (r *response) ids(t *testing.T) []string {
	t.Helper()
	items, ok := r.body["volumes"].([]any)
	if !ok {
		t.Fatalf("no volumes in %s", r.raw)
	}
	var out []string
	for _, v := range items {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	slices.Sort(out)
	return out
}

// sorted returns ids sorted.
func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// TestResourceFilters: GET /resource_filters (3.33) lists Cinder's
// resource_filters.json, or the resource_query_filters_file's.
func TestResourceFilters(t *testing.T) {
	e := newEnv(t)
	e.get("/v3/admin/resource_filters", "OpenStack-API-Version", "volume 3.32").fault(t, http.StatusNotFound, "itemNotFound")
	all := e.get("/v3/admin/resource_filters").expect(t, http.StatusOK).body["resource_filters"].([]any)
	if len(all) != 9 || all[0].(map[string]any)["resource"] != "volume" {
		t.Fatalf("all: %v", all)
	}
	r := e.get("/v3/admin/resource_filters?resource=snapshot").expect(t, http.StatusOK)
	if string(r.raw) != `{"resource_filters": [{"resource": "snapshot", "filters": ["name", "status", "volume_id", "metadata", "availability_zone"]}]}` {
		t.Fatalf("snapshot: %s", r.raw)
	}
	if got := e.get("/v3/admin/resource_filters?resource=nope").body["resource_filters"].([]any); len(got) != 0 {
		t.Fatalf("unknown resource: %v", got)
	}

	file := filepath.Join(t.TempDir(), "resource_filters.json")
	if err := os.WriteFile(file, []byte(`{"volume": ["name~", "size"], "backup": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, func(e *env) { e.cfg.ResourceQueryFiltersFile = file; e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	if r := e.get("/v3/admin/resource_filters").expect(t, http.StatusOK); string(r.raw) != `{"resource_filters": [{"resource": "volume", "filters": ["name~", "size"]}, {"resource": "backup", "filters": []}]}` {
		t.Fatalf("from %s: %s", file, r.raw)
	}
	web := e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1, "name": "web-1"}}`}).
		expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 2, "name": "db"}}`}).expect(t, http.StatusAccepted)
	// name~ allows name and name~ alike; status is not allowed here.
	for _, q := range []string{"name~=web", "name=web-1", "size=1"} {
		if got := e.as(memberP, req{method: "GET", path: "/v3/{p}/volumes?" + q}).expect(t, http.StatusOK).ids(t); !slices.Equal(got, []string{web}) {
			t.Errorf("%s: %v", q, got)
		}
	}
	e.as(memberP, req{method: "GET", path: "/v3/{p}/volumes?status=available"}).fault(t, http.StatusBadRequest, "badRequest")
	e.as(memberP, req{method: "GET", path: "/v3/{p}/backups?name=b"}).fault(t, http.StatusBadRequest, "badRequest")

	// A file that cannot be read allows no filter, as Cinder.
	e = newEnv(t, func(e *env) {
		e.cfg.ResourceQueryFiltersFile = filepath.Join(t.TempDir(), "none.json")
		e.cfg.AuthStrategy = conf.AuthNoAuthRoles
	})
	if got := e.get("/v3/admin/resource_filters").body["resource_filters"].([]any); len(got) != 0 {
		t.Fatalf("no file: %v", got)
	}
	e.as(memberP, req{method: "GET", path: "/v3/{p}/volumes?name=x"}).fault(t, http.StatusBadRequest, "badRequest")
	e.as(memberP, req{method: "GET", path: "/v3/{p}/volumes?all_tenants=1"}).expect(t, http.StatusOK)
}

// TestListFiltersOfNonAdmins: from 3.31 a non-admin's filters are those
// of the resource_query_filters_file (all_tenants ignored), a 400 naming
// the others; before 3.31 the others are dropped.
func TestListFiltersOfNonAdmins(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	create := func(body string) string {
		return e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: body}).expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	}
	a, b := create(`{"volume": {"size": 1, "name": "web-1", "metadata": {"tier": "web"}}}`), create(`{"volume": {"size": 2, "name": "db"}}`)
	list := func(query, version string) *response {
		return e.as(memberP, req{method: "GET", path: "/v3/{p}/volumes/detail?" + query, headers: []string{"OpenStack-API-Version", "volume " + version}})
	}
	for _, tc := range []struct {
		query, version string
		want           []string
	}{
		{"name=web-1", "3.64", []string{a}},
		{"size=2", "3.64", []string{b}},
		{"metadata=" + url.QueryEscape("{'tier': 'web'}"), "3.64", []string{a}},
		{"all_tenants=1&status=available", "3.64", sorted(a, b)},
		{"host=hostA&colour=red", "3.30", sorted(a, b)}, // dropped before 3.31
		{"created_at=gt:2999-01-01", "3.59", nil},       // general filtering applies it from 3.31, as Cinder
		{"created_at=gt:2999-01-01", "3.30", sorted(a, b)},
	} {
		if got := list(tc.query, tc.version).expect(t, http.StatusOK).ids(t); !slices.Equal(got, tc.want) {
			t.Errorf("%s at %s: %v, want %v", tc.query, tc.version, got, tc.want)
		}
	}
	for _, tc := range []struct{ query, version, msg string }{
		{"host=hostA", "3.31", "Invalid filters host are found in query options."},
		{"zeta=1&alpha=2", "3.64", "Invalid filters alpha,zeta are found in query options."},
		{"name~=web", "3.64", "Invalid filters name~ are found in query options."},
		{url.QueryEscape("nämé") + "=x", "3.31", "Filter keys can only contain ASCII characters."},
		{"with_count=true", "3.44", "Invalid filters with_count are found in query options."},
	} {
		if msg := list(tc.query, tc.version).fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s at %s: %q, want %q", tc.query, tc.version, msg, tc.msg)
		}
	}
	// Snapshots' filters are the file's too.
	e.as(memberP, req{method: "GET", path: "/v3/{p}/snapshots?volume_id=" + a}).expect(t, http.StatusOK)
	e.as(memberP, req{method: "GET", path: "/v3/{p}/snapshots?size=1"}).fault(t, http.StatusBadRequest, "badRequest")
}

// TestListFiltersOfAdmins: an admin filters on any column (one volumes
// lack selects none), with like filters from 3.34 and time comparisons,
// and Cinder's faults for a bad operator, time or boolean.
func TestListFiltersOfAdmins(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	a := e.createVolume(`{"volume": {"size": 1, "name": "web-1", "description": "front"}}`)
	b := e.createVolume(`{"volume": {"size": 2, "name": "web-2"}}`)
	c := e.createVolume(`{"volume": {"size": 2, "name": "db"}}`)
	for i, id := range []string{a, b, c} {
		e.setVolume(id, func(v *cinder.Volume) { v.CreatedAt = t0.Add(time.Duration(i) * time.Hour) })
	}
	e.setVolume(a, func(v *cinder.Volume) { v.Bootable, v.GlanceMetadata = true, map[string]string{"os": "linux"} })
	list := func(query, version string) *response {
		return e.get("/v3/admin/volumes?"+query, "OpenStack-API-Version", "volume "+version)
	}
	for _, tc := range []struct {
		query, version string
		want           []string
	}{
		{"name~=web", "3.34", sorted(a, b)},
		{"description~=ron", "3.64", []string{a}},
		{"size=2&name=db", "3.64", []string{c}},
		{"display_name=db", "3.64", []string{c}},
		{"availability_zone=nova", "3.64", sorted(a, b, c)},
		{"group_id=" + a, "3.64", nil}, // volumes have no group
		{"colour=red", "3.64", nil},    // no such column: none, as Cinder
		{"created_at=gt:2024-01-02T03:04:05", "3.60", sorted(b, c)},
		{"created_at=" + url.QueryEscape("lte:2024-01-02T04:04:05+00:00"), "3.60", sorted(a, b)},
		{"created_at=" + url.QueryEscape("gt:2024-01-02T05:00:00,lt:2024-01-02T03:30:00"), "3.60", sorted(a, c)}, // either
		{"created_at=eq:20240102T030405Z", "3.60", []string{a}},
		{"created_at=gt:2024", "3.30", sorted(a, b, c)}, // dropped before 3.60, outside general filtering
		{"updated_at=gt:2000-01-01", "3.60", sorted(a, b, c)},
		{"bootable=true", "3.64", []string{a}},
		{"bootable=0", "3.64", sorted(b, c)},
		{"bootable=maybe", "3.1", []string{a}}, // before 3.2 anything but False is true
		{"glance_metadata=" + url.QueryEscape(`{"os": "linux"}`), "3.4", []string{a}},
		{"glance_metadata=" + url.QueryEscape(`{"os": "linux"}`), "3.3", sorted(a, b, c)},
		{"metadata=" + url.QueryEscape("{'k': it's}"), "3.64", nil}, // no dictionary: none, as Cinder
		{"with_count=true", "3.44", nil},                            // a filter on no column before 3.45
	} {
		if got := list(tc.query, tc.version).expect(t, http.StatusOK).ids(t); !slices.Equal(got, tc.want) {
			t.Errorf("%s at %s: %v, want %v", tc.query, tc.version, got, tc.want)
		}
	}
	if r := e.get("/v3/admin/volumes?name~=web&with_count=true").expect(t, http.StatusOK); r.body["count"] != 2.0 {
		t.Errorf("count of name~=web: %v", r.body["count"])
	}
	for _, tc := range []struct{ query, msg string }{
		{"created_at=after:2024-01-01", "Invalid after operator"},
		{"created_at=2024-01-01", "Invalid 2024-01-01 operator"},
		{"updated_at=gt:yesterday", "Invalid yesterday value"},
		{"created_at=gt:2024-02-30", "Invalid 2024-02-30 value"},
		{"bootable=maybe", "Invalid input received: 'bootable = maybe'"},
	} {
		if msg := list(tc.query, "3.64").fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s: %q, want %q", tc.query, msg, tc.msg)
		}
	}
}

func TestParseISOTime(t *testing.T) {
	for in, want := range map[string]string{ // as oslo's parse_isotime then normalize_time
		"2024-01-02":                  "2024-01-02T00:00:00Z",
		"2024-01-02T03:04":            "2024-01-02T03:04:00Z",
		"2024-01-02 03:04:05.123456":  "2024-01-02T03:04:05.123456Z",
		"2024-01-02T03:04:05+02:00":   "2024-01-02T01:04:05Z",
		"2024-01-02T03:04:05-0130":    "2024-01-02T04:34:05Z",
		"20240102T030405":             "2024-01-02T03:04:05Z",
		"2024":                        "2024-01-01T00:00:00Z",
		"2024-01":                     "2024-01-01T00:00:00Z",
		"2024-01-02T03":               "2024-01-02T03:00:00Z",
		"2024-01-02T03:04:05.1234567": "2024-01-02T03:04:05.123456Z",
		"2024-01-02T03:04:05,5":       "2024-01-02T03:04:05.5Z",
		"x":                           "",
		"2024-13-01":                  "",
		"2024-00-10":                  "",
		"202401":                      "",
		"2024-01-02T24:00":            "",
		"2024-01-02T03:04:05+25:00":   "",
		"2024-01-02T03:04:05Zjunk":    "",
	} {
		got, ok := parseISOTime(in)
		if s := got.Format(time.RFC3339Nano); ok != (want != "") || ok && s != want {
			t.Errorf("parseISOTime(%q) = %s, %v; want %q", in, s, ok, want)
		}
	}
}

func TestPyDict(t *testing.T) {
	for in, want := range map[string]map[string]string{
		`{'k': 'v'}`:                  {"k": "v"},
		`{"k": "v", "a": "b"}`:        {"k": "v", "a": "b"},
		`{u'k': u'v',}`:               {"k": "v"},
		`{'k': "it's", 'q': '\'x\''}`: {"k": "it's", "q": "'x'"},
		`{'é': '\xe9\u00e9\n'}`:       {"é": "éé\n"},
		` { } `:                       {},
		`{'k': 1}`:                    nil,
		`['k']`:                       nil,
		`{'k': 'v'`:                   nil,
		`{'k' 'v'}`:                   nil,
		`{'k': 'v'} x`:                nil,
		``:                            nil,
	} {
		got, ok := pyDict(in)
		if ok != (want != nil) || !maps.Equal(got, want) {
			t.Errorf("pyDict(%s) = %v, %v; want %v", in, got, ok, want)
		}
	}
}
