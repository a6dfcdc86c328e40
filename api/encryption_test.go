package api

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestTypeEncryption(t *testing.T) {
	e := newEnv(t)
	id := e.newType(`"name": "secret"`)
	enc := "/v3/admin/types/" + id + "/encryption"
	if r := e.get(enc).expect(t, http.StatusOK); string(r.raw) != "{}" {
		t.Fatalf("encryption of a plain type: %s", r.raw)
	}

	created := e.post(enc, `{"encryption": {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": "256", "control_location": "front-end"}}`).
		expect(t, http.StatusOK)
	sameKeys(t, "created encryption", created.keys(t, "encryption"),
		[]string{"cipher", "control_location", "key_size", "provider", "volume_type_id", "encryption_id"})
	c := created.obj(t, "encryption")
	if c["key_size"] != 256.0 || c["volume_type_id"] != id || !uuidForm.MatchString(c["encryption_id"].(string)) {
		t.Fatalf("created %s", created.raw)
	}
	shown := e.get(enc).expect(t, http.StatusOK)
	sameKeys(t, "encryption", shown.keys(t), []string{"created_at", "updated_at", "deleted_at", "deleted", "encryption_id",
		"cipher", "key_size", "provider", "control_location", "volume_type_id"})
	if shown.body["provider"] != "luks" || shown.body["key_size"] != 256.0 || shown.body["deleted"] != false || shown.body["encryption_id"] != c["encryption_id"] {
		t.Fatalf("shown %s", shown.raw)
	}
	if r := e.get(enc+"/cipher").expect(t, http.StatusOK); string(r.raw) != `{"cipher": "aes-xts-plain64"}` {
		t.Fatalf("one item: %s", r.raw)
	}
	msg := e.get(enc+"/colour").fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Volume type encryption for type "+id+" does not exist." {
		t.Fatalf("missing item: %q", msg)
	}
	msg = e.post(enc, `{"encryption": {"provider": "luks", "control_location": "front-end"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Volume type encryption for type "+id+" already exists." {
		t.Fatalf("second encryption: %q", msg)
	}

	upd := e.put(enc+"/any", `{"encryption": {"key_size": 128, "control_location": "back-end", "cipher": null}}`).expect(t, http.StatusOK)
	if string(upd.raw) != `{"encryption": {"cipher": null, "control_location": "back-end", "key_size": 128}}` {
		t.Fatalf("update answered %s", upd.raw)
	}
	if got := e.get(enc).body; got["key_size"] != 128.0 || got["control_location"] != "back-end" || got["cipher"] != nil || got["provider"] != "luks" {
		t.Fatalf("after update %v", got)
	}

	for body, want := range map[string]string{
		`{"encryption": {"provider": "p"}}`:                                                   `Invalid input for field/attribute encryption. Value: {"provider":"p"}. 'control_location' is a required property`,
		`{"encryption": {"provider": "p", "control_location": "middle"}}`:                     "Invalid input for field/attribute control_location. Value: middle. 'middle' is not one of ['front-end', 'back-end']",
		`{"encryption": {"provider": "p", "control_location": "front-end", "key_size": "x"}}`: "Invalid input received: key_size must be an integer.",
		`{"encryption": {"provider": "p", "control_location": "front-end", "key_size": -1}}`:  "Invalid input for field/attribute key_size. Value: -1. -1 is less than the minimum of 0",
		`{"encryption": {"provider": "p", "control_location": "front-end", "key_size": 1.5}}`: "Invalid input for field/attribute key_size. Value: 1.5. 1.5 is not of type 'string', 'integer', 'null'",
		`{"encryption": {"provider": 5, "control_location": "front-end"}}`:                    "Invalid input for field/attribute provider. Value: 5. 5 is not of type 'string'",
	} {
		if msg := e.post(enc, body).fault(t, http.StatusBadRequest, "badRequest"); msg != want {
			t.Errorf("%s: %q, want %q", body, msg, want)
		}
	}
	e.post("/v3/admin/types/"+cinder.FixedKeyID+"/encryption", `{"encryption": {"provider": "p", "control_location": "front-end"}}`).
		fault(t, http.StatusNotFound, "itemNotFound")

	// The type's volumes are encrypted, with ConfKeyManager's key.
	e.put(enc+"/x", `{"encryption": {"cipher": "aes-xts-plain64"}}`).expect(t, http.StatusOK)
	vol := e.createVolume(`{"volume": {"size": 1, "volume_type": "secret"}}`)
	if v := e.get("/v3/admin/volumes/"+vol).obj(t, "volume"); v["encrypted"] != true {
		t.Fatalf("volume of an encrypted type: %v", v)
	}
	meta := e.get("/v3/admin/volumes/"+vol+"/encryption").expect(t, http.StatusOK)
	sameKeys(t, "volume encryption", meta.keys(t), []string{"encryption_key_id", "cipher", "key_size", "provider", "control_location"})
	if meta.body["encryption_key_id"] != cinder.FixedKeyID || meta.body["control_location"] != "back-end" {
		t.Fatalf("volume encryption %s", meta.raw)
	}
	for item, want := range map[string]string{"provider": `"luks"`, "key_size": "128", "cipher": `"aes-xts-plain64"`} {
		if got := rawGet(t, e, "/v3/admin/volumes/"+vol+"/encryption/"+item); got != want {
			t.Errorf("volume encryption item %s: %s, want %s", item, got, want)
		}
	}
	plain := e.createVolume(`{"volume": {"size": 1}}`)
	if r := e.get("/v3/admin/volumes/"+plain+"/encryption").expect(t, http.StatusOK); string(r.raw) != `{"encryption_key_id": null}` {
		t.Fatalf("encryption of a plain volume: %s", r.raw)
	}
	if v := e.get("/v3/admin/volumes/"+plain).obj(t, "volume"); v["encrypted"] != false {
		t.Fatalf("plain volume: %v", v)
	}
	e.get("/v3/admin/volumes/"+cinder.FixedKeyID+"/encryption").fault(t, http.StatusNotFound, "itemNotFound")

	// A type in use keeps its encryption.
	msg = e.del(enc+"/x").fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Cannot delete encryption specs. Volume type in use." {
		t.Fatalf("delete in use: %q", msg)
	}
	e.put(enc+"/x", `{"encryption": {"provider": "p"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if err := e.store.DestroyVolume(context.Background(), vol); err != nil {
		t.Fatal(err)
	}
	e.del(enc+"/x").expect(t, http.StatusAccepted)
	if r := e.get(enc).expect(t, http.StatusOK); string(r.raw) != "{}" {
		t.Fatalf("encryption after delete: %s", r.raw)
	}
	e.del(enc+"/x").fault(t, http.StatusNotFound, "itemNotFound")
}

// rawGet answers GET path as admin with a 200 whose body, any JSON, it returns.
func rawGet(t *testing.T, e *env, path string) string {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Auth-Token", "admin:admin")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read: nothing to lose
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, b, err)
	}
	return string(b)
}
