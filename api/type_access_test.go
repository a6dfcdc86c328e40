package api

import (
	"net/http"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
)

// projA and projB are projects with Keystone-like ids, as type access
// needs; userA is a member of projA.
const (
	projA = "6f2c8e4a1b3d4f5e8a9b0c1d2e3f4a5b"
	projB = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
)

var userA = persona{"member of A", projA, "member"}

// newType creates a volume type through the API with body's members and
// returns its id (as an admin under noauth_roles too).
func (e *env) newType(members string) string {
	e.t.Helper()
	return e.post("/v3/admin/types", `{"volume_type": {`+members+`}}`, "X-Roles", "admin").expect(e.t, http.StatusOK).obj(e.t, "volume_type")["id"].(string)
}

func TestTypeAccess(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	admin := []string{"X-Roles", "admin"}
	priv := e.newType(`"name": "priv", "os-volume-type-access:is_public": false`)
	types := func(p persona) []any {
		return e.as(p, req{method: "GET", path: "/v3/{p}/types"}).expect(t, http.StatusOK).body["volume_types"].([]any)
	}

	// Without access the type does not exist for the project.
	if n := len(types(userA)); n != 1 {
		t.Fatalf("project A lists %d types, want the default alone", n)
	}
	e.as(userA, req{method: "GET", path: "/v3/{p}/types/" + priv}).fault(t, http.StatusNotFound, "itemNotFound")
	msg := e.as(userA, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1, "volume_type": "` + priv + `"}}`}).
		fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Volume type "+priv+" could not be found." {
		t.Fatalf("create of a private type: %q", msg)
	}

	action := "/v3/admin/types/" + priv + "/action"
	e.post(action, `{"addProjectAccess": {"project": "`+projA+`"}}`, admin...).expect(t, http.StatusAccepted)
	e.post(action, `{"addProjectAccess": {"project": "`+projB+`"}}`, admin...).expect(t, http.StatusAccepted)
	msg = e.post(action, `{"addProjectAccess": {"project": "`+projA+`"}}`, admin...).fault(t, http.StatusConflict, "conflictingRequest")
	if msg != "Volume type access for "+priv+" / "+projA+" combination already exists." {
		t.Fatalf("second access: %q", msg)
	}
	list := e.get("/v3/admin/types/"+priv+"/os-volume-type-access", admin...).expect(t, http.StatusOK)
	sameKeys(t, "access", list.keys(t, "volume_type_access", "0"), []string{"volume_type_id", "project_id"})
	if got := list.obj(t, "volume_type_access", "1"); got["volume_type_id"] != priv || got["project_id"] != projB {
		t.Fatalf("access list %s", list.raw)
	}

	// With access, the project sees and uses the type.
	if n := len(types(userA)); n != 2 {
		t.Fatalf("project A lists %d types with access, want 2", n)
	}
	shown := e.as(userA, req{method: "GET", path: "/v3/{p}/types/" + priv}).expect(t, http.StatusOK).obj(t, "volume_type")
	if shown["is_public"] != false || shown["os-volume-type-access:is_public"] != false {
		t.Fatalf("private type as a member sees it: %v", shown)
	}
	v := e.as(userA, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1, "volume_type": "priv"}}`}).
		expect(t, http.StatusAccepted).obj(t, "volume")
	if v["volume_type"] != "priv" {
		t.Fatalf("volume of the private type: %v", v)
	}

	e.post(action, `{"removeProjectAccess": {"project": "`+projA+`"}}`, admin...).expect(t, http.StatusAccepted)
	msg = e.post(action, `{"removeProjectAccess": {"project": "`+projA+`"}}`, admin...).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Volume type access not found for "+priv+" / "+projA+" combination." {
		t.Fatalf("second removal: %q", msg)
	}
	e.as(userA, req{method: "GET", path: "/v3/{p}/types/" + priv}).fault(t, http.StatusNotFound, "itemNotFound")

	// Admins list private types with is_public false or none.
	for query, want := range map[string]int{"": 1, "?is_public=false": 1, "?is_public=None": 2, "?is_public=true": 1} {
		if n := len(e.get("/v3/admin/types"+query, admin...).expect(t, http.StatusOK).body["volume_types"].([]any)); n != want {
			t.Errorf("admin lists %d types with %q, want %d", n, query, want)
		}
	}

	// A public type has no access list.
	def := e.get("/v3/admin/types/default", admin...).expect(t, http.StatusOK).obj(t, "volume_type")["id"].(string)
	msg = e.get("/v3/admin/types/"+def+"/os-volume-type-access", admin...).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Access list not available for public volume types." {
		t.Fatalf("access list of a public type: %q", msg)
	}
	msg = e.post("/v3/admin/types/"+def+"/action", `{"addProjectAccess": {"project": "`+projA+`"}}`, admin...).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume type: Type access modification is not applicable to public volume type." {
		t.Fatalf("access to a public type: %q", msg)
	}

	for body, want := range map[string]string{
		`{"addProjectAccess": {"project": "abc"}}`:                      "Invalid input for field/attribute project. Value: abc. 'abc' is not a 'uuid'",
		`{"addProjectAccess": {}}`:                                      "Invalid input for field/attribute addProjectAccess. Value: {}. 'project' is a required property",
		`{"addProjectAccess": {"project": 5}}`:                          "Invalid input for field/attribute project. Value: 5. 5 is not of type 'string'",
		`{"addProjectAccess": "x"}`:                                     "Invalid input for field/attribute addProjectAccess. Value: x. 'x' is not of type 'object'",
		`{"removeProjectAccess": {"project": "` + projA + `", "x": 1}}`: "Invalid input for field/attribute removeProjectAccess. Additional properties are not allowed ('x' was unexpected)",
		`{"grant": {}}`:                                                 "There is no such action: grant. Verify the request body and Content-Type header and try again.",
	} {
		if msg := e.post(action, body, admin...).fault(t, http.StatusBadRequest, "badRequest"); msg != want {
			t.Errorf("%s: %q, want %q", body, msg, want)
		}
	}
	e.post("/v3/admin/types/"+cinder.FixedKeyID+"/action", `{"addProjectAccess": {"project": "`+projA+`"}}`, admin...).
		fault(t, http.StatusNotFound, "itemNotFound")
}

func TestUUIDLike(t *testing.T) {
	for s, want := range map[string]bool{
		projA: true, projB: true, "{" + projB + "}": true, "urn:uuid:" + projB: true, "6F2C8E4A-1B3D4F5E8A9B0C1D2E3F4A5B": true,
		"admin": false, projA + "0": false, "6f2c8e4a1b3d4f5e8a9b0c1d2e3f4a5g": false, "": false,
	} {
		if got := uuidLike(s); got != want {
			t.Errorf("uuidLike(%q) = %v", s, got)
		}
	}
}
