package volume

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// member is a request context of a member of project.
func member(project string) context.Context {
	return cinder.WithRequestContext(context.Background(), &cinder.RequestContext{UserID: "u-" + project, ProjectID: project})
}

// newType creates volume type name (public unless private) with specs.
func (c *cloud) newType(name string, private bool, specs map[string]string) *cinder.VolumeType {
	c.t.Helper()
	t := &cinder.VolumeType{Name: name, IsPublic: !private, ExtraSpecs: specs}
	if err := c.store.CreateVolumeType(context.Background(), t); err != nil {
		c.t.Fatal(err)
	}
	return t
}

// wantError fails unless err is the Cinder exception class with message.
func wantError(t *testing.T, what string, err error, class, message string) {
	t.Helper()
	ce, ok := err.(*cinder.Error)
	if !ok || ce.Class != class || ce.Message != message {
		t.Fatalf("%s: %v (%T), want %s %q", what, err, err, class, message)
	}
}

// names are the names of types.
func names(types []*cinder.VolumeType) []string {
	out := []string{}
	for _, t := range types {
		out = append(out, t.Name)
	}
	return out
}

func TestPrivateTypes(t *testing.T) {
	c := newCloud(t)
	priv := c.newType("priv", true, nil)
	p1, p2 := member("p1"), member("p2")

	// Without access, a private type does not exist, by id or by name.
	_, err := c.api.ResolveType(p1, priv.ID)
	wantError(t, "type by id", err, "VolumeTypeNotFound", "Volume type "+priv.ID+" could not be found.")
	_, err = c.api.ResolveType(p1, "priv")
	wantError(t, "type by name", err, "VolumeTypeNotFoundByName", "Volume type with name priv could not be found.")
	_, _, err = c.api.Create(p1, CreateRequest{Size: 1, VolumeType: priv.ID})
	wantCode(t, "create of a private type", err, 404)
	_, err = c.api.GetType(p1, priv.ID)
	wantCode(t, "show of a private type", err, 404)
	if types, err := c.api.ListTypes(p1, TypeQuery{}); err != nil || !reflect.DeepEqual(names(types), []string{cinder.DefaultVolumeType}) {
		t.Fatalf("p1 lists %v, %v", names(types), err)
	}

	if err := c.api.SetTypeAccess(admin(), priv.ID, "p1", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.api.Create(p1, CreateRequest{Size: 1, VolumeType: "priv"}); err != nil {
		t.Fatalf("create with access: %v", err)
	}
	if _, err := c.api.GetType(p1, priv.ID); err != nil {
		t.Fatalf("show with access: %v", err)
	}
	if types, err := c.api.ListTypes(p1, TypeQuery{}); err != nil || !reflect.DeepEqual(names(types), []string{cinder.DefaultVolumeType, "priv"}) {
		t.Fatalf("p1 with access lists %v, %v", names(types), err)
	}
	if _, err := c.api.GetType(p2, priv.ID); err == nil {
		t.Fatal("p2 sees p1's private type")
	}
	// An admin lists public types (and those its project may use) by
	// default, private ones with is_public false, all with none.
	no := false
	for _, q := range []struct {
		q    TypeQuery
		want []string
	}{
		{TypeQuery{IsPublic: new(true)}, []string{cinder.DefaultVolumeType}},
		{TypeQuery{IsPublic: &no}, []string{"priv"}},
		{TypeQuery{}, []string{cinder.DefaultVolumeType, "priv"}},
	} {
		if types, err := c.api.ListTypes(admin(), q.q); err != nil || !reflect.DeepEqual(names(types), q.want) {
			t.Errorf("admin lists %v, %v; want %v", names(types), err, q.want)
		}
	}

	_, projects, err := c.api.TypeProjects(admin(), priv.ID)
	if err != nil || !reflect.DeepEqual(projects, []string{"p1"}) {
		t.Fatalf("TypeProjects = %v, %v", projects, err)
	}
	def, err := c.store.GetVolumeTypeByName(context.Background(), cinder.DefaultVolumeType)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.api.TypeProjects(admin(), def.ID)
	wantError(t, "access list of a public type", err, "VolumeTypeAccessNotFound", "Access list not available for public volume types.")
	wantError(t, "access to a public type", c.api.SetTypeAccess(admin(), def.ID, "p1", true),
		"InvalidVolumeType", "Invalid volume type: Type access modification is not applicable to public volume type.")
	if err := c.api.SetTypeAccess(admin(), priv.ID, "p1", false); err != nil {
		t.Fatal(err)
	}
	_, err = c.api.GetType(p1, priv.ID)
	wantCode(t, "show after the access is removed", err, 404)
}

func TestProjectDefaultType(t *testing.T) {
	c := newCloud(t)
	c.newType("gold", false, nil)
	priv := c.newType("priv", true, nil)
	p1, p2 := member("p1"), member("p2")

	goldID, err := c.api.SetDefaultType(admin(), "p1", "gold")
	if err != nil {
		t.Fatal(err)
	}
	for ctx, want := range map[context.Context]string{p1: "gold", p2: cinder.DefaultVolumeType} {
		_, vt, err := c.api.Create(ctx, CreateRequest{Size: 1})
		if err != nil || vt.Name != want {
			t.Fatalf("create without a type: %+v, %v; want %s", vt, err, want)
		}
		if vt, err := c.api.GetType(ctx, "default"); err != nil || vt.Name != want {
			t.Fatalf("types/default: %+v, %v; want %s", vt, err, want)
		}
	}
	if got, err := c.api.GetDefaultType(admin(), "p1"); err != nil || got != goldID {
		t.Fatalf("GetDefaultType = %q, %v", got, err)
	}
	_, err = c.api.SetDefaultType(admin(), "p1", "tin")
	wantError(t, "default of an unknown type", err, "VolumeTypeNotFoundByName", "Volume type with name tin could not be found.")
	if cinder.Code(err) != 400 {
		t.Fatalf("default of an unknown type: code %d, want 400", cinder.Code(err))
	}

	// A project default the project may not see is not found, as Cinder.
	if _, err := c.api.SetDefaultType(admin(), "p2", priv.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.api.Create(p2, CreateRequest{Size: 1})
	wantCode(t, "create with a private default type", err, 404)

	if err := c.api.UnsetDefaultType(admin(), "p1"); err != nil {
		t.Fatal(err)
	}
	if _, vt, err := c.api.Create(p1, CreateRequest{Size: 1}); err != nil || vt.Name != cinder.DefaultVolumeType {
		t.Fatalf("create after unset: %+v, %v", vt, err)
	}
	wantCode(t, "delete of a project's default type", c.api.DeleteType(admin(), priv.ID), 400)
}

func TestTypeAvailabilityZones(t *testing.T) {
	c := newCloud(t) // backends in nova
	c.newType("far", false, map[string]string{typeZonesSpec: "az2, az3"})
	c.newType("near", false, map[string]string{typeZonesSpec: "nova,az2"})
	ctx := admin()

	_, _, err := c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "far"})
	wantError(t, "type of zones without backends", err, "InvalidTypeAvailabilityZones",
		"Volume type is only supported in these availability zones: ['az2', 'az3']")
	_, _, err = c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "near", AvailabilityZone: "az2"})
	wantError(t, "zone without backends", err, "InvalidAvailabilityZone", "Availability zone 'az2' is invalid.")
	v, _, err := c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "near"})
	if err != nil || v.AvailabilityZone != "nova" || c.rpc.lastSpec().AvailabilityZones != nil {
		t.Fatalf("create of type near: %+v, %v, spec %+v", v, err, c.rpc.lastSpec())
	}

	// With backends in two of the type's zones, the scheduler chooses.
	now := time.Now().UTC()
	if err := c.store.CreateService(context.Background(), &cinder.Service{Host: "hostB@fake", Binary: cinder.BinaryVolume,
		Topic: cinder.TopicVolume, AvailabilityZone: "az2", CreatedAt: now, UpdatedAt: &now}); err != nil {
		t.Fatal(err)
	}
	v, _, err = c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "near"})
	if spec := c.rpc.lastSpec(); err != nil || v.AvailabilityZone != "" || !reflect.DeepEqual(spec.AvailabilityZones, []string{"nova", "az2"}) {
		t.Fatalf("create of type near with backends in nova and az2: %+v, %v, spec %+v", v, err, spec)
	}
	_, _, err = c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "far", AvailabilityZone: "nova"})
	wantError(t, "zone out of the type's", err, "InvalidAvailabilityZone", "Availability zone 'nova' is invalid.")

	// Type lists filter on the spec by substring; a reader may filter on
	// it, not on a spec it may not read.
	for _, c2 := range []struct {
		ctx  context.Context
		q    TypeQuery
		want []string
	}{
		{ctx, TypeQuery{ExtraSpecs: map[string]string{typeZonesSpec: "az2"}, ReadSensitive: true}, []string{"far", "near"}},
		{member("p1"), TypeQuery{ExtraSpecs: map[string]string{typeZonesSpec: "nova"}}, []string{"near"}},
		{member("p1"), TypeQuery{ExtraSpecs: map[string]string{"volume_backend_name": "x"}}, []string{}},
	} {
		types, err := c.api.ListTypes(c2.ctx, c2.q)
		if err != nil || !reflect.DeepEqual(names(types), c2.want) {
			t.Errorf("ListTypes(%+v) = %v, %v; want %v", c2.q, names(types), err, c2.want)
		}
	}
}

