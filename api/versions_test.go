package api

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var requestIDPattern = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestVersionDocuments(t *testing.T) {
	e := newEnv(t)
	host := strings.TrimPrefix(e.srv.URL, "http://")

	root := e.get("/").expect(t, http.StatusMultipleChoices)
	sameKeys(t, "version", root.keys(t, "versions", "0"),
		[]string{"id", "status", "version", "min_version", "updated", "links", "media-types"})
	v := root.obj(t, "versions", "0")
	if v["id"] != "v3.0" || v["version"] != "3.71" || v["min_version"] != "3.0" || v["status"] != "CURRENT" {
		t.Fatalf("version document: %s", root.raw)
	}
	self := root.obj(t, "versions", "0", "links", "1")
	if self["rel"] != "self" || self["href"] != "http://"+host+"/v3/" {
		t.Fatalf("self link %v, want http://%s/v3/", self, host)
	}
	if got := root.header.Get("OpenStack-API-Version"); got != "volume 3.64" {
		t.Fatalf("root echoes %q", got)
	}

	v3 := e.get("/v3/", "X-Forwarded-Proto", "https").expect(t, http.StatusOK)
	if href := v3.obj(t, "versions", "0", "links", "1")["href"]; href != "https://"+host+"/v3/" {
		t.Fatalf("self link behind a TLS proxy: %v", href)
	}

	redirect := e.get("/v3").expect(t, http.StatusFound)
	if loc := redirect.header.Get("Location"); loc != "http://"+host+"/v3/" {
		t.Fatalf("Location %q", loc)
	}
}

func TestMicroversionNegotiation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		header, echo string
		status       int
	}{
		{"", "volume 3.0", http.StatusOK},
		{"volume 3.64", "volume 3.64", http.StatusOK},
		{"volume latest", "volume 3.71", http.StatusOK},
		{"compute 2.1, volume 3.27", "volume 3.27", http.StatusOK},
		{"volume 3.99", "volume 3.99", http.StatusNotAcceptable},
		{"volume 4.0", "volume 4.0", http.StatusNotAcceptable},
		{"volume 2.0", "volume 2.0", http.StatusNotAcceptable},
		{"volume abc", "", http.StatusBadRequest},
		{"volume 3.07", "", http.StatusBadRequest},
		{"volume 3.1 extra", "", http.StatusBadRequest},
	} {
		r := e.get("/v3/admin/volumes", "OpenStack-API-Version", tc.header)
		r.expect(t, tc.status)
		if got := r.header.Get("OpenStack-API-Version"); got != tc.echo {
			t.Errorf("%q: echoes %q, want %q", tc.header, got, tc.echo)
		}
		if tc.echo != "" && r.header.Get("Vary") != "OpenStack-API-Version" {
			t.Errorf("%q: Vary %q", tc.header, r.header.Get("Vary"))
		}
	}
	msg := e.get("/v3/admin/volumes", "OpenStack-API-Version", "volume 3.99").fault(t, http.StatusNotAcceptable, "computeFault")
	if msg != "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71." {
		t.Errorf("406 message %q", msg)
	}
	msg = e.get("/v3/admin/volumes", "OpenStack-API-Version", "volume abc").fault(t, http.StatusBadRequest, "badRequest")
	if msg != "API Version String abc is of invalid format. Must be of format MajorNum.MinorNum." {
		t.Errorf("400 message %q", msg)
	}
}

func TestRequestIDHeaders(t *testing.T) {
	e := newEnv(t)
	a := e.get("/v3/admin/volumes", "X-Openstack-Request-Id", "req-00000000-0000-4000-8000-000000000000").expect(t, http.StatusOK)
	b := e.get("/v3/admin/volumes/nope")
	for _, r := range []*response{a, b} {
		id := r.header.Get("X-Openstack-Request-Id")
		if !requestIDPattern.MatchString(id) {
			t.Fatalf("X-Openstack-Request-Id %q is not req-<uuid4>", id)
		}
		if r.header.Get("X-Compute-Request-Id") != id {
			t.Fatalf("X-Compute-Request-Id %q, want %q", r.header.Get("X-Compute-Request-Id"), id)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	}
	if a.header.Get("X-Openstack-Request-Id") == "req-00000000-0000-4000-8000-000000000000" {
		t.Fatal("a client-sent request id was echoed")
	}
	if a.header.Get("X-Openstack-Request-Id") == b.header.Get("X-Openstack-Request-Id") {
		t.Fatal("two requests share an id")
	}
	if id := e.get("/v3").header.Get("X-Openstack-Request-Id"); !requestIDPattern.MatchString(id) {
		t.Fatalf("redirect has request id %q", id)
	}
}

func TestNoAuth(t *testing.T) {
	e := newEnv(t)
	r := e.get("/v3/admin/volumes", "X-Auth-Token", "", "X-Auth-User", "alice", "X-Auth-Project-Id", "p1")
	r.expect(t, http.StatusNoContent)
	if tok := r.header.Get("X-Auth-Token"); tok != "alice:p1" {
		t.Fatalf("fake token %q", tok)
	}
	if u := r.header.Get("X-Server-Management-Url"); u != e.srv.URL+"/v3/admin/volumes" {
		t.Fatalf("X-Server-Management-Url %q", u)
	}

	msg := e.get("/v3/other/volumes").fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Malformed request url" {
		t.Fatalf("project mismatch message %q", msg)
	}

	// A token without a colon is user and project at once, and admin.
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.post("/v3/p2/volumes", `{"volume": {"size": 1}}`, "X-Auth-Token", "p2").expect(t, http.StatusAccepted)
	if v := e.volume(id); v.ProjectID != "admin" || v.UserID != "admin" {
		t.Fatalf("volume owned by %s/%s", v.UserID, v.ProjectID)
	}
	got := e.get("/v3/p2/volumes/detail", "X-Auth-Token", "p2").expect(t, http.StatusOK)
	vols := got.body["volumes"].([]any)
	if len(vols) != 1 || got.obj(t, "volumes", "0")["os-vol-tenant-attr:tenant_id"] != "p2" {
		t.Fatalf("p2 sees %s", got.raw)
	}
}

