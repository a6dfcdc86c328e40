package api

import (
	"net/http"
	"testing"

	"github.com/cinder-go/cinder/conf"
)

func TestDefaultTypes(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	admin := []string{"X-Roles", "admin", "OpenStack-API-Version", "volume 3.62"}
	gold := e.newType(`"name": "gold"`)

	e.get("/v3/admin/default-types", "X-Roles", "admin", "OpenStack-API-Version", "volume 3.61").fault(t, http.StatusNotFound, "itemNotFound")
	e.put("/v3/admin/default-types/"+projA, `{"default_type": {"volume_type": "gold"}}`, "X-Roles", "admin", "OpenStack-API-Version", "volume 3.0").
		fault(t, http.StatusNotFound, "itemNotFound")

	set := e.put("/v3/admin/default-types/"+projA, `{"default_type": {"volume_type": "gold"}}`, admin...).expect(t, http.StatusOK)
	sameKeys(t, "default type", set.keys(t, "default_type"), []string{"project_id", "volume_type_id"})
	if d := set.obj(t, "default_type"); d["project_id"] != projA || d["volume_type_id"] != gold {
		t.Fatalf("set answered %s", set.raw)
	}
	if d := e.get("/v3/admin/default-types/"+projA, admin...).expect(t, http.StatusOK).obj(t, "default_type"); d["volume_type_id"] != gold {
		t.Fatalf("shown %v", d)
	}
	e.put("/v3/admin/default-types/"+projB, `{"default_type": {"volume_type": "`+gold+`"}}`, admin...).expect(t, http.StatusOK)
	if all := e.get("/v3/admin/default-types", admin...).expect(t, http.StatusOK).body["default_types"].([]any); len(all) != 2 {
		t.Fatalf("%d default types, want 2", len(all))
	}

	// Project A's volumes without a type get gold; the type stays.
	v := e.as(userA, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).expect(t, http.StatusAccepted).obj(t, "volume")
	if v["volume_type"] != "gold" {
		t.Fatalf("volume without a type in project A: %v", v)
	}
	if got := e.as(userA, req{method: "GET", path: "/v3/{p}/types/default"}).expect(t, http.StatusOK).obj(t, "volume_type"); got["id"] != gold {
		t.Fatalf("types/default of project A: %v", got)
	}
	msg := e.del("/v3/admin/types/"+gold, "X-Roles", "admin").fault(t, http.StatusBadRequest, "badRequest")
	if msg != "The volume type "+gold+" is a default volume type and cannot be deleted." {
		t.Fatalf("delete of a default type: %q", msg)
	}

	for body, want := range map[string]string{
		`{"default_type": {"volume_type": "tin"}}`:          "Volume type with name tin could not be found.",
		`{"default_type": {"volume_type": "   "}}`:          "An invalid 'name' value was provided. The 'name' can not be empty.",
		`{"default_type": {"volume_type": ""}}`:             "Invalid input for field/attribute volume_type. Value: . '' is too short",
		`{"default_type": {}}`:                              "Invalid input for field/attribute default_type. Value: {}. 'volume_type' is a required property",
		`{"default_type": {"volume_type": "gold", "x": 1}}`: "Invalid input for field/attribute default_type. Additional properties are not allowed ('x' was unexpected)",
		`{}`: "Missing required element 'default_type' in request body.",
		`{"default_type": {"volume_type": "` + projB + `"}}`: "Volume type " + projB + " could not be found.",
		`{"default_type": 5}`:                                "Invalid input for field/attribute default_type. Value: 5. 5 is not of type 'object'",
	} {
		if msg := e.put("/v3/admin/default-types/"+projA, body, admin...).fault(t, http.StatusBadRequest, "badRequest"); msg != want {
			t.Errorf("%s: %q, want %q", body, msg, want)
		}
	}

	// Only admins.
	msg = e.as(userA, req{method: "GET", path: "/v3/{p}/default-types/" + projA, headers: []string{"OpenStack-API-Version", "volume 3.62"}}).
		fault(t, http.StatusForbidden, "forbidden")
	if msg != "You are not authorized to perform this operation." {
		t.Fatalf("member reading defaults: %q", msg)
	}

	r := e.del("/v3/admin/default-types/"+projA, admin...).expect(t, http.StatusNoContent)
	if len(r.raw) != 0 {
		t.Fatalf("unset answered a body: %s", r.raw)
	}
	e.del("/v3/admin/default-types/"+projA, admin...).expect(t, http.StatusNoContent)
	msg = e.get("/v3/admin/default-types/"+projA, admin...).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Default type for project "+projA+" not found." {
		t.Fatalf("unset default: %q", msg)
	}
	v = e.as(userA, req{method: "POST", path: "/v3/{p}/volumes", body: `{"volume": {"size": 1}}`}).expect(t, http.StatusAccepted).obj(t, "volume")
	if v["volume_type"] != "__DEFAULT__" {
		t.Fatalf("volume without a type after unset: %v", v)
	}
}
