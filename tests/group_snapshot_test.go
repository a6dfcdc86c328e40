package tests

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testfile"
)

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// waitGroupSnapshot polls group snapshot id through the cinder CLI until
// its status is want, or it is gone when want is "deleted".
func waitGroupSnapshot(t *testing.T, d *deployment, id, want string) {
	t.Helper()
	waitFor(t, 60*time.Second, "group snapshot "+id+" "+want, func() bool {
		out, err := cinderRun(d, "group-snapshot-show", id)
		if err != nil {
			return want == "deleted" && strings.Contains(out, "No groupsnapshot with a name or ID of")
		}
		return cliField(out, "status") == want
	})
}

// groupVolumes lists the volumes of group id through the cinder CLI.
func groupVolumes(t *testing.T, d *deployment, id string) []string {
	t.Helper()
	return uuidPattern.FindAllString(cliField(cinderCLI(t, d, "group-show", id, "--list-volume"), "volumes"), -1)
}

// TestCinderCLIGroupSnapshots drives group snapshots and groups made from
// a group snapshot and from a group with Debian's cinder CLI against real
// cinder-api, cinder-scheduler and cinder-volume processes, checking the
// statuses each command shows and that every new volume holds its
// source's bytes (checksums) as they were when snapshotted, or are now.
func TestCinderCLIGroupSnapshots(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()

	cinderCLI(t, d, "group-type-create", "gt")
	cinderCLI(t, d, "type-create", "fast")
	cinderCLI(t, d, "type-key", "fast", "set", "volume_backend_name=thin")
	group := cliField(cinderCLI(t, d, "group-create", "--name", "g", "gt", "fast"), "id")
	waitGroup(t, d, group, "available")
	var vols []string
	before := map[string]string{}
	for i, name := range []string{"v1", "v2"} {
		v := cliField(cinderCLI(t, d, "create", "--group-id", group, "--volume-type", "fast", "--name", name, "1"), "id")
		d.waitStatus(v, "available")
		fill(t, devicePath(t, d, v), spread(3, 8192), byte(0x10+i))
		before[v] = testfile.Checksum(t, devicePath(t, d, v))
		vols = append(vols, v)
	}

	out := cinderCLI(t, d, "group-snapshot-create", "--name", "gs", "--description", "both volumes", group)
	gs := cliField(out, "id")
	if gs == "" || cliField(out, "group_id") != group {
		t.Fatalf("group-snapshot-create:\n%s", out)
	}
	waitGroupSnapshot(t, d, gs, "available")
	out = cinderCLI(t, d, "group-snapshot-show", gs)
	if cliField(out, "name") != "gs" || cliField(out, "description") != "both volumes" || cliField(out, "group_id") != group {
		t.Fatalf("group-snapshot-show:\n%s", out)
	}
	if out := cinderCLI(t, d, "group-snapshot-list"); !strings.Contains(out, gs) || !strings.Contains(out, "available") {
		t.Fatalf("group-snapshot-list lacks gs:\n%s", out)
	}
	snaps := map[string]string{} // snapshot id → volume id
	for _, line := range strings.Split(cinderCLI(t, d, "snapshot-list"), "\n") {
		if ids := uuidPattern.FindAllString(line, -1); len(ids) == 2 && strings.Contains(line, "available") {
			snaps[ids[0]] = ids[1]
		}
	}
	if len(snaps) != 2 {
		t.Fatalf("snapshots of the group snapshot: %v", snaps)
	}
	for s := range snaps {
		if out, err := cinderRun(d, "snapshot-delete", s); err == nil || !strings.Contains(out, "must not be part of a group") {
			t.Fatalf("snapshot-delete of a group snapshot's snapshot: %v\n%s", err, out)
		}
		break
	}
	if out, err := cinderRun(d, "group-delete", "--delete-volumes", group); err == nil || !strings.Contains(out, "Group has existing snapshots") {
		t.Fatalf("group-delete of a group with a group snapshot: %v\n%s", err, out)
	}

	after := map[string]string{}
	for i, v := range vols {
		fill(t, devicePath(t, d, v), spread(3, 8192), byte(0x20+i))
		after[v] = testfile.Checksum(t, devicePath(t, d, v))
	}

	for _, tc := range []struct {
		name, flag, source string
		want               map[string]string // by source volume
	}{
		{"fromsnap", "--group-snapshot", gs, before},
		{"fromgroup", "--source-group", group, after},
	} {
		out := cinderCLI(t, d, "group-create-from-src", tc.flag, tc.source, "--name", tc.name)
		made := cliField(out, "id")
		if made == "" || cliField(out, "name") != tc.name {
			t.Fatalf("group-create-from-src %s:\n%s", tc.flag, out)
		}
		waitGroup(t, d, made, "available")
		out = cinderCLI(t, d, "group-show", made)
		if cliField(out, "group_snapshot_id")+cliField(out, "source_group_id") != tc.source+"None" &&
			cliField(out, "group_snapshot_id")+cliField(out, "source_group_id") != "None"+tc.source {
			t.Fatalf("group-show of the group made from %s:\n%s", tc.source, out)
		}
		madeVols := groupVolumes(t, d, made)
		if len(madeVols) != 2 {
			t.Fatalf("group made %s has volumes %v", tc.flag, madeVols)
		}
		for _, v := range madeVols {
			d.waitStatus(v, "available")
			show := cinderCLI(t, d, "show", v)
			src := cliField(show, "source_volid")
			if s := cliField(show, "snapshot_id"); s != "None" && s != "" {
				src = snaps[s]
			}
			if tc.want[src] == "" || testfile.Checksum(t, devicePath(t, d, v)) != tc.want[src] {
				t.Fatalf("volume %s of group %s differs from its source %q", v, tc.name, src)
			}
		}
		cinderCLI(t, d, "group-delete", "--delete-volumes", made)
		waitGroup(t, d, made, "deleted")
	}

	cinderCLI(t, d, "reset-state", "--type", "group-snapshot", "--state", "error", gs)
	waitGroupSnapshot(t, d, gs, "error")
	cinderCLI(t, d, "group-snapshot-delete", gs)
	waitGroupSnapshot(t, d, gs, "deleted")
	for s := range snaps {
		d.waitSnapshot(s, "deleted")
	}
	cinderCLI(t, d, "group-delete", "--delete-volumes", group)
	waitGroup(t, d, group, "deleted")
	for _, v := range vols {
		d.waitStatus(v, "deleted")
	}
}
