package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers"
)

// newHostileEnv is an API whose clients can migrate, with a second backend
// to migrate to and one available 1 GiB volume, whose id it returns.
func newHostileEnv(t *testing.T) (*env, *migratingScheduler, string) {
	t.Helper()
	e, m := newMigrationEnv(t)
	id := e.createVolume(`{"volume": {"size": 1, "name": "vol1"}}`)
	e.sched.creates = nil
	return e, m, id
}

// untouched fails if the fakes heard of anything, or if volume id is no
// longer the available, unmigrated 1 GiB volume vol1 alone in the project.
func untouched(t *testing.T, e *env, m *migratingScheduler, id string) {
	t.Helper()
	if len(e.sched.creates) != 0 || len(m.migrations) != 0 || len(e.volumes.called()) != 0 {
		t.Fatalf("hostile input reached the RPC clients: creates %v, migrations %v, cinder-volume %v",
			e.sched.creates, m.migrations, e.volumes.called())
	}
	v := e.volume(id)
	if v.Status != cinder.StatusAvailable || v.Size != 1 || v.DisplayName != "vol1" || v.MigrationStatus != "" {
		t.Fatalf("volume changed by hostile input: %+v", v)
	}
	if n := len(e.get("/v3/admin/volumes").expect(t, http.StatusOK).body["volumes"].([]any)); n != 1 {
		t.Fatalf("%d volumes after hostile input, want 1", n)
	}
}

// TestHostileVolumeIDs sends ids that are not UUIDs in the URL of every
// volume route: each is a 404 itemNotFound, either no route (the id holds
// a path separator) or no such volume, and reaches neither RPC client.
func TestHostileVolumeIDs(t *testing.T) {
	e, m, id := newHostileEnv(t)
	const noRoute = "The resource could not be found."
	long := strings.Repeat("a", 4096)
	for _, tc := range []struct {
		segment string // as sent in the URL
		message string
	}{
		{"../../etc/passwd", noRoute},
		{url.PathEscape("../../etc/passwd"), noRoute},
		{"a%2Fb", noRoute},
		{"%2e%2e%2f", noRoute},
		// Not cleaned to the volume's own URL, as a redirect would be.
		{id + "/x/..", noRoute},
		{"%252e%252e%252f", "Volume %2e%2e%2f could not be found."},
		{"..", "Volume .. could not be found."},
		{long, "Volume " + long + " could not be found."},
		{"x'%3B%20DROP%20TABLE%20volumes%3B--", "Volume x'; DROP TABLE volumes;-- could not be found."},
		{id[:35] + "g", "Volume " + id[:35] + "g could not be found."},
	} {
		path := "/v3/admin/volumes/" + tc.segment
		for _, rq := range []req{
			{method: http.MethodGet, path: path},
			{method: http.MethodDelete, path: path + "?force=true"},
			{method: http.MethodPut, path: path, body: `{"volume": {"name": "x"}}`},
			{method: http.MethodPost, path: path + "/action", body: `{"os-extend": {"new_size": 2}}`},
			{method: http.MethodPost, path: path + "/action", body: `{"os-force_delete": {}}`},
			{method: http.MethodPost, path: path + "/action", body: `{"os-migrate_volume": {"host": "hostA@fake2"}}`},
			{method: http.MethodPost, path: path + "/action", body: `{"os-initialize_connection": {"connector": {"host": "h"}}}`},
			{method: http.MethodPost, path: path + "/action", body: `{"os-reset_status": {"status": "error"}}`},
		} {
			msg := e.do(rq).fault(t, http.StatusNotFound, "itemNotFound")
			if msg != tc.message {
				t.Errorf("%s %.80s: message %.80q, want %.80q", rq.method, rq.path, msg, tc.message)
			}
		}
	}
	untouched(t, e, m, id)
}

