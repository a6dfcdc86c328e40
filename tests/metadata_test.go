package tests

import (
	"strings"
	"testing"
)

// cliTable reads the rows of a two-column table of the cinder CLI
// (metadata-show and the like): key to value.
func cliTable(out string) map[string]string {
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) == 4 && !strings.HasPrefix(strings.TrimSpace(cols[1]), "Metadata-property") && !strings.HasPrefix(strings.TrimSpace(cols[1]), "Property") {
			rows[strings.TrimSpace(cols[1])] = strings.TrimSpace(cols[2])
		}
	}
	return rows
}

// listed reads the ids of a `cinder list` table.
func listed(out string) []string {
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if cols := strings.Split(line, "|"); len(cols) > 2 && len(strings.TrimSpace(cols[1])) == 36 {
			ids = append(ids, strings.TrimSpace(cols[1]))
		}
	}
	return ids
}

// accessMode is the access_mode of volume id's connection_info.
func (d *deployment) accessMode(id string) string {
	d.t.Helper()
	out := d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-initialize_connection": map[string]any{"connector": map[string]any{}}}, 200)
	info, _ := out["connection_info"].(map[string]any)
	data, _ := info["data"].(map[string]any)
	mode, _ := data["access_mode"].(string)
	return mode
}

// TestCinderCLIMetadata drives volume metadata, image metadata, the
// bootable and readonly flags, the summary and list filters with Debian's
// cinder CLI against cinder-all, asserting what it shows; the readonly
// flag reaches connection_info, and a volume made from a snapshot of a
// bootable volume is bootable with its image metadata.
func TestCinderCLIMetadata(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	web := cliField(cinderCLI(t, d, "create", "--name", "meta-web", "1"), "id")
	db := cliField(cinderCLI(t, d, "create", "--name", "meta-db", "2"), "id")
	d.waitStatus(web, "available")
	d.waitStatus(db, "available")

	cinderCLI(t, d, "metadata", web, "set", "k=v", "tier=web")
	if md := cliTable(cinderCLI(t, d, "metadata-show", web)); len(md) != 2 || md["k"] != "v" || md["tier"] != "web" {
		t.Fatalf("metadata-show after set: %v", md)
	}
	if md := cliTable(cinderCLI(t, d, "metadata-update-all", web, "tier=front")); len(md) != 1 || md["tier"] != "front" {
		t.Fatalf("metadata-update-all printed %v", md)
	}
	cinderCLI(t, d, "metadata", web, "set", "k=v")
	cinderCLI(t, d, "metadata", web, "unset", "k") // 3.15+: a PUT with If-Match
	if md := cliTable(cinderCLI(t, d, "metadata-show", web)); len(md) != 1 || md["tier"] != "front" {
		t.Fatalf("metadata-show after unset: %v", md)
	}

	cinderCLI(t, d, "image-metadata", web, "set", "image_name=cirros", "os_distro=cirros")
	if md := cliTable(cinderCLI(t, d, "image-metadata-show", web)); len(md) != 2 || md["image_name"] != "cirros" {
		t.Fatalf("image-metadata-show: %v", md)
	}
	cinderCLI(t, d, "image-metadata", web, "unset", "os_distro")
	if md := cliTable(cinderCLI(t, d, "image-metadata-show", web)); len(md) != 1 || md["image_name"] != "cirros" {
		t.Fatalf("image-metadata-show after unset: %v", md)
	}
	if got := cliField(cinderCLI(t, d, "show", web), "volume_image_metadata"); got != "image_name : cirros" {
		t.Fatalf("show: volume_image_metadata %q", got)
	}

	cinderCLI(t, d, "set-bootable", web, "true")
	if got := cliField(cinderCLI(t, d, "show", web), "bootable"); got != "true" {
		t.Fatalf("show after set-bootable: bootable %q", got)
	}
	cinderCLI(t, d, "readonly-mode-update", web, "True")
	show := cinderCLI(t, d, "show", web)
	if !strings.Contains(show, "readonly : True") || d.accessMode(web) != "ro" {
		t.Fatalf("after readonly-mode-update True: access_mode %q, show:\n%s", d.accessMode(web), show)
	}
	cinderCLI(t, d, "readonly-mode-update", web, "False")
	if mode := d.accessMode(web); mode != "rw" {
		t.Fatalf("after readonly-mode-update False: access_mode %q", mode)
	}

	sum := cliTable(cinderCLI(t, d, "summary"))
	if sum["total_count"] != "2" || sum["total_size"] != "3" || !strings.Contains(sum["metadata"], "tier : ['front']") {
		t.Fatalf("summary: %v", sum)
	}
	if ids := listed(cinderCLI(t, d, "list", "--filters", "name~=meta-w")); len(ids) != 1 || ids[0] != web {
		t.Fatalf("list --filters name~=meta-w: %v", ids)
	}
	first, second := web, db
	created := cliField(cinderCLI(t, d, "show", first), "created_at")
	if cliField(cinderCLI(t, d, "show", second), "created_at") < created {
		first, second = second, first
		created = cliField(cinderCLI(t, d, "show", first), "created_at")
	}
	if ids := listed(cinderCLI(t, d, "list", "--filters", "created_at=gt:"+created)); len(ids) != 1 || ids[0] != second {
		t.Fatalf("list --filters created_at=gt:%s: %v, want %s", created, ids, second)
	}
	if ids := listed(cinderCLI(t, d, "list", "--filters", "created_at=lte:"+created)); len(ids) != 1 || ids[0] != first {
		t.Fatalf("list --filters created_at=lte:%s: %v, want %s", created, ids, first)
	}

	// A volume from a snapshot of the bootable volume is bootable, with
	// the image metadata the snapshot kept.
	snap := cliField(cinderCLI(t, d, "snapshot-create", web), "id")
	d.waitSnapshot(snap, "available")
	cinderCLI(t, d, "image-metadata", web, "set", "image_name=later")
	copied := cliField(cinderCLI(t, d, "create", "--snapshot-id", snap, "1"), "id")
	d.waitStatus(copied, "available")
	show = cinderCLI(t, d, "show", copied)
	if cliField(show, "bootable") != "true" || cliField(show, "volume_image_metadata") != "image_name : cirros" {
		t.Fatalf("volume from the snapshot:\n%s", show)
	}
}
