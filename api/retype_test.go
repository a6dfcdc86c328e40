package api

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/cinder-go/cinder"
)

// retypingScheduler is a fakeScheduler that can also retype: it records
// each retype cast, with the volume as sent.
type retypingScheduler struct {
	*fakeScheduler
	err error

	mu      sync.Mutex
	specs   []cinder.RequestSpec
	volumes []cinder.Volume
}

func (rs *retypingScheduler) Retype(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.specs = append(rs.specs, spec)
	rs.volumes = append(rs.volumes, *v)
	return rs.err
}

// casts returns the retypes cast so far.
func (rs *retypingScheduler) casts() ([]cinder.RequestSpec, []cinder.Volume) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]cinder.RequestSpec(nil), rs.specs...), append([]cinder.Volume(nil), rs.volumes...)
}

// newRetypeEnv is an API whose scheduler can retype, with the types gold
// and multi (multiattach), whose ids it returns.
func newRetypeEnv(t *testing.T, opts ...func(e *env)) (e *env, rs *retypingScheduler, gold, multi string) {
	t.Helper()
	e = newEnv(t, append(opts, func(e *env) {
		rs = &retypingScheduler{fakeScheduler: e.sched}
		e.schedOverride = rs
	})...)
	ids := map[string]string{}
	for name, specs := range map[string]map[string]string{"gold": {"volume_backend_name": "fake1"}, "multi": {"multiattach": "<is> True"}} {
		vt := &cinder.VolumeType{Name: name, IsPublic: true, ExtraSpecs: specs}
		if err := e.store.CreateVolumeType(context.Background(), vt); err != nil {
			t.Fatal(err)
		}
		ids[name] = vt.ID
	}
	return e, rs, ids["gold"], ids["multi"]
}

const retypeRefused = "Invalid volume: Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change."

