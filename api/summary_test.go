package api

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

// TestVolumeSummary: GET /volumes/summary from 3.12, with the metadata
// values from 3.36, of the caller's project or of all for an admin with
// all_tenants.
func TestVolumeSummary(t *testing.T) {
	e := newEnv(t)
	e.createVolume(`{"volume": {"size": 1, "metadata": {"k": "v", "tier": "web"}}}`)
	e.createVolume(`{"volume": {"size": 2, "metadata": {"tier": "db"}}}`)
	e.do(req{method: "POST", path: "/v3/other/volumes", body: `{"volume": {"size": 4, "metadata": {"k": "w"}}}`,
		headers: []string{"X-Auth-Token", "admin:other"}}).expect(t, http.StatusAccepted)

	if msg := e.get("/v3/admin/volumes/summary", "OpenStack-API-Version", "volume 3.11").fault(t, http.StatusNotFound, "itemNotFound"); msg != "The resource could not be found." {
		t.Fatalf("3.11: %q", msg)
	}
	r := e.get("/v3/admin/volumes/summary", "OpenStack-API-Version", "volume 3.12").expect(t, http.StatusOK)
	if string(r.raw) != `{"volume-summary": {"total_count": 2, "total_size": 3}}` {
		t.Fatalf("3.12: %s", r.raw)
	}
	r = e.get("/v3/admin/volumes/summary", "OpenStack-API-Version", "volume 3.36").expect(t, http.StatusOK)
	if string(r.raw) != `{"volume-summary": {"total_count": 2, "total_size": 3, "metadata": {"k": ["v"], "tier": ["db", "web"]}}}` {
		t.Fatalf("3.36: %s", r.raw)
	}
	sum := e.get("/v3/admin/volumes/summary?all_tenants=1").expect(t, http.StatusOK).obj(t, "volume-summary")
	want := map[string]any{"k": []any{"v", "w"}, "tier": []any{"db", "web"}}
	if sum["total_count"] != 3.0 || sum["total_size"] != 7.0 || !reflect.DeepEqual(sum["metadata"], want) {
		t.Fatalf("all tenants: %v", sum)
	}
	e.get("/v3/admin/volumes/summary?all_tenants=maybe").fault(t, http.StatusBadRequest, "badRequest")
}

// TestVolumeSummaryFilters: the summary's count and GiB follow the list's
// filters, as Cinder's get_volume_summary applies them, while the
// metadata stays the project's; a non-admin's filter the list does not
// allow is dropped, not refused.
func TestVolumeSummaryFilters(t *testing.T) {
	e := newEnv(t)
	a := e.createVolume(`{"volume": {"size": 1, "name": "a", "metadata": {"tier": "web"}}}`)
	e.createVolume(`{"volume": {"size": 2, "name": "b", "metadata": {"tier": "db"}}}`)
	e.createVolume(`{"volume": {"size": 4, "name": "c"}}`)
	e.setVolume(a, func(v *cinder.Volume) { v.Status = cinder.StatusError })
	allMetadata := `"metadata": {"tier": ["db", "web"]}`
	for _, c := range []struct{ query, want string }{
		{"", `{"volume-summary": {"total_count": 3, "total_size": 7, ` + allMetadata + `}}`},
		{"?status=error", `{"volume-summary": {"total_count": 1, "total_size": 1, ` + allMetadata + `}}`},
		{"?name=b", `{"volume-summary": {"total_count": 1, "total_size": 2, ` + allMetadata + `}}`},
		{"?metadata=%7B%27tier%27%3A+%27db%27%7D", `{"volume-summary": {"total_count": 1, "total_size": 2, ` + allMetadata + `}}`},
		{"?status=available&name~=c", `{"volume-summary": {"total_count": 1, "total_size": 4, ` + allMetadata + `}}`},
		{"?all_tenants=1&status=deleting", `{"volume-summary": {"total_count": 0, "total_size": 0, ` + allMetadata + `}}`},
	} {
		r := e.get("/v3/admin/volumes/summary"+c.query, "OpenStack-API-Version", "volume 3.36").expect(t, http.StatusOK)
		if string(r.raw) != c.want {
			t.Errorf("%s: %s; want %s", c.query, r.raw, c.want)
		}
	}

	k := newEnv(t, func(e *env) { e.cfg.AuthStrategy = "keystone" })
	user := []string{"X-Auth-Token", "", "X-User-Id", "u", "X-Project-Id", "p", "X-Roles", "member", "OpenStack-API-Version", "volume 3.36"}
	k.post("/v3/p/volumes", `{"volume": {"size": 1, "name": "x"}}`, user...).expect(t, http.StatusAccepted)
	k.post("/v3/p/volumes", `{"volume": {"size": 2, "name": "y"}}`, user...).expect(t, http.StatusAccepted)
	for _, c := range []struct{ query, want string }{
		{"?name=y", `{"volume-summary": {"total_count": 1, "total_size": 2, "metadata": {}}}`},
		{"?host=nowhere", `{"volume-summary": {"total_count": 2, "total_size": 3, "metadata": {}}}`}, // an admin's filter
	} {
		r := k.get("/v3/p/volumes/summary"+c.query, user...).expect(t, http.StatusOK)
		if string(r.raw) != c.want {
			t.Errorf("member, %s: %s; want %s", c.query, r.raw, c.want)
		}
	}
}