// TestHostileSizes sends sizes that are not positive integers of at most
// 2^31-1 to create and os-extend: each is a 400 badRequest naming the
// field as Cinder's schema does (or 413 overLimit when it only exceeds the
// quota) and reaches neither RPC client.
func TestHostileSizes(t *testing.T) {
	e, m, id := newHostileEnv(t)
	const (
		less  = "Invalid input for field/attribute %[1]s. Value: %[2]s. %[2]s is less than the minimum of 1"
		more  = "Invalid input for field/attribute %[1]s. Value: %[2]s. %[2]s is greater than the maximum of 2147483647"
		notOf = "Invalid input for field/attribute %[1]s. Value: %[2]s. %[3]s is not of type 'integer', 'string'"
		match = "Invalid input for field/attribute %[1]s. Value: %[2]s. '%[2]s' does not match '^[0-9]+$'"
	)
	for _, tc := range []struct {
		raw, shown, repr string // the JSON sent, and how the message shows it
		status           int
		kind, message    string // message is a format of field, shown and repr
	}{
		{`-1`, "-1", "", 400, "badRequest", less},
		{`0`, "0", "", 400, "badRequest", less},
		{`-9223372036854775809`, "-9223372036854775809", "", 400, "badRequest", less},
		{`9223372036854775807`, "9223372036854775807", "", 400, "badRequest", more},
		{`99999999999999999999999`, "99999999999999999999999", "", 400, "badRequest", more},
		{`1e30`, "1e30", "1e30", 400, "badRequest", notOf},
		{`1.5`, "1.5", "1.5", 400, "badRequest", notOf},
		{`2.0`, "2.0", "2.0", 400, "badRequest", notOf},
		{`true`, "True", "True", 400, "badRequest", notOf},
		{`[2]`, "[2]", "[2]", 400, "badRequest", notOf},
		{`"1.5"`, "1.5", "", 400, "badRequest", match},
		{`"abc"`, "abc", "", 400, "badRequest", match},
		{`"-1"`, "-1", "", 400, "badRequest", match},
		{`""`, "", "", 400, "badRequest", match},
		{`"0"`, "0", "", 400, "badRequest", less},
		{`2147483647`, "", "", 413, "overLimit", ""},
	} {
		for _, op := range []struct{ field, path, body string }{
			{"size", "/v3/admin/volumes", `{"volume": {"size": %s}}`},
			{"new_size", "/v3/admin/volumes/" + id + "/action", `{"os-extend": {"new_size": %s}}`},
		} {
			msg := e.post(op.path, fmt.Sprintf(op.body, tc.raw)).fault(t, tc.status, tc.kind)
			if want := fmt.Sprintf(tc.message, op.field, tc.shown, tc.repr); tc.message != "" && msg != want {
				t.Errorf("%s %s: message\n got %q\nwant %q", op.field, tc.raw, msg, want)
			}
		}
	}
	untouched(t, e, m, id)
}

// TestHostileMigrations sends os-migrate_volume to destinations that are
// not a cinder-volume backend and completions naming a volume that is not
// a UUID: 400 badRequest, nothing asked of the RPC clients.
func TestHostileMigrations(t *testing.T) {
	e, m, id := newHostileEnv(t)
	action := "/v3/admin/volumes/" + id + "/action"
	for _, tc := range []struct{ body, message string }{
		{`{"os-migrate_volume": {"host": "../../etc/passwd"}}`, "Invalid host: No available service named '../../etc/passwd'"},
		{`{"os-migrate_volume": {"host": "hostA@fake2/../../etc"}}`, "Invalid host: No available service named 'hostA@fake2/../../etc'"},
		{`{"os-migrate_volume": {"host": "hostA@fake1"}}`, "Invalid volume: Volume " + id + " status must be available or in-use, must not be migrating, have snapshots, be replicated, be part of a group and destination host/cluster must be different than the current one"},
		{`{"os-migrate_volume": {"host": ""}}`, "Invalid input received: One and only one of cluster and host must be set."},
		{`{"os-migrate_volume": {"host": 7}}`, "Invalid input for field/attribute host. Value: 7. 7 is not of type 'string', 'null'"},
		{`{"os-migrate_volume": {"host": "` + strings.Repeat("h", 256) + `"}}`, "Invalid input for field/attribute host. host is too long (more than 255 characters)."},
		{`{"os-migrate_volume_completion": {"new_volume": "../../etc/passwd"}}`, "Invalid input for field/attribute new_volume. Value: ../../etc/passwd. '../../etc/passwd' is not a 'uuid'"},
		{`{"os-migrate_volume_completion": {"new_volume": 1}}`, "Invalid input for field/attribute new_volume. Value: 1. 1 is not of type 'string'"},
	} {
		if msg := e.post(action, tc.body).fault(t, http.StatusBadRequest, "badRequest"); msg != tc.message {
			t.Errorf("%.80s: message\n got %q\nwant %q", tc.body, msg, tc.message)
		}
	}
	untouched(t, e, m, id)
}

