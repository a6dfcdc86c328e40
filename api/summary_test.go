package api

import (
	"net/http"
	"reflect"
	"testing"
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
