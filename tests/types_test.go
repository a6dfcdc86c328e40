package tests

import (
	"reflect"
	"strings"
	"testing"
)

// cliRow returns the cells of the first row of a cinder CLI table that
// has a cell equal to key, or nil.
func cliRow(out, key string) []string {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		for _, c := range cells {
			if c == key {
				return cells
			}
		}
	}
	return nil
}

// wantRow fails t unless out has a row with key whose cells are want.
func wantRow(t *testing.T, what, out, key string, want ...string) {
	t.Helper()
	if got := cliRow(out, key); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: row %q is %q, want %q in:\n%s", what, key, got, want, out)
	}
}

// cinderFails runs the cinder CLI, which must fail printing message.
func cinderFails(t *testing.T, d *deployment, message string, args ...string) {
	t.Helper()
	out, err := cinderRun(d, args...)
	if err == nil || !strings.Contains(out, message) {
		t.Fatalf("cinder %s: %v, want a failure saying %q:\n%s", strings.Join(args, " "), err, message, out)
	}
}

// TestCinderCLITypes drives private types, type encryption, default types
// (3.62), a type's availability zones and QoS specs with Debian's cinder
// CLI against cinder-all, asserting what it prints, and reads the QoS
// specs cinder-volume puts in a volume's connection_info.
func TestCinderCLITypes(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	const project = "6f2c8e4a1b3d4f5e8a9b0c1d2e3f4a5b" // a Keystone-like project id, as type access needs

	// A private type and its access list.
	out := cinderCLI(t, d, "type-create", "--is-public", "false", "priv")
	priv := cliRow(out, "priv")[0]
	wantRow(t, "type-create", out, "priv", priv, "priv", "-", "False")
	cinderCLI(t, d, "type-access-add", "--volume-type", "priv", "--project-id", project)
	wantRow(t, "type-access-list", cinderCLI(t, d, "type-access-list", "--volume-type", "priv"), project, priv, project)
	cinderCLI(t, d, "type-access-remove", "--volume-type", "priv", "--project-id", project)
	if out := cinderCLI(t, d, "type-access-list", "--volume-type", "priv"); strings.Contains(out, project) {
		t.Fatalf("type-access-list after remove:\n%s", out)
	}

	// Its encryption: volumes of the type are encrypted with
	// ConfKeyManager's key; a type in use keeps its encryption.
	out = cinderCLI(t, d, "encryption-type-create", "--cipher", "aes-xts-plain64", "--key-size", "256",
		"--control-location", "front-end", "priv", "LuksEncryptor")
	wantRow(t, "encryption-type-create", out, priv, priv, "LuksEncryptor", "aes-xts-plain64", "256", "front-end")
	cinderCLI(t, d, "encryption-type-update", "--key-size", "512", "--control-location", "back-end", "priv")
	wantRow(t, "encryption-type-show", cinderCLI(t, d, "encryption-type-show", "priv"), priv,
		priv, "LuksEncryptor", "aes-xts-plain64", "512", "back-end")
	enc := cliField(cinderCLI(t, d, "create", "--volume-type", "priv", "1"), "id")
	d.waitStatus(enc, "available")
	if got := cliField(cinderCLI(t, d, "show", enc), "encrypted"); got != "True" {
		t.Fatalf("volume of type priv: encrypted %q", got)
	}
	if meta := d.do("GET", "/admin/volumes/"+enc+"/encryption", nil, 200); meta["encryption_key_id"] != "00000000-0000-0000-0000-000000000000" ||
		meta["provider"] != "LuksEncryptor" || meta["key_size"] != 512.0 {
		t.Fatalf("encryption of volume %s: %v", enc, meta)
	}
	cinderFails(t, d, "Cannot delete encryption specs. Volume type in use.", "encryption-type-delete", "priv")
	cinderCLI(t, d, "delete", enc)
	d.waitStatus(enc, "deleted")
	cinderCLI(t, d, "encryption-type-delete", "priv")
	if out := cinderCLI(t, d, "encryption-type-show", "priv"); strings.Contains(out, "LuksEncryptor") {
		t.Fatalf("encryption-type-show after delete:\n%s", out)
	}

	// A project's default type, for its volumes created without one.
	gold := cliRow(cinderCLI(t, d, "type-create", "gold"), "gold")[0]
	wantRow(t, "default-type-set", cinderCLI(t, d, "default-type-set", "gold", project), "volume_type_id", "volume_type_id", gold)
	wantRow(t, "default-type-list", cinderCLI(t, d, "default-type-list"), project, gold, project)
	vol := cliField(cinderCLI(t, d, "--os-project-id", project, "create", "2"), "id")
	if v := d.waitStatus(vol, "available"); v["volume_type"] != "gold" {
		t.Fatalf("volume of project %s without a type: %v", project, v)
	}
	cinderCLI(t, d, "default-type-unset", project)
	if out := cinderCLI(t, d, "default-type-list"); strings.Contains(out, project) {
		t.Fatalf("default-type-list after unset:\n%s", out)
	}

	// A type whose zones have no backend takes no volume.
	cinderCLI(t, d, "type-create", "far")
	cinderCLI(t, d, "type-key", "far", "set", "RESKEY:availability_zones=az9")
	cinderFails(t, d, "Volume type is only supported in these availability zones: ['az9']", "create", "--volume-type", "far", "1")

	// QoS specs, their keys and associations.
	out = cinderCLI(t, d, "qos-create", "fast", "consumer=front-end", "total_iops_sec_per_gb=100", "read_bytes_sec=1048576")
	qos := cliField(out, "id")
	if cliField(out, "consumer") != "front-end" || cliField(out, "name") != "fast" {
		t.Fatalf("qos-create:\n%s", out)
	}
	wantRow(t, "qos-list", cinderCLI(t, d, "qos-list"), qos, qos, "fast", "front-end",
		"{'read_bytes_sec': '1048576', 'total_iops_sec_per_gb': '100'}")
	cinderCLI(t, d, "qos-key", qos, "set", "write_iops_sec=300")
	cinderCLI(t, d, "qos-key", qos, "unset", "read_bytes_sec")
	out = cinderCLI(t, d, "qos-show", qos)
	if !strings.Contains(out, "write_iops_sec : 300") || strings.Contains(out, "read_bytes_sec") {
		t.Fatalf("qos-show after qos-key:\n%s", out)
	}
	cinderCLI(t, d, "qos-associate", qos, gold)
	wantRow(t, "qos-get-association", cinderCLI(t, d, "qos-get-association", qos), gold, "volume_type", "gold", gold)

	// The front-end specs reach the connector of a volume of the type,
	// per-GiB limits for its 2 GiB.
	info := d.do("POST", "/admin/volumes/"+vol+"/action",
		map[string]any{"os-initialize_connection": map[string]any{"connector": map[string]any{"host": "node1"}}}, 200)
	data := info["connection_info"].(map[string]any)["data"].(map[string]any)
	if want := map[string]any{"total_iops_sec": 200.0, "write_iops_sec": "300"}; !reflect.DeepEqual(data["qos_specs"], want) || data["device_path"] == nil {
		t.Fatalf("connection_info data %v, want qos_specs %v", data, want)
	}

	cinderFails(t, d, "Qos specs still in use.", "qos-delete", qos)
	cinderCLI(t, d, "qos-disassociate", qos, gold)
	if out := cinderCLI(t, d, "qos-get-association", qos); strings.Contains(out, gold) {
		t.Fatalf("qos-get-association after qos-disassociate:\n%s", out)
	}
	cinderCLI(t, d, "qos-associate", qos, gold)
	cinderCLI(t, d, "qos-disassociate-all", qos)
	if out := cinderCLI(t, d, "qos-get-association", qos); strings.Contains(out, gold) {
		t.Fatalf("qos-get-association after qos-disassociate-all:\n%s", out)
	}
	cinderCLI(t, d, "qos-associate", qos, gold)
	cinderCLI(t, d, "qos-delete", "--force", "True", qos)
	if out := cinderCLI(t, d, "qos-list"); strings.Contains(out, qos) {
		t.Fatalf("qos-list after qos-delete:\n%s", out)
	}
	if got := cliField(cinderCLI(t, d, "type-show", "gold"), "qos_specs_id"); got != "None" {
		t.Fatalf("gold's qos_specs_id after its QoS specs' forced delete: %q", got)
	}
}