// TestNamesWithPathSeparators creates and renames volumes with names that
// look like paths: legal display names in Cinder, stored and shown as they
// are, while the volume's file is still named after its UUID alone.
func TestNamesWithPathSeparators(t *testing.T) {
	e := newEnv(t)
	const name, description = "../../etc/passwd", `a/b\c`
	r := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "name": "`+name+`", "description": "a/b\\c", "metadata": {"a/b": "../c"}}}`).
		expect(t, http.StatusAccepted)
	id := r.obj(t, "volume")["id"].(string)
	shown := e.get("/v3/admin/volumes/"+id).expect(t, http.StatusOK).obj(t, "volume")
	if shown["name"] != name || shown["description"] != description || shown["metadata"].(map[string]any)["a/b"] != "../c" {
		t.Fatalf("shown as %v", shown)
	}
	list := e.get("/v3/admin/volumes?name="+url.QueryEscape(name)).expect(t, http.StatusOK)
	if vols := list.body["volumes"].([]any); len(vols) != 1 || vols[0].(map[string]any)["id"] != id {
		t.Fatalf("listed by name: %s", list.raw)
	}

	dir := t.TempDir()
	files := &drivers.Files{Backend: &conf.Backend{VolumesDir: dir}}
	for _, rename := range []string{"", "x/../../y", `C:\Windows\system32`} {
		if rename != "" {
			body, _ := json.Marshal(map[string]any{"volume": map[string]string{"name": rename}})
			if got := e.put("/v3/admin/volumes/"+id, string(body)).expect(t, http.StatusOK).obj(t, "volume")["name"]; got != rename {
				t.Fatalf("renamed to %q, shown as %v", rename, got)
			}
		}
		v := e.volume(id)
		if want := cmp.Or(rename, name); v.DisplayName != want || v.DisplayDescription != description || v.Metadata["a/b"] != "../c" {
			t.Fatalf("stored as %+v, want name %q", v, want)
		}
		if path, err := files.Path(v); err != nil || path != filepath.Join(dir, "volume-"+id) {
			t.Fatalf("file of volume %q: %q, %v; want %s", v.DisplayName, path, err, filepath.Join(dir, "volume-"+id))
		}
	}
}

// TestOversizeChunkedBody sends a body over max_request_body_size with no
// Content-Length, so that only reading it finds it too large: 413
// overLimit as when Content-Length says so, and nothing created.
func TestOversizeChunkedBody(t *testing.T) {
	e := newEnv(t)
	body := `{"volume": {"size": 1, "description": "` + strings.Repeat("x", maxBodySize) + `"}}`
	// Behind a MultiReader the length is unknown: the body goes chunked.
	hr, err := http.NewRequest(http.MethodPost, e.srv.URL+"/v3/admin/volumes", io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("X-Auth-Token", "admin:admin")
	hr.Header.Set("Content-Type", "application/json")
	hresp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hresp.Body.Close() }() // read: nothing to lose
	resp := &response{status: hresp.StatusCode, header: hresp.Header}
	if resp.raw, err = io.ReadAll(hresp.Body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(resp.raw, &resp.body); err != nil {
		t.Fatalf("413 body %q: %v", resp.raw, err)
	}
	if msg := resp.fault(t, http.StatusRequestEntityTooLarge, "overLimit"); msg != "Request is too large. Larger than max_request_body_size (114688)." {
		t.Fatalf("message %q", msg)
	}
	if len(e.sched.creates) != 0 || len(e.get("/v3/admin/volumes").expect(t, http.StatusOK).body["volumes"].([]any)) != 0 {
		t.Fatal("an oversize create was served")
	}
}

// TestInvalidUTF8 sends bodies that are not UTF-8 text: raw bytes that
// decode to nothing, a surrogate encoded as bytes, and an escaped lone
// surrogate. Each is 400 "Malformed request body", as Cinder's JSON
// decoding refuses them, and nothing reaches the database or RPC.
func TestInvalidUTF8(t *testing.T) {
	e, m, id := newHostileEnv(t)
	for _, name := range []string{"\xff\xfe", "a\xed\xa0\x80b", `\ud800`, `x\udfffy`, `\ud800\u0041`} {
		for _, rq := range []req{
			{method: "POST", path: "/v3/admin/volumes", body: `{"volume": {"size": 1, "name": "` + name + `"}}`},
			{method: "PUT", path: "/v3/admin/volumes/" + id, body: `{"volume": {"name": "` + name + `"}}`},
			{method: "POST", path: "/v3/admin/volumes/" + id + "/action", body: `{"os-migrate_volume": {"host": "hostA@fake2` + name + `"}}`},
		} {
			rq.headers = []string{"Content-Type", "application/json"}
			msg := e.do(rq).fault(t, http.StatusBadRequest, "badRequest")
			if !strings.HasPrefix(msg, "Malformed request body") {
				t.Errorf("%s %s with name %q: %q", rq.method, rq.path, name, msg)
			}
		}
	}
	untouched(t, e, m, id)
	// A surrogate pair is one character, and fine.
	r := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "name": "\ud83d\ude00"}}`).expect(t, http.StatusAccepted)
	if got := r.obj(t, "volume")["name"]; got != "\U0001F600" {
		t.Fatalf("surrogate pair stored as %q", got)
	}
}
