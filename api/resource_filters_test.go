package api

import (
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// listedIDs are the ids of the items of a list answered under key, sorted.
func (r *response) listedIDs(t *testing.T, key string) []string {
	t.Helper()
	items, ok := r.body[key].([]any)
	if !ok {
		t.Fatalf("no %s in %s", key, r.raw)
	}
	out := []string{}
	for _, v := range items {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	slices.Sort(out)
	return out
}

// TestSnapshotAndBackupListFilters: snapshot and backup lists filter as
// Cinder's: a non-admin by resource_filters.json's snapshot and backup
// entries from 3.31 (a 400 naming the others), dropped before; an admin
// on any column, like filters from 3.34, metadata dictionaries, the
// snapshot's volume host and zone; no time comparisons (Cinder's are
// volumes' only).
func TestSnapshotAndBackupListFilters(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	ctx := t.Context()
	vol := func(zone, host string) string {
		id := e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).
			expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
		e.setVolume(id, func(v *cinder.Volume) { v.AvailabilityZone, v.Host = zone, host })
		return id
	}
	va, vb := vol("nova", "hostA@fake1#fake"), vol("other", "hostB@fake1#fake")
	snap := func(volID, name, desc string, md map[string]string) string {
		s := &cinder.Snapshot{VolumeID: volID, ProjectID: "p1", Status: cinder.SnapshotAvailable, VolumeSize: 1,
			DisplayName: name, DisplayDescription: desc, Metadata: md}
		if err := e.store.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	s1 := snap(va, "web-1", "front", map[string]string{"tier": "web"})
	s2 := snap(vb, "web-2", "", nil)
	s3 := snap(va, "db", "", map[string]string{"tier": "db"})
	backup := func(volID, name string, md map[string]string) string {
		b := &cinder.Backup{VolumeID: volID, ProjectID: "p1", Status: cinder.BackupAvailable, Size: 1, DisplayName: name, Metadata: md}
		if err := e.store.CreateBackup(ctx, b); err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	b1, b2 := backup(va, "web-1", map[string]string{"k": "v"}), backup(vb, "db", nil)
	md := func(s string) string { return "metadata=" + url.QueryEscape(s) }

	for _, tc := range []struct {
		who                  persona
		list, query, version string
		want                 []string
	}{
		{memberP, "snapshots", "name=db", "3.64", []string{s3}},
		{memberP, "snapshots", "volume_id=" + va + "&status=available", "3.64", sorted(s1, s3)},
		{memberP, "snapshots", md("{'tier': 'web'}"), "3.64", []string{s1}},
		{memberP, "snapshots", "availability_zone=other", "3.64", []string{s2}},
		{memberP, "snapshots", "all_tenants=1&name=web-2", "3.64", []string{s2}},
		{memberP, "snapshots", md("{'tier': 'web'}"), "3.21", sorted(s1, s2, s3)}, // metadata from 3.22
		{memberP, "snapshots", "colour=red&availability_zone=other", "3.30", sorted(s1, s2, s3)},
		{memberP, "snapshots/detail", md("{'tier': 'db'}"), "3.22", []string{s3}},
		{memberP, "backups", "name=db", "3.64", []string{b2}},
		{memberP, "backups", "volume_id=" + va, "3.64", []string{b1}},
		{memberP, "backups", md("{'k': 'v'}"), "3.30", sorted(b1, b2)}, // dropped before 3.31
		{adminP, "snapshots", "name~=web", "3.34", sorted(s1, s2)},
		{adminP, "snapshots/detail", "description~=ron", "3.64", []string{s1}},
		{adminP, "snapshots", md("{'tier': 'db'}"), "3.64", []string{s3}},
		{adminP, "snapshots", md("tier"), "3.64", []string{}}, // no dictionary: none, as Cinder
		{adminP, "snapshots", "host=hostA", "3.64", sorted(s1, s3)},
		{adminP, "snapshots", "display_name=web-2&volume_size=1", "3.64", []string{s2}},
		{adminP, "snapshots", "size=1", "3.64", []string{}},                   // snapshots have no size column
		{adminP, "snapshots", "created_at=gt:2000-01-01", "3.64", []string{}}, // an exact match, as Cinder's
		{adminP, "backups", "name~=web", "3.34", []string{b1}},
		{adminP, "backups", md("{'k': 'v'}"), "3.64", []string{b1}},
		{adminP, "backups", "size=1&status=available", "3.64", sorted(b1, b2)},
		{adminP, "backups", "colour=red", "3.64", []string{}},
	} {
		r := e.as(tc.who, req{method: "GET", path: "/v3/{p}/" + tc.list + "?" + tc.query, headers: []string{"OpenStack-API-Version", "volume " + tc.version}})
		key := strings.TrimSuffix(tc.list, "/detail")
		if got := r.expect(t, http.StatusOK).listedIDs(t, key); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s?%s at %s: %v, want %v", tc.who.name, tc.list, tc.query, tc.version, got, tc.want)
		}
	}
	r := e.as(adminP, req{method: "GET", path: "/v3/{p}/snapshots?name~=web&with_count=true"}).expect(t, http.StatusOK)
	if r.body["count"] != 2.0 {
		t.Errorf("count of snapshots name~=web: %v", r.body["count"])
	}
	for _, tc := range []struct{ list, query, msg string }{
		{"snapshots", "created_at=gt:2000-01-01", "Invalid filters created_at are found in query options."},
		{"snapshots", "name~=web", "Invalid filters name~ are found in query options."},
		{"snapshots", "host=hostA&size=1", "Invalid filters host,size are found in query options."},
		{"backups", md("{'k': 'v'}"), "Invalid filters metadata are found in query options."},
		{"backups", "name=x&availability_zone=nova", "Invalid filters availability_zone are found in query options."},
	} {
		if msg := e.as(memberP, req{method: "GET", path: "/v3/{p}/" + tc.list + "?" + tc.query}).fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s?%s: %q, want %q", tc.list, tc.query, msg, tc.msg)
		}
	}
	if msg := e.as(adminP, req{method: "GET", path: "/v3/{p}/snapshots?use_quota=maybe"}).fault(t, http.StatusBadRequest, "badRequest"); msg != "Invalid input received: 'use_quota = maybe'" {
		t.Errorf("use_quota=maybe: %q", msg)
	}
}
