package tests

import (
	"strings"
	"testing"
	"time"
)

// waitGroup polls group id through the cinder CLI until its status is
// want, or it is gone when want is "deleted".
func waitGroup(t *testing.T, d *deployment, id, want string) {
	t.Helper()
	waitFor(t, 60*time.Second, "group "+id+" "+want, func() bool {
		out, err := cinderRun(d, "group-show", id)
		if err != nil {
			return want == "deleted" && strings.Contains(out, "No group with a name or ID of")
		}
		return cliField(out, "status") == want
	})
}

// TestCinderCLIGroups drives group types and their specs, generic volume
// groups, their volumes, reset-state and delete --delete-volumes with
// Debian's cinder CLI against real cinder-api, cinder-scheduler and
// cinder-volume processes, checking what each command shows.
func TestCinderCLIGroups(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()

	if out := cinderCLI(t, d, "group-type-create", "--description", "generic groups", "gt1"); !strings.Contains(out, "gt1") {
		t.Fatalf("group-type-create:\n%s", out)
	}
	gtype := cliField(cinderCLI(t, d, "group-type-show", "gt1"), "id")
	cinderCLI(t, d, "group-type-key", "gt1", "set", "consistent_group_snapshot_enabled=<is> False", "k=v")
	if out := cinderCLI(t, d, "group-type-list"); !strings.Contains(out, gtype) || !strings.Contains(out, "gt1") {
		t.Fatalf("group-type-list lacks gt1:\n%s", out)
	}
	out := cinderCLI(t, d, "group-type-show", "gt1")
	if cliField(out, "name") != "gt1" || cliField(out, "description") != "generic groups" ||
		!strings.Contains(out, "| k : v ") || !strings.Contains(out, "consistent_group_snapshot_enabled : <is> False") {
		t.Fatalf("group-type-show:\n%s", out)
	}
	cinderCLI(t, d, "group-type-key", "gt1", "unset", "k")
	if out := cinderCLI(t, d, "group-type-show", "gt1"); strings.Contains(out, "| k : v ") {
		t.Fatalf("group-type-key unset left k:\n%s", out)
	}
	cinderCLI(t, d, "type-create", "fast")
	cinderCLI(t, d, "type-key", "fast", "set", "volume_backend_name=thin")

	group := cliField(cinderCLI(t, d, "group-create", "--name", "g1", "gt1", "fast"), "id")
	if group == "" {
		t.Fatal("group-create printed no id")
	}
	waitGroup(t, d, group, "available")
	out = cinderCLI(t, d, "group-show", group)
	if cliField(out, "name") != "g1" || cliField(out, "group_type") != gtype || cliField(out, "availability_zone") != "nova" {
		t.Fatalf("group-show:\n%s", out)
	}

	inGroup := cliField(cinderCLI(t, d, "create", "--group-id", group, "--volume-type", "fast", "--name", "v1", "1"), "id")
	v := d.waitStatus(inGroup, "available")
	if !strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thin#") {
		t.Fatalf("volume of the group not on its backend: %v", v)
	}
	if got := cliField(cinderCLI(t, d, "show", inGroup), "group_id"); got != group {
		t.Fatalf("show group_id %q, want %s", got, group)
	}
	loose := cliField(cinderCLI(t, d, "create", "--volume-type", "fast", "--name", "v2", "1"), "id")
	d.waitStatus(loose, "available")
	cinderCLI(t, d, "group-update", "--add-volumes", loose, group)
	if got := cliField(cinderCLI(t, d, "show", loose), "group_id"); got != group {
		t.Fatalf("after --add-volumes, group_id %q", got)
	}
	cinderCLI(t, d, "group-update", "--remove-volumes", loose, "--name", "g2", group)
	if got := cliField(cinderCLI(t, d, "show", loose), "group_id"); got != "None" {
		t.Fatalf("after --remove-volumes, group_id %q", got)
	}
	if out := cinderCLI(t, d, "group-list"); !strings.Contains(out, group) || !strings.Contains(out, "g2") {
		t.Fatalf("group-list lacks g2:\n%s", out)
	}
	if _, err := cinderRun(d, "delete", inGroup); err == nil {
		t.Fatal("a volume of a group was deleted alone")
	}

	cinderCLI(t, d, "reset-state", "--type", "group", "--state", "error", group)
	waitGroup(t, d, group, "error")
	cinderCLI(t, d, "reset-state", "--type", "group", "--state", "available", group)
	waitGroup(t, d, group, "available")

	if out, err := cinderRun(d, "group-delete", group); err == nil || !strings.Contains(out, "still contains volumes") {
		t.Fatalf("group-delete of a group with volumes: %v\n%s", err, out)
	}
	cinderCLI(t, d, "group-delete", "--delete-volumes", group)
	waitGroup(t, d, group, "deleted")
	d.waitStatus(inGroup, "deleted")
	d.waitStatus(loose, "available")
	cinderCLI(t, d, "group-type-delete", "gt1")
	if out := cinderCLI(t, d, "group-type-list"); strings.Contains(out, gtype) {
		t.Fatalf("group-type-list after delete:\n%s", out)
	}
}