func TestKeystoneNonAdmin(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = "keystone" })
	user := []string{"X-Auth-Token", "", "X-User-Id", "u1", "X-Project-Id", "p1", "X-Roles", "member,reader"}
	e.get("/v3/p1/volumes", "X-Auth-Token", "").fault(t, http.StatusUnauthorized, "unauthorized")

	r := e.post("/v3/p1/volumes", `{"volume": {"size": 1}}`, user...).expect(t, http.StatusAccepted)
	id := r.obj(t, "volume")["id"].(string)
	for _, k := range []string{"migration_status", "provider_id", "cluster_name"} {
		if _, ok := r.obj(t, "volume")[k]; ok {
			t.Errorf("non-admin create view has %s", k)
		}
	}
	// The owning project shows to its readers (volume_tenant_attribute);
	// host and migration status to admins only.
	show := e.get("/v3/p1/volumes/"+id, user...).expect(t, http.StatusOK)
	for k, v := range show.obj(t, "volume") {
		if k == "os-vol-tenant-attr:tenant_id" && v != "p1" || k != "os-vol-tenant-attr:tenant_id" && strings.HasPrefix(k, "os-vol-") || k == "migration_status" {
			t.Errorf("non-admin show has %s = %v", k, v)
		}
	}
	if _, ok := show.obj(t, "volume")["os-vol-tenant-attr:tenant_id"]; !ok {
		t.Error("non-admin show lacks os-vol-tenant-attr:tenant_id")
	}
	// Another project's volume does not exist for this user.
	other := []string{"X-Auth-Token", "", "X-User-Id", "u2", "X-Project-Id", "p2", "X-Roles", "member"}
	e.get("/v3/p2/volumes/"+id, other...).fault(t, http.StatusNotFound, "itemNotFound")
	// Admin-only APIs are forbidden.
	msg := e.get("/v3/p1/os-services", user...).fault(t, http.StatusForbidden, "forbidden")
	if msg != "Policy doesn't allow volume_extension:services:index to be performed." {
		t.Fatalf("403 message %q", msg)
	}
	e.post("/v3/p1/types", `{"volume_type": {"name": "x"}}`, user...).fault(t, http.StatusForbidden, "forbidden")
	e.post("/v3/p1/volumes/"+id+"/action", `{"os-reset_status": {"status": "error"}}`, user...).fault(t, http.StatusForbidden, "forbidden")
	// An admin role makes an admin.
	e.get("/v3/p1/os-services", "X-Auth-Token", "", "X-User-Id", "a", "X-Project-Id", "p1", "X-Roles", "admin").expect(t, http.StatusOK)
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	msg := e.get("/v3/admin/frobnicators").fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "The resource could not be found." {
		t.Fatalf("404 message %q", msg)
	}
	e.get("/v3/frobnicators").fault(t, http.StatusNotFound, "itemNotFound")
	e.do(req{method: http.MethodPatch, path: "/v3/admin/volumes"}).fault(t, http.StatusMethodNotAllowed, "badMethod")
	e.do(req{method: http.MethodDelete, path: "/v3/volumes"}).fault(t, http.StatusMethodNotAllowed, "badMethod")
	// Every route also answers without the project id, linking in that form.
	r := e.post("/v3/volumes", `{"volume": {"size": 1}}`).expect(t, http.StatusAccepted)
	id := r.obj(t, "volume")["id"].(string)
	self := r.obj(t, "volume", "links", "0")["href"]
	bookmark := r.obj(t, "volume", "links", "1")["href"]
	if self != e.srv.URL+"/v3/volumes/"+id || bookmark != e.srv.URL+"/volumes/"+id {
		t.Fatalf("project-less links %v %v", self, bookmark)
	}
	for _, path := range []string{"/v3/volumes/" + id, "/v3/volumes/detail", "/v3/types", "/v3/os-services",
		"/v3/scheduler-stats/get_pools", "/v3/os-availability-zone", "/v3/types/default/extra_specs"} {
		e.get(path).expect(t, http.StatusOK)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEnv(t)
	e.sched.panics = true
	msg := e.get("/v3/admin/scheduler-stats/get_pools").fault(t, http.StatusInternalServerError, "computeFault")
	if msg != serverErrorMessage {
		t.Fatalf("500 message %q", msg)
	}
	e.sched.panics = false
	e.get("/v3/admin/scheduler-stats/get_pools").expect(t, http.StatusOK)
}
