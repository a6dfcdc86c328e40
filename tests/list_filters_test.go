package tests

import "testing"

// TestCinderCLISnapshotBackupFilters lists snapshots and backups with
// Debian's cinder CLI --filters (3.34) against cinder-all: like filters,
// a metadata filter ({k:v}, which the CLI sends as a Python dict) and
// exact names. (noauth makes every caller an admin, as Cinder's: the
// member's limits are api's TestSnapshotAndBackupListFilters.)
func TestCinderCLISnapshotBackupFilters(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	vol := cliField(mustCinder(t, d, "demo", "3.34", "create", "--name", "src", "1"), "id")
	d.waitStatus(vol, "available")
	snap := func(name, tier string) string {
		id := cliField(mustCinder(t, d, "demo", "3.34", "snapshot-create", "--name", name, "--metadata", "tier="+tier, vol), "id")
		d.waitSnapshot(id, "available")
		return id
	}
	web, db := snap("web-1", "web"), snap("db-1", "db")
	nightly := cliField(mustCinder(t, d, "demo", "3.34", "backup-create", "--name", "nightly-1", vol), "id")
	d.waitResource("backup", nightly, "available")
	d.waitStatus(vol, "available")
	weekly := cliField(mustCinder(t, d, "demo", "3.34", "backup-create", "--name", "weekly-1", vol), "id")
	d.waitResource("backup", weekly, "available")

	listed := func(out string, ids ...string) []bool {
		var in []bool
		for _, id := range ids {
			in = append(in, listRow(out, id) != nil)
		}
		return in
	}
	for _, tc := range []struct {
		project, list string
		filters       []string
		want          []bool // web, db / nightly, weekly listed
	}{
		{"admin", "snapshot-list", []string{"--all-tenants", "--filters", "name~=web"}, []bool{true, false}},
		{"demo", "snapshot-list", []string{"--filters", "metadata={tier:db}"}, []bool{false, true}},
		{"demo", "snapshot-list", []string{"--filters", "name=web-1"}, []bool{true, false}},
		{"admin", "backup-list", []string{"--all-tenants", "--filters", "name~=nightly"}, []bool{true, false}},
		{"demo", "backup-list", []string{"--filters", "name=weekly-1"}, []bool{false, true}},
	} {
		out := mustCinder(t, d, tc.project, "3.34", append([]string{tc.list}, tc.filters...)...)
		ids := []string{web, db}
		if tc.list == "backup-list" {
			ids = []string{nightly, weekly}
		}
		if got := listed(out, ids...); got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Errorf("%s %s %v listed %v, want %v:\n%s", tc.project, tc.list, tc.filters, got, tc.want, out)
		}
	}
}
