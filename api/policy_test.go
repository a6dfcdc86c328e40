package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/policy"
)

// A persona is a caller of auth_strategy noauth_roles: a project and roles.
type persona struct {
	name, project, roles string
}

var (
	adminP  = persona{"admin", "p1", "admin"}
	memberP = persona{"member", "p1", "member"}
	readerP = persona{"reader", "p1", "reader"}
	otherP  = persona{"member of p2", "p2", "member"}
	nobodyP = persona{"no role", "p1", ""}
)

// as sends rq as p, in p's project's URL ({p} in the path).
func (e *env) as(p persona, rq req) *response {
	e.t.Helper()
	rq.path = strings.ReplaceAll(rq.path, "{p}", p.project)
	rq.headers = append(rq.headers, "X-Auth-Token", "u-"+p.name+":"+p.project, "X-Roles", p.roles)
	return e.do(rq)
}

// TestPersonas asks every route as each of Cinder's personas: admin,
// member and reader of the project owning the volume, a member of another
// project, and a user with no role. Each answers as Cinder's default
// policy says: readers read, members write in their project, admins do
// the rest, and another project's volume does not exist.
func TestPersonas(t *testing.T) {
	e := newEnv(t, func(e *env) {
		e.cfg.AuthStrategy = conf.AuthNoAuthRoles
		e.cfg.QuotaGroups = -1 // a group for each persona of each group route
		e.schedOverride = acceptingScheduler{e.sched}
	})
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.addService("hostA@fake2", cinder.BinaryVolume, 0, false)
	e.sched.pools = []cinder.Pool{{Name: "hostA@fake1#fake", Capabilities: map[string]any{}}}
	e.volumes.caps = map[string]any{"volume_backend_name": "fake1"}
	fresh := func() string { // a new available volume of p1
		return e.as(memberP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1, "metadata": {"k": "v"}}}`}).
			expect(t, http.StatusAccepted).obj(t, "volume")["id"].(string)
	}
	typeID := e.as(adminP, req{method: "POST", path: "/v3/{p}/types", body: `{"volume_type": {"name": "gold"}}`}).
		expect(t, http.StatusOK).obj(t, "volume_type")["id"].(string)
	privID := e.newType(`"name": "priv", "os-volume-type-access:is_public": false`)
	plainID := e.newType(`"name": "plain"`)
	groupType := func() string { // a new public group type
		return e.as(adminP, req{method: "POST", path: "/v3/{p}/group_types", body: `{"group_type": {"name": "gt-` + uuid.NewString() + `"}}`}).
			expect(t, http.StatusAccepted).obj(t, "group_type")["id"].(string)
	}
	gtypeID := groupType()
	group := func() string { // a new available group of p1
		return e.as(memberP, req{method: "POST", path: "/v3/{p}/groups", body: `{"group": {"group_type": "` + gtypeID + `", "volume_types": ["plain"]}}`}).
			expect(t, http.StatusAccepted).obj(t, "group")["id"].(string)
	}
	attachment := func() string { // a reserved attachment of a new volume of p1
		return e.as(memberP, req{method: "POST", path: "/v3/{p}/attachments", body: `{"attachment": {"volume_uuid": "` + fresh() + `"}}`}).
			expect(t, http.StatusOK).obj(t, "attachment")["id"].(string)
	}
	transfer := func() (string, string) { // a new transfer of a volume of p1, and its key
		tr := e.as(adminP, req{method: "POST", path: "/v3/{p}/volume-transfers", body: `{"transfer": {"volume_id": "` + fresh() + `"}}`}).
			expect(t, http.StatusAccepted).obj(t, "transfer")
		return tr["id"].(string), tr["auth_key"].(string)
	}

	type want map[persona]int // status by persona; the others: 403
	all := want{adminP: 200, memberP: 200, readerP: 200, otherP: 200, nobodyP: 200}
	for _, tc := range []struct {
		method, path, body string
		want               want
	}{
		{"GET", "/v3/{p}/volumes", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"GET", "/v3/{p}/volumes/detail", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"POST", "/v3/{p}/volumes", `{"volume": {"size": 1}}`, want{adminP: 202, memberP: 202, otherP: 202}},
		{"GET", "/v3/{p}/volumes/{id}", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"PUT", "/v3/{p}/volumes/{id}", `{"volume": {"name": "n"}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"DELETE", "/v3/{p}/volumes/{id}", "", want{adminP: 202, memberP: 202, otherP: 404}},
		{"DELETE", "/v3/{p}/volumes/{id}?force=true", "", want{adminP: 202}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-extend": {"new_size": 2}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-retype": {"new_type": "gold"}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-initialize_connection": {"connector": {}}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-terminate_connection": {"connector": {}}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-reset_status": {"status": "error"}}`, want{adminP: 202}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-force_delete": {}}`, want{adminP: 202, otherP: 404}}, // found first, as Cinder
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-migrate_volume": {"host": "hostA@fake2"}}`, want{adminP: 202}},
		{"GET", "/v3/{p}/types", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"GET", "/v3/{p}/types/{type}", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"GET", "/v3/{p}/types/{type}/extra_specs", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"POST", "/v3/{p}/types", `{"volume_type": {"name": "t-{persona}"}}`, want{adminP: 200}},
		{"PUT", "/v3/{p}/types/{type}", `{"volume_type": {"description": "d"}}`, want{adminP: 200}},
		{"POST", "/v3/{p}/types/{type}/extra_specs", `{"extra_specs": {"k": "v"}}`, want{adminP: 200}},
		{"GET", "/v3/{p}/os-services", "", want{adminP: 200}},
		{"PUT", "/v3/{p}/os-services/enable", `{"host": "hostA@fake1", "binary": "cinder-volume"}`, want{adminP: 200}},
		{"GET", "/v3/{p}/scheduler-stats/get_pools", "", want{adminP: 200}},
		{"GET", "/v3/{p}/capabilities/hostA@fake1", "", want{adminP: 200}},
		{"GET", "/v3/{p}/messages", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"GET", "/v3/{p}/os-availability-zone", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200, nobodyP: 200}},
		{"GET", "/v3/{p}/volumes/summary", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"GET", "/v3/{p}/resource_filters", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200, nobodyP: 200}},
		{"GET", "/v3/{p}/volumes/{id}/metadata", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/metadata", `{"metadata": {"a": "b"}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"PUT", "/v3/{p}/volumes/{id}/metadata", `{"metadata": {"a": "b"}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"GET", "/v3/{p}/volumes/{id}/metadata/k", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"PUT", "/v3/{p}/volumes/{id}/metadata/k", `{"meta": {"k": "w"}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"DELETE", "/v3/{p}/volumes/{id}/metadata/k", "", want{adminP: 200, memberP: 200, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-set_image_metadata": {"metadata": {"a": "b"}}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-unset_image_metadata": {"key": "a"}}`, want{adminP: 404, memberP: 404, otherP: 404}}, // allowed; no such key
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-show_image_metadata": {}}`, want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-set_bootable": {"bootable": true}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-update_readonly_flag": {"readonly": true}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"GET", "/v3/{p}/types/{priv}/os-volume-type-access", "", want{adminP: 200}},
		{"POST", "/v3/{p}/types/{priv}/action", `{"addProjectAccess": {"project": "` + projB + `"}}`, want{adminP: 202}},
		{"GET", "/v3/{p}/types/{plain}/encryption", "", want{adminP: 200}},
		{"POST", "/v3/{p}/types/{plain}/encryption", `{"encryption": {"provider": "luks", "control_location": "front-end"}}`, want{adminP: 200}},
		{"GET", "/v3/{p}/volumes/{id}/encryption", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"GET", "/v3/{p}/default-types", "", want{adminP: 200}},
		{"PUT", "/v3/{p}/default-types/" + projB, `{"default_type": {"volume_type": "plain"}}`, want{adminP: 200}},
		{"GET", "/v3/{p}/qos-specs", "", want{adminP: 200}},
		{"POST", "/v3/{p}/qos-specs", `{"qos_specs": {"name": "q-{persona}"}}`, want{adminP: 200}},
		{"GET", "/v3/{p}/os-quota-sets/p1", "", want{adminP: 200, memberP: 200, readerP: 200}},
		{"GET", "/v3/{p}/os-quota-sets/p1?usage=True", "", want{adminP: 200, memberP: 200, readerP: 200}},
		{"GET", "/v3/{p}/os-quota-sets/p1/defaults", "", want{adminP: 200, memberP: 200, readerP: 200}},
		{"PUT", "/v3/{p}/os-quota-sets/p1", `{"quota_set": {"gigabytes": 1000}}`, want{adminP: 200}},
		{"DELETE", "/v3/{p}/os-quota-sets/p1", "", want{adminP: 200}},
		{"GET", "/v3/{p}/os-quota-class-sets/default", "", want{adminP: 200}},
		{"PUT", "/v3/{p}/os-quota-class-sets/default", `{"quota_class_set": {"gigabytes": 1000}}`, want{adminP: 200}},
		{"GET", "/v3/{p}/limits", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200, nobodyP: 200}},
		// Group types: Cinder asks no policy to read them, admins write them.
		{"GET", "/v3/{p}/group_types", "", all},
		{"GET", "/v3/{p}/group_types/{gtype}", "", all},
		{"POST", "/v3/{p}/group_types", `{"group_type": {"name": "gt-{persona}"}}`, want{adminP: 202}},
		{"PUT", "/v3/{p}/group_types/{gtype}", `{"group_type": {"description": "d"}}`, want{adminP: 200}},
		{"POST", "/v3/{p}/group_types/{gtype}/group_specs", `{"group_specs": {"k": "v"}}`, want{adminP: 202}},
		{"PUT", "/v3/{p}/group_types/{gtype}/group_specs/k", `{"k": "w"}`, want{adminP: 200}},
		{"GET", "/v3/{p}/group_types/{gtype}/group_specs", "", want{adminP: 200}},
		{"GET", "/v3/{p}/group_types/{gtype}/group_specs/k", "", want{adminP: 200}},
		{"DELETE", "/v3/{p}/group_types/{gtype}/group_specs/nokey", "", want{adminP: 404}},
		{"DELETE", "/v3/{p}/group_types/{gtype-fresh}", "", want{adminP: 202}},
		// Groups: readers read their project's, members write them, admins reset them.
		{"GET", "/v3/{p}/groups", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"GET", "/v3/{p}/groups/detail", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"POST", "/v3/{p}/groups", `{"group": {"group_type": "{gtype}", "volume_types": ["plain"]}}`, want{adminP: 202, memberP: 202, otherP: 202}},
		{"GET", "/v3/{p}/groups/{group}", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"PUT", "/v3/{p}/groups/{group}", `{"group": {"name": "n-{persona}"}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/groups/{group}/action", `{"reset_status": {"status": "error"}}`, want{adminP: 202, otherP: 404}},
		{"POST", "/v3/{p}/groups/{group}/action", `{"delete": {}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		// Attachments: Cinder asks no policy to read them.
		{"GET", "/v3/{p}/attachments", "", all},
		{"GET", "/v3/{p}/attachments/detail", "", all},
		{"GET", "/v3/{p}/attachments/{att}", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404, nobodyP: 200}},
		{"POST", "/v3/{p}/attachments", `{"attachment": {"volume_uuid": "{id}"}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"PUT", "/v3/{p}/attachments/{att}", `{"attachment": {"connector": {"host": "h"}}}`, want{adminP: 200, memberP: 200, otherP: 404}},
		{"DELETE", "/v3/{p}/attachments/{att}", "", want{adminP: 200, memberP: 200, otherP: 404}},
		{"POST", "/v3/{p}/attachments/{att}/action", `{"os-complete": null}`, want{adminP: 204, memberP: 204, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-reserve": {}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-unreserve": {}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-begin_detaching": {}}`, want{adminP: 400, memberP: 400, otherP: 404}}, // not in-use
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-roll_detaching": {}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-attach": {"host_name": "h", "mountpoint": "/dev/vdb"}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-detach": {}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-force_detach": {}}`, want{adminP: 202, otherP: 404}}, // found first, as Cinder
		{"GET", "/v3/{p}/volume-transfers", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 200}},
		{"POST", "/v3/{p}/volume-transfers", `{"transfer": {"volume_id": "{id}"}}`, want{adminP: 202, memberP: 202, otherP: 404}},
		{"GET", "/v3/{p}/volume-transfers/{transfer}", "", want{adminP: 200, memberP: 200, readerP: 200, otherP: 404}},
		{"DELETE", "/v3/{p}/os-volume-transfer/{transfer}", "", want{adminP: 202, memberP: 202, otherP: 404}},
		{"POST", "/v3/{p}/volume-transfers/{transfer}/accept", `{"accept": {"auth_key": "{key}"}}`, want{adminP: 202, memberP: 202, otherP: 202}},
		{"GET", "/v3/{p}/os-hosts", "", want{adminP: 200}},
		{"GET", "/v3/{p}/os-hosts/hostA@fake1", "", want{adminP: 200}},
		{"GET", "/v3/{p}/clusters/detail", "", want{adminP: 200}},
		{"PUT", "/v3/{p}/clusters/enable", `{"name": "c1"}`, want{adminP: 404}}, // no such cluster: past the rule
		{"POST", "/v3/{p}/workers/cleanup", "", want{adminP: 202}},
		{"PUT", "/v3/{p}/os-services/freeze", `{"host": "hostA@fake2"}`, want{adminP: 200}},
		{"PUT", "/v3/{p}/os-services/thaw", `{"host": "hostA@fake2"}`, want{adminP: 200}},
		// Manage: admins only.
		{"POST", "/v3/{p}/os-volume-manage", `{"volume": {"host": "hostA@fake1", "ref": {"source-name": "d-{persona}"}}}`, want{adminP: 202}},
		{"POST", "/v3/{p}/volumes/{id}/action", `{"os-unmanage": {}}`, want{adminP: 202, otherP: 404}}, // found first, as Cinder
		{"GET", "/v3/{p}/manageable_volumes?host=hostA@fake1", "", want{adminP: 200}},
		{"GET", "/v3/{p}/manageable_volumes/detail?host=hostA@fake1", "", want{adminP: 200}},
		{"GET", "/v3/{p}/manageable_snapshots?host=hostA@fake1", "", want{adminP: 200}},
		{"GET", "/v3/{p}/manageable_snapshots/detail?host=hostA@fake1", "", want{adminP: 200}},
		{"POST", "/v3/{p}/os-snapshot-manage", `{"snapshot": {"volume_id": "{id}", "ref": {"source-name": "s-{persona}"}}}`, want{adminP: 202, otherP: 404}},
	} {
		for _, p := range []persona{adminP, memberP, readerP, otherP, nobodyP} {
			ids := []string{"{id}", fresh(), "{type}", typeID, "{priv}", privID, "{plain}", plainID, "{gtype}", gtypeID}
			if strings.Contains(tc.path, "{group}") {
				ids = append(ids, "{group}", group())
			}
			if strings.Contains(tc.path, "{gtype-fresh}") {
				ids = append(ids, "{gtype-fresh}", groupType())
			}
			if strings.Contains(tc.path, "{att}") {
				ids = append(ids, "{att}", attachment())
			}
			if strings.Contains(tc.path, "{transfer}") {
				transferID, key := transfer()
				ids = append(ids, "{transfer}", transferID, "{key}", key)
			}
			path := strings.NewReplacer(ids...).Replace(tc.path)
			body := strings.NewReplacer(append(ids, "{persona}", strings.ReplaceAll(p.name, " ", "-"))...).Replace(tc.body)
			status, ok := tc.want[p]
			if !ok {
				status = http.StatusForbidden
			}
			r := e.as(p, req{method: tc.method, path: path, body: body})
			if r.status != status {
				t.Errorf("%s %s as %s: %d, want %d: %s", tc.method, tc.path, p.name, r.status, status, r.raw)
			}
		}
	}
}

// acceptingScheduler is a fakeScheduler that takes migrations and retypes.
type acceptingScheduler struct{ *fakeScheduler }

func (acceptingScheduler) MigrateVolume(context.Context, *cinder.Volume, string, bool, cinder.RequestSpec) error {
	return nil
}

func (acceptingScheduler) Retype(context.Context, *cinder.Volume, cinder.RequestSpec) error {
	return nil
}

// TestPolicyFile overrides Cinder's rules with a policy.yaml in
// oslo.policy's syntax: readers may then create volumes and read every
// extra spec.
func TestPolicyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.yaml")
	rules := `"volume:create": "role:reader and project_id:%(project_id)s"` + "\n" +
		`"volume_extension:types_extra_specs:read_sensitive": "role:reader"` + "\n"
	if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	enforcer, err := policy.New(file)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles; e.policy = enforcer })
	e.as(readerP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).expect(t, http.StatusAccepted)
	msg := e.as(nobodyP, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).
		fault(t, http.StatusForbidden, "forbidden")
	if msg != "Policy doesn't allow volume:create to be performed." {
		t.Fatalf("403 message %q", msg)
	}
	id := e.as(adminP, req{method: "POST", path: "/v3/{p}/types", body: `{"volume_type": {"name": "g", "extra_specs": {"volume_backend_name": "thin"}}}`}).
		expect(t, http.StatusOK).obj(t, "volume_type")["id"].(string)
	for p, want := range map[persona]int{readerP: 1, otherP: 1} { // a member is a reader too
		specs := e.as(p, req{method: "GET", path: "/v3/{p}/types/" + id}).expect(t, http.StatusOK).obj(t, "volume_type", "extra_specs")
		if len(specs) != want {
			t.Errorf("%s sees extra specs %v, want %d", p.name, specs, want)
		}
	}
}

// TestNoAuthMakesEveryCallerAdmin: Cinder's noauth ignores X-Roles.
func TestNoAuthMakesEveryCallerAdmin(t *testing.T) {
	e := newEnv(t)
	e.as(readerP, req{method: "GET", path: "/v3/{p}/os-services"}).expect(t, http.StatusOK)
	e.as(nobodyP, req{method: "GET", path: "/v3/{p}/os-services"}).expect(t, http.StatusOK)
}
