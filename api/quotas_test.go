package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cinder-go/cinder/conf"
)

// quotaKeys are the members of a quota set of a cloud with only the
// default volume type, in Cinder's order.
var quotaKeys = []string{"volumes", "per_volume_gigabytes", "snapshots", "gigabytes", "backups", "backup_gigabytes",
	"volumes___DEFAULT__", "gigabytes___DEFAULT__", "snapshots___DEFAULT__", "groups"}

// TestQuotaSets shows, updates and deletes a project's quota set, with
// and without usage, and its defaults, in Cinder's shapes.
func TestQuotaSets(t *testing.T) {
	e := newEnv(t)
	r := e.get("/v3/admin/os-quota-sets/p1").expect(t, http.StatusOK)
	sameKeys(t, "quota_set", r.keys(t, "quota_set"), append(quotaKeys, "id"))
	qs := r.obj(t, "quota_set")
	if qs["id"] != "p1" || qs["volumes"] != -1.0 || qs["gigabytes"] != 1000.0 || qs["per_volume_gigabytes"] != -1.0 ||
		qs["backups"] != 10.0 || qs["volumes___DEFAULT__"] != -1.0 || qs["groups"] != 10.0 {
		t.Fatalf("quota set %s", r.raw)
	}

	e.createVolume(`{"volume": {"size": 3}}`)
	r = e.get("/v3/admin/os-quota-sets/admin?usage=True").expect(t, http.StatusOK)
	sameKeys(t, "volumes", r.keys(t, "quota_set", "volumes"), []string{"limit", "in_use", "reserved"})
	for res, want := range map[string][3]float64{"volumes": {-1, 1, 0}, "gigabytes": {1000, 3, 0}, "gigabytes___DEFAULT__": {-1, 3, 0},
		"per_volume_gigabytes": {-1, 0, 0}, "snapshots": {-1, 0, 0}} {
		u := r.obj(t, "quota_set", res)
		if u["limit"] != want[0] || u["in_use"] != want[1] || u["reserved"] != want[2] {
			t.Errorf("usage of %s: %v, want limit, in_use, reserved %v", res, u, want)
		}
	}
	e.get("/v3/admin/os-quota-sets/admin?usage=maybe").fault(t, http.StatusBadRequest, "badRequest")

	r = e.put("/v3/admin/os-quota-sets/p1", `{"quota_set": {"volumes": 5, "gigabytes": "20", "tenant_id": "p1", "volumes___DEFAULT__": -1}}`).
		expect(t, http.StatusOK)
	sameKeys(t, "updated quota_set", r.keys(t, "quota_set"), quotaKeys)
	if qs := r.obj(t, "quota_set"); qs["volumes"] != 5.0 || qs["gigabytes"] != 20.0 || qs["snapshots"] != -1.0 {
		t.Fatalf("updated quota set %s", r.raw)
	}
	if qs := e.get("/v3/admin/os-quota-sets/p1").obj(t, "quota_set"); qs["volumes"] != 5.0 {
		t.Fatalf("quota set after update %v", qs)
	}
	r = e.get("/v3/admin/os-quota-sets/p1/defaults").expect(t, http.StatusOK)
	sameKeys(t, "defaults", r.keys(t, "quota_set"), append(quotaKeys, "id"))
	if qs := r.obj(t, "quota_set"); qs["volumes"] != -1.0 || qs["gigabytes"] != 1000.0 {
		t.Fatalf("defaults %s", r.raw)
	}
	if r := e.del("/v3/admin/os-quota-sets/p1").expect(t, http.StatusOK); len(r.raw) != 0 {
		t.Fatalf("delete answered %s", r.raw)
	}
	if qs := e.get("/v3/admin/os-quota-sets/p1").obj(t, "quota_set"); qs["volumes"] != -1.0 || qs["gigabytes"] != 1000.0 {
		t.Fatalf("quota set after delete %v", qs)
	}

	// A limit the project has set may not go below its usage.
	e.put("/v3/admin/os-quota-sets/admin", `{"quota_set": {"gigabytes": 2}}`).expect(t, http.StatusOK)
	msg := e.put("/v3/admin/os-quota-sets/admin", `{"quota_set": {"gigabytes": 2}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Quota gigabytes limit must be equal or greater than existing resources. Current usage is 3 and the requested limit is 2." {
		t.Fatalf("message %q", msg)
	}
}

// TestQuotaOverLimit: a create past the volumes quota is Cinder's 413
// overLimit with its exception's class and message.
func TestQuotaOverLimit(t *testing.T) {
	e := newEnv(t)
	e.put("/v3/admin/os-quota-sets/admin", `{"quota_set": {"volumes": 1, "per_volume_gigabytes": 10}}`).expect(t, http.StatusOK)
	e.createVolume(`{"volume": {"size": 1}}`)
	r := e.post("/v3/admin/volumes", `{"volume": {"size": 1}}`)
	if msg := r.fault(t, http.StatusRequestEntityTooLarge, "overLimit"); msg != "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'." {
		t.Fatalf("message %q", msg)
	}
	if r.obj(t, "overLimit")["retryAfter"] != "0" {
		t.Fatalf("no retryAfter: %s", r.raw)
	}
	e.put("/v3/admin/os-quota-sets/admin", `{"quota_set": {"volumes": 5}}`).expect(t, http.StatusOK)
	msg := e.post("/v3/admin/volumes", `{"volume": {"size": 11}}`).fault(t, http.StatusRequestEntityTooLarge, "overLimit")
	if msg != "VolumeSizeExceedsLimit: Requested volume size 11G is larger than maximum allowed limit 10G." {
		t.Fatalf("message %q", msg)
	}
}

// TestQuotaSetBadInput answers each malformed quota set with Cinder's 400.
func TestQuotaSetBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ body, msg string }{
		{`{}`, "'quota_set' is a required property"},
		{`{"quota_set": 5}`, "Invalid input for field/attribute quota_set. Value: 5. 5 is not of type 'object'"},
		{`{"quota_set": {}}`, "Invalid input for field/attribute quota_set. Value: {}. {} does not have enough properties"},
		{`{"quota_set": {"volumes": -2}}`, "volumes must be >= -1"},
		{`{"quota_set": {"volumes": 2147483648}}`, "volumes must be <= 2147483647"},
		{`{"quota_set": {"volumes": 1.5}}`, "volumes must be an integer"},
		{`{"quota_set": {"volumes": true}}`, "volumes must be an integer"},
		{`{"quota_set": {"volumes": null}}`, "volumes must be an integer"},
		{`{"quota_set": {"volumes": "12a"}}`, "volumes must be an integer"},
		{`{"quota_set": {"foo": 1, "volumes": "x"}}`, "volumes must be an integer"},
		{`{"quota_set": {"foo": 1, "bar": 2, "volumes": 1}}`, "Invalid input received: Bad key(s) in quota set: foo, bar"},
		{`{"quota_set": {"volumes": 1}, "x": 1}`, "Additional properties are not allowed ('x' was unexpected)"},
	} {
		if msg := e.put("/v3/admin/os-quota-sets/p1", tc.body).fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.body, msg, tc.msg)
		}
	}
	long := strings.Repeat("p", 256)
	if msg := e.put("/v3/admin/os-quota-sets/"+long, `{"quota_set": {"volumes": 1}}`).fault(t, http.StatusBadRequest, "badRequest"); msg != "Invalid input received: quota_set_name has 256 characters, more than 255." {
		t.Errorf("long project: %q", msg)
	}
	for _, ok := range []string{`{"quota_set": {"volumes": " 7 "}}`, `{"quota_set": {"volumes": "+1_0"}}`, `{"quota_set": {"id": "x"}}`} {
		e.put("/v3/admin/os-quota-sets/p1", ok).expect(t, http.StatusOK)
	}
	if qs := e.get("/v3/admin/os-quota-sets/p1").obj(t, "quota_set"); qs["volumes"] != 10.0 {
		t.Fatalf("volumes %v after \"+1_0\"", qs["volumes"])
	}
}

// TestQuotaClasses shows and updates quota classes: the default class's
// limits become every project's defaults.
func TestQuotaClasses(t *testing.T) {
	e := newEnv(t)
	r := e.get("/v3/admin/os-quota-class-sets/default").expect(t, http.StatusOK)
	sameKeys(t, "quota_class_set", r.keys(t, "quota_class_set"), append(quotaKeys, "id"))
	if qc := r.obj(t, "quota_class_set"); qc["id"] != "default" || qc["gigabytes"] != 1000.0 {
		t.Fatalf("default class %s", r.raw)
	}
	r = e.put("/v3/admin/os-quota-class-sets/default", `{"quota_class_set": {"volumes": "7", "snapshots_gold": 3}}`)
	r.fault(t, http.StatusBadRequest, "badRequest") // no type gold yet
	e.post("/v3/admin/types", `{"volume_type": {"name": "gold"}}`).expect(t, http.StatusOK)
	r = e.put("/v3/admin/os-quota-class-sets/default", `{"quota_class_set": {"volumes": "7", "snapshots_gold": 3}}`).expect(t, http.StatusOK)
	if qc := r.obj(t, "quota_class_set"); qc["volumes"] != 7.0 || qc["snapshots_gold"] != 3.0 || qc["id"] != nil {
		t.Fatalf("updated class %s", r.raw)
	}
	for _, path := range []string{"/v3/admin/os-quota-sets/p9/defaults", "/v3/admin/os-quota-sets/p9"} {
		if qs := e.get(path).obj(t, "quota_set"); qs["volumes"] != 7.0 || qs["snapshots_gold"] != 3.0 {
			t.Fatalf("%s after the default class changed: %v", path, qs)
		}
	}
	if qc := e.get("/v3/admin/os-quota-class-sets/other").obj(t, "quota_class_set"); qc["volumes"] != 7.0 || qc["id"] != "other" {
		t.Fatalf("another class %v", qc)
	}
	for _, tc := range []struct{ body, msg string }{
		{`{}`, "'quota_class_set' is a required property"},
		{`{"quota_class_set": {"foo": "x", "volumes": -5}}`, "Invalid input received: Bad key(s) in quota class set: foo"},
		{`{"quota_class_set": {"volumes": "-1"}}`, "Invalid input for field/attribute volumes. Value: -1. '-1' does not match '^[0-9]*$'"},
		{`{"quota_class_set": {"volumes": -2}}`, "Invalid input for field/attribute volumes. Value: -2. -2 is less than the minimum of -1"},
		{`{"quota_class_set": {"volumes": 1.5}}`, "Invalid input for field/attribute volumes. Value: 1.5. 1.5 is not of type 'integer', 'string'"},
		{`{"quota_class_set": {"volumes": true}}`, "Invalid input for field/attribute volumes. Value: True. True is not of type 'integer', 'string'"},
		{`{"quota_class_set": {"volumes": ""}}`, "Invalid input for field/attribute volumes. Value: . '' is too short"},
		{`{"quota_class_set": {"volumes": "99999999999"}}`, "Invalid input for field/attribute volumes. Value: 99999999999. 99999999999 is greater than the maximum of 2147483647"},
		{`{"quota_class_set": {}, "type": "object"}`, "Additional properties are not allowed ('type' was unexpected)"},
	} {
		if msg := e.put("/v3/admin/os-quota-class-sets/default", tc.body).fault(t, http.StatusBadRequest, "badRequest"); msg != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.body, msg, tc.msg)
		}
	}
}

// TestLimits answers /limits with the project's absolute limits and, for
// whoever may see them, what it uses; an admin names another project from
// 3.39 on.
func TestLimits(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 2}}`}).expect(t, http.StatusAccepted)
	e.as(adminP, req{method: "PUT", path: "/v3/{p}/os-quota-sets/p2", body: `{"quota_set": {"volumes": 3}}`}).expect(t, http.StatusOK)
	r := e.as(readerP, req{method: "GET", path: "/v3/{p}/limits"}).expect(t, http.StatusOK)
	sameKeys(t, "limits", r.keys(t, "limits"), []string{"rate", "absolute"})
	sameKeys(t, "absolute", r.keys(t, "limits", "absolute"), []string{"maxTotalVolumes", "maxTotalSnapshots",
		"maxTotalVolumeGigabytes", "maxTotalBackups", "maxTotalBackupGigabytes", "totalVolumesUsed", "totalGigabytesUsed",
		"totalSnapshotsUsed", "totalBackupsUsed", "totalBackupGigabytesUsed"})
	if abs := r.obj(t, "limits", "absolute"); abs["totalVolumesUsed"] != 1.0 || abs["totalGigabytesUsed"] != 2.0 ||
		abs["maxTotalVolumeGigabytes"] != 1000.0 || abs["maxTotalVolumes"] != -1.0 {
		t.Fatalf("limits %s", r.raw)
	}
	if rate, _ := r.body["limits"].(map[string]any)["rate"].([]any); rate == nil || len(rate) != 0 {
		t.Fatalf("rate %s", r.raw)
	}
	abs := e.as(nobodyP, req{method: "GET", path: "/v3/{p}/limits"}).expect(t, http.StatusOK).obj(t, "limits", "absolute")
	if _, ok := abs["totalVolumesUsed"]; ok || len(abs) != 5 {
		t.Fatalf("a user with no role sees %v", abs)
	}
	for _, tc := range []struct {
		p       persona
		version string
		want    float64
	}{{adminP, "volume 3.39", 3}, {adminP, "volume 3.38", -1}, {memberP, "volume 3.39", -1}} {
		abs := e.as(tc.p, req{method: "GET", path: "/v3/{p}/limits?project_id=p2", headers: []string{"OpenStack-API-Version", tc.version}}).
			expect(t, http.StatusOK).obj(t, "limits", "absolute")
		if abs["maxTotalVolumes"] != tc.want {
			t.Errorf("%s at %s: maxTotalVolumes %v, want %v", tc.p.name, tc.version, abs["maxTotalVolumes"], tc.want)
		}
	}
}