func TestRetype(t *testing.T) {
	e, rs, gold, _ := newRetypeEnv(t)
	byName := e.createVolume(`{"volume": {"size": 2}}`)
	r := e.post("/v3/admin/volumes/"+byName+"/action", `{"os-retype": {"new_type": "gold", "migration_policy": "on-demand"}}`).
		expect(t, http.StatusAccepted)
	if len(r.raw) != 0 {
		t.Fatalf("retype answered %s", r.raw)
	}
	if v := e.volume(byName); v.Status != cinder.StatusRetyping || v.PreviousStatus != cinder.StatusAvailable {
		t.Fatalf("after retype: status %s, previous %s", v.Status, v.PreviousStatus)
	}

	// By id, without a policy, from in-use, through the project-less URL.
	byID := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(byID, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	e.post("/v3/volumes/"+byID+"/action", `{"os-retype": {"new_type": "`+gold+`"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(byID); v.Status != cinder.StatusRetyping || v.PreviousStatus != cinder.StatusInUse {
		t.Fatalf("after retype by id: status %s, previous %s", v.Status, v.PreviousStatus)
	}

	specs, vols := rs.casts()
	if len(specs) != 2 {
		t.Fatalf("%d retypes cast, want 2", len(specs))
	}
	for i, want := range []struct {
		id, policy string
		size       int
	}{{byName, "on-demand", 2}, {byID, "never", 1}} {
		spec := specs[i]
		if spec.VolumeID != want.id || spec.Size != want.size || spec.AvailabilityZone != "nova" || spec.MigrationPolicy != want.policy {
			t.Errorf("retype %d: spec %+v, want volume %s size %d zone nova policy %s", i, spec, want.id, want.size, want.policy)
		}
		if spec.VolumeType == nil || spec.VolumeType.ID != gold || spec.VolumeType.ExtraSpecs["volume_backend_name"] != "fake1" {
			t.Errorf("retype %d: volume type %+v, want gold %s with its extra specs", i, spec.VolumeType, gold)
		}
		if vols[i].ID != want.id || vols[i].Status != cinder.StatusRetyping {
			t.Errorf("retype %d: sent volume %s in status %s", i, vols[i].ID, vols[i].Status)
		}
	}
}

func TestRetypeByOwner(t *testing.T) {
	e, rs, _, _ := newRetypeEnv(t, func(e *env) { e.cfg.AuthStrategy = "keystone" })
	owner := []string{"X-Auth-Token", "", "X-User-Id", "u1", "X-Project-Id", "p1", "X-Roles", "member"}
	id := e.post("/v3/p1/volumes", `{"volume": {"size": 1}}`, owner...).expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	body := `{"os-retype": {"new_type": "gold"}}`
	other := []string{"X-Auth-Token", "", "X-User-Id", "u2", "X-Project-Id", "p2", "X-Roles", "member"}
	e.post("/v3/p2/volumes/"+id+"/action", body, other...).fault(t, http.StatusNotFound, "itemNotFound")
	if specs, _ := rs.casts(); len(specs) != 0 {
		t.Fatalf("another project's retype was cast: %+v", specs)
	}
	e.post("/v3/p1/volumes/"+id+"/action", body, owner...).expect(t, http.StatusAccepted)
	if v := e.volume(id); v.Status != cinder.StatusRetyping {
		t.Fatalf("owner's retype left status %s", v.Status)
	}
}

func TestRetypeBadInput(t *testing.T) {
	e, rs, _, _ := newRetypeEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	for body, want := range map[string]string{
		`{"os-retype": {}}`:                                                 `Invalid input for field/attribute os-retype. Value: {}. 'new_type' is a required property`,
		`{"os-retype": {"migration_policy": "never"}}`:                      `Invalid input for field/attribute os-retype. Value: {"migration_policy":"never"}. 'new_type' is a required property`,
		`{"os-retype": {"new_type": 7}}`:                                    "Invalid input for field/attribute new_type. Value: 7. 7 is not of type 'string'",
		`{"os-retype": {"new_type": null}}`:                                 "Invalid input for field/attribute new_type. Value: None. None is not of type 'string'",
		`{"os-retype": {"new_type": "gold", "migration_policy": "always"}}`: "Invalid input for field/attribute migration_policy. Value: always. 'always' is not one of ['on-demand', 'never']",
		`{"os-retype": {"new_type": "gold", "migration_policy": "Never"}}`:  "Invalid input for field/attribute migration_policy. Value: Never. 'Never' is not one of ['on-demand', 'never']",
		`{"os-retype": {"new_type": "gold", "migration_policy": null}}`:     "Invalid input for field/attribute migration_policy. Value: None. None is not one of ['on-demand', 'never']",
		`{"os-retype": {"new_type": "gold", "migration_policy": 5}}`:        "Invalid input for field/attribute migration_policy. Value: 5. 5 is not of type 'string', 'null'",
		`{"os-retype": {"new_type": "gold", "colour": 1, "b": 2}}`:          "Invalid input for field/attribute os-retype. Additional properties are not allowed ('b', 'colour' were unexpected)",
		// A member's error before an unexpected member, as jsonschema's best match.
		`{"os-retype": {"new_type": "gold", "migration_policy": "z", "colour": 1}}`: "Invalid input for field/attribute migration_policy. Value: z. 'z' is not one of ['on-demand', 'never']",
		`{"os-retype": "gold"}`: "Invalid input for field/attribute os-retype. Value: gold. 'gold' is not of type 'object'",
		`{"os-retype": null}`:   "Invalid input for field/attribute os-retype. Value: None. None is not of type 'object'",
	} {
		if msg := e.post(action, body).fault(t, http.StatusBadRequest, "badRequest"); msg != want {
			t.Errorf("%s:\n got %q\nwant %q", body, msg, want)
		}
	}
	if specs, _ := rs.casts(); len(specs) != 0 {
		t.Fatalf("refused retypes were cast: %+v", specs)
	}
	if v := e.volume(id); v.Status != cinder.StatusAvailable || v.PreviousStatus != "" {
		t.Fatalf("refused retypes changed the volume: status %s, previous %q", v.Status, v.PreviousStatus)
	}
}

func TestRetypeRefused(t *testing.T) {
	e, rs, _, multi := newRetypeEnv(t)
	id := e.createVolume(`{"volume": {"size": 1}}`)
	action := "/v3/admin/volumes/" + id + "/action"
	const missingID = "0b5ee5b1-7e25-4f3c-9a59-0c1a3ad2e2f0"
	for _, tc := range []struct {
		body, status string // status: the volume's, set first
		migration    string
		code         int
		message      string
	}{
		// Unknown types are 404, as Cinder's VolumeTypeNotFound(ByName).
		{`{"os-retype": {"new_type": "nope"}}`, cinder.StatusAvailable, "", http.StatusNotFound, "Volume type with name nope could not be found."},
		{`{"os-retype": {"new_type": "` + missingID + `"}}`, cinder.StatusAvailable, "", http.StatusNotFound, "Volume type " + missingID + " could not be found."},
		{`{"os-retype": {"new_type": ""}}`, cinder.StatusAvailable, "", http.StatusNotFound, "Volume type with name  could not be found."},
		{`{"os-retype": {"new_type": "` + cinder.DefaultVolumeType + `"}}`, cinder.StatusAvailable, "", http.StatusBadRequest, retypeRefused},
		{`{"os-retype": {"new_type": "gold"}}`, cinder.StatusError, "", http.StatusBadRequest, retypeRefused},
		{`{"os-retype": {"new_type": "gold"}}`, cinder.StatusExtending, "", http.StatusBadRequest, retypeRefused},
		{`{"os-retype": {"new_type": "gold"}}`, cinder.StatusAvailable, cinder.MigrationMigrating, http.StatusBadRequest, retypeRefused},
		{`{"os-retype": {"new_type": "gold"}}`, cinder.StatusInUse, cinder.MigrationStarting, http.StatusBadRequest, retypeRefused},
		{`{"os-retype": {"new_type": "multi"}}`, cinder.StatusInUse, "", http.StatusBadRequest,
			"Invalid input received: Invalid volume_type passed, retypes affecting multiattach are only allowed on available volumes, the specified volume however currently has a status of: in-use."},
	} {
		e.setVolume(id, func(v *cinder.Volume) { v.Status, v.MigrationStatus = tc.status, tc.migration })
		kind := map[int]string{http.StatusNotFound: "itemNotFound", http.StatusBadRequest: "badRequest"}[tc.code]
		if msg := e.post(action, tc.body).fault(t, tc.code, kind); msg != tc.message {
			t.Errorf("%s from %s/%q:\n got %q\nwant %q", tc.body, tc.status, tc.migration, msg, tc.message)
		}
		if v := e.volume(id); v.Status != tc.status || v.PreviousStatus != "" || v.MigrationStatus != tc.migration {
			t.Errorf("%s from %s/%q changed the volume: %s/%q, previous %q", tc.body, tc.status, tc.migration, v.Status, v.MigrationStatus, v.PreviousStatus)
		}
	}
	if specs, _ := rs.casts(); len(specs) != 0 {
		t.Fatalf("refused retypes were cast: %+v", specs)
	}
	e.post("/v3/admin/volumes/"+missingID+"/action", `{"os-retype": {"new_type": "gold"}}`).fault(t, http.StatusNotFound, "itemNotFound")

	// A finished migration does not stop a retype; an available volume may
	// become multiattach, once the retype is cast.
	e.setVolume(id, func(v *cinder.Volume) { v.Status, v.MigrationStatus = cinder.StatusAvailable, cinder.MigrationSuccess })
	e.post(action, `{"os-retype": {"new_type": "multi"}}`).expect(t, http.StatusAccepted)
	if v := e.volume(id); v.Status != cinder.StatusRetyping || !v.Multiattach {
		t.Fatalf("after a retype to multi: status %s, multiattach %v", v.Status, v.Multiattach)
	}
	if specs, vols := rs.casts(); len(specs) != 1 || specs[0].VolumeType.ID != multi || vols[0].Multiattach {
		t.Fatalf("retypes cast %+v; multiattach set before the cast: %v", specs, len(vols) == 1 && vols[0].Multiattach)
	}
}

func TestRetypeRollsBackWhenSchedulerUnreachable(t *testing.T) {
	e, rs, _, _ := newRetypeEnv(t)
	rs.err = errBrokerDown
	id := e.createVolume(`{"volume": {"size": 1}}`)
	e.setVolume(id, func(v *cinder.Volume) { v.PreviousStatus = cinder.StatusExtending })
	msg := e.post("/v3/admin/volumes/"+id+"/action", `{"os-retype": {"new_type": "multi"}}`).
		fault(t, http.StatusServiceUnavailable, "serviceUnavailable")
	if msg != "Could not ask cinder-scheduler to retype volume "+id+": the message bus is unreachable. Try again later." {
		t.Fatalf("503 message %q", msg)
	}
	if specs, _ := rs.casts(); len(specs) != 1 {
		t.Fatalf("%d retypes tried, want 1", len(specs))
	}
	if v := e.volume(id); v.Status != cinder.StatusAvailable || v.PreviousStatus != cinder.StatusExtending || v.Multiattach {
		t.Fatalf("after a failed retype cast: status %s, previous %q, multiattach %v", v.Status, v.PreviousStatus, v.Multiattach)
	}
}