func TestEncryptedTypes(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	plain := c.newType("plain", false, nil)
	secret := c.newType("secret", false, nil)
	if e, err := c.api.TypeEncryption(ctx, secret.ID); err != nil || e != nil {
		t.Fatalf("encryption of a new type: %+v, %v", e, err)
	}
	if err := c.api.CreateEncryption(ctx, &cinder.Encryption{VolumeTypeID: secret.ID, Provider: "luks", ControlLocation: "front-end"}); err != nil {
		t.Fatal(err)
	}
	// Without a cipher Cinder cannot make a key.
	_, _, err := c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "secret"})
	wantError(t, "create without a cipher", err, "InvalidVolumeType", "Invalid encryption spec")
	cipher := "aes-xts-plain64"
	if err := c.api.UpdateEncryption(ctx, secret.ID, func(e *cinder.Encryption) { e.Cipher = &cipher }); err != nil {
		t.Fatal(err)
	}
	v, _, err := c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	key, e, err := c.api.VolumeEncryption(ctx, v.ID)
	if err != nil || key != cinder.FixedKeyID || e == nil || *e.Cipher != cipher {
		t.Fatalf("encryption of a volume of type secret: %q, %+v, %v", key, e, err)
	}
	w, _, err := c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if key, e, err := c.api.VolumeEncryption(ctx, w.ID); err != nil || key != "" || e != nil {
		t.Fatalf("encryption of a volume of type plain: %q, %+v, %v", key, e, err)
	}
	_, _, err = c.api.VolumeEncryption(member("p1"), v.ID)
	wantCode(t, "encryption of another project's volume", err, 404)

	// A type in use keeps its encryption, and none is added to one.
	wantError(t, "update in use", c.api.UpdateEncryption(ctx, secret.ID, func(*cinder.Encryption) {}),
		"VolumeTypeInUse", "Cannot update encryption specs. Volume type in use.")
	wantError(t, "delete in use", c.api.DeleteEncryption(ctx, secret.ID),
		"VolumeTypeInUse", "Cannot delete encryption specs. Volume type in use.")
	wantError(t, "create in use", c.api.CreateEncryption(ctx, &cinder.Encryption{VolumeTypeID: plain.ID, Provider: "p", ControlLocation: "back-end"}),
		"VolumeTypeInUse", "Cannot create encryption specs. Volume type in use.")

	multi := c.newType("multi", false, map[string]string{"multiattach": "<is> True"})
	if err := c.api.CreateEncryption(ctx, &cinder.Encryption{VolumeTypeID: multi.ID, Provider: "luks", Cipher: &cipher, ControlLocation: "front-end"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.api.Create(ctx, CreateRequest{Size: 1, VolumeType: "multi"})
	wantError(t, "encrypted multiattach", err, "InvalidVolume", "Invalid volume: Multiattach cannot be used with encrypted volumes.")
	if err := c.api.DeleteEncryption(ctx, multi.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete of no encryption", c.api.DeleteEncryption(ctx, multi.ID), 404)
	wantCode(t, "encryption of an unknown type", c.api.CreateEncryption(ctx,
		&cinder.Encryption{VolumeTypeID: "no-such-type", Provider: "p", ControlLocation: "back-end"}), 404)
}

func TestQoSRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	q, err := c.api.CreateQoS(ctx, "q", map[string]string{"read_iops_sec": "100", "a": "1", "b": "2"})
	if err != nil || q.Consumer != cinder.ConsumerBackEnd || len(q.Specs) != 3 {
		t.Fatalf("CreateQoS: %+v, %v", q, err)
	}
	_, err = c.api.CreateQoS(ctx, "bad", map[string]string{"consumer": "middle"})
	wantCode(t, "invalid consumer", err, 400)
	if err := c.api.SetQoSKeys(ctx, q.ID, map[string]string{"consumer": "front-end", "c": "3"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "invalid consumer set", c.api.SetQoSKeys(ctx, q.ID, map[string]string{"consumer": ""}), 400)

	// Keys go in order, up to the first missing one, as Cinder.
	err = c.api.UnsetQoSKeys(ctx, q.ID, []string{"a", "missing", "b"})
	wantError(t, "unset of a missing key", err, "QoSSpecsKeyNotFound", "QoS spec "+q.ID+" has no spec with key missing.")
	got, err := c.api.GetQoS(ctx, q.ID)
	if want := map[string]string{"read_iops_sec": "100", "b": "2", "c": "3"}; err != nil || got.Consumer != "front-end" || !reflect.DeepEqual(got.Specs, want) {
		t.Fatalf("after unset: %+v, %v; want front-end %v", got, err, want)
	}

	vt := c.newType("gold", false, nil)
	if err := c.api.AssociateQoS(ctx, q.ID, vt.ID); err != nil {
		t.Fatal(err)
	}
	if types, err := c.api.QoSAssociations(ctx, q.ID); err != nil || !reflect.DeepEqual(names(types), []string{"gold"}) {
		t.Fatalf("associations: %v, %v", names(types), err)
	}
	wantError(t, "delete in use", c.api.DeleteQoS(ctx, q.ID, false), "QoSSpecsInUse", "Qos specs still in use.")
	if err := c.api.DeleteQoS(ctx, q.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err = c.api.QoSAssociations(ctx, q.ID)
	wantCode(t, "associations of deleted specs", err, 404)
}
