package tests

import (
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/cinder-go/cinder/internal/testenv"
)

// 50 clients of one project ask at once for a volume each, over RabbitMQ
// with cinder-api, cinder-scheduler and cinder-volume apart, against
// quota_volumes = 20, on SQLite and on PostgreSQL: exactly 20 are accepted
// and become available, the 30 others get Cinder's 413, and the project's
// usage is 20 volumes with nothing reserved. Deleting them all gives the
// usage back.
func TestQuotaRaceOverRabbitMQ(t *testing.T) {
	url := testenv.RabbitURL(t)
	t.Run("sqlite", func(t *testing.T) { runQuotaRace(t, setup{transport: url}) })
	t.Run("postgresql", func(t *testing.T) { runQuotaRace(t, setup{transport: url, database: testenv.PostgresURL(t)}) })
}

func runQuotaRace(t *testing.T, s setup) {
	const clients, limit = 50, 20
	s.extra = "quota_volumes = 20\n"
	d := newDeployment(t, s)
	d.startSplit()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted []string
		refused  int
	)
	start := make(chan struct{})
	for range clients {
		wg.Go(func() {
			<-start
			code, out, err := d.tryWith(client, "racer:race", "POST", "/race/volumes", map[string]any{"volume": map[string]any{"size": 1}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("create: %v", err)
			case code == http.StatusAccepted:
				accepted = append(accepted, out["volume"].(map[string]any)["id"].(string))
			case code == http.StatusRequestEntityTooLarge:
				refused++
				msg := out["overLimit"].(map[string]any)["message"]
				if msg != "VolumeLimitExceeded: Maximum number of volumes allowed (20) exceeded for quota 'volumes'." {
					t.Errorf("413 message %q", msg)
				}
			default:
				t.Errorf("create answered %d: %v", code, out)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(accepted) != limit || refused != clients-limit {
		t.Fatalf("%d creates accepted and %d refused; want %d and %d", len(accepted), refused, limit, clients-limit)
	}
	t.Logf("%d creates at once: %d accepted, %d refused with 413", clients, len(accepted), refused)
	for _, id := range accepted {
		d.waitStatus(id, "available")
	}
	want := map[string][2]float64{"volumes": {limit, 0}, "gigabytes": {limit, 0}}
	checkUsage(t, d, "race", want)
	list := d.do("GET", "/admin/volumes?all_tenants=1&project_id=race", nil, 200)["volumes"].([]any)
	if len(list) != limit {
		t.Fatalf("project race has %d volumes, want %d", len(list), limit)
	}
	for _, id := range accepted {
		d.do("DELETE", "/admin/volumes/"+id, nil, 202)
	}
	for _, id := range accepted {
		d.waitStatus(id, "deleted")
	}
	checkUsage(t, d, "race", map[string][2]float64{"volumes": {0, 0}, "gigabytes": {0, 0}})
}

// checkUsage fails unless project's in_use and reserved of each resource
// of want are want's.
func checkUsage(t *testing.T, d *deployment, project string, want map[string][2]float64) {
	t.Helper()
	qs := d.do("GET", "/admin/os-quota-sets/"+project+"?usage=True", nil, 200)["quota_set"].(map[string]any)
	for res, w := range want {
		u := qs[res].(map[string]any)
		if u["in_use"] != w[0] || u["reserved"] != w[1] {
			t.Errorf("usage of %s in %s: %v; want in_use %v, reserved %v", res, project, u, w[0], w[1])
		}
	}
}

// Debian's cinder CLI shows, updates and deletes quotas, shows usage,
// absolute limits and defaults, and updates the default quota class, whose
// limits become the defaults; a create past the volumes quota fails with
// Cinder's message.
func TestQuotaCLI(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	d.waitStatus(d.createVolume(2, nil), "available")

	if out := cinderCLI(t, d, "quota-defaults", "admin"); cliField(out, "volumes") != "10" || cliField(out, "gigabytes") != "1000" {
		t.Fatalf("quota-defaults: %s", out)
	}
	if out := cinderCLI(t, d, "quota-show", "admin"); cliField(out, "volumes") != "10" || cliField(out, "per_volume_gigabytes") != "-1" {
		t.Fatalf("quota-show: %s", out)
	}
	if out := cinderCLI(t, d, "quota-update", "--volumes", "5", "admin"); cliField(out, "volumes") != "5" {
		t.Fatalf("quota-update: %s", out)
	}
	out := cinderCLI(t, d, "quota-usage", "admin")
	for res, want := range map[string][]string{"volumes": {"1", "0", "5"}, "gigabytes": {"2", "0", "1000"}, "snapshots": {"0", "0", "10"}} {
		if got := usageRow(out, res); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("quota-usage %s: in_use, reserved, limit %v, want %v:\n%s", res, got, want, out)
		}
	}
	out = cinderCLI(t, d, "absolute-limits")
	for name, want := range map[string]string{"maxTotalVolumes": "5", "maxTotalVolumeGigabytes": "1000", "totalVolumesUsed": "1",
		"totalGigabytesUsed": "2", "totalSnapshotsUsed": "0", "maxTotalBackups": "10"} {
		if got := cliField(out, name); got != want {
			t.Errorf("absolute-limits %s = %q, want %s:\n%s", name, got, want, out)
		}
	}

	if out := cinderCLI(t, d, "quota-class-update", "--snapshots", "7", "default"); cliField(out, "snapshots") != "7" {
		t.Fatalf("quota-class-update: %s", out)
	}
	if out := cinderCLI(t, d, "quota-class-show", "default"); cliField(out, "snapshots") != "7" || cliField(out, "volumes") != "10" {
		t.Fatalf("quota-class-show: %s", out)
	}
	if out := cinderCLI(t, d, "quota-defaults", "admin"); cliField(out, "snapshots") != "7" {
		t.Fatalf("quota-defaults after the class update: %s", out)
	}

	cinderCLI(t, d, "quota-update", "--volumes", "1", "admin")
	failed, err := exec.Command("cinder", "--os-auth-type", "noauth", "--os-user-id", "admin", "--os-project-id", "admin",
		"--os-endpoint", d.endpoint, "--os-volume-api-version", "3.64", "create", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(failed), "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'. (HTTP 413)") {
		t.Fatalf("create past the quota: %v: %s", err, failed)
	}
	cinderCLI(t, d, "quota-delete", "admin")
	if out := cinderCLI(t, d, "quota-show", "admin"); cliField(out, "volumes") != "10" || cliField(out, "snapshots") != "7" {
		t.Fatalf("quota-show after quota-delete: %s", out)
	}
}

// usageRow reads a resource's In_use, Reserved and Limit in the table of
// cinder quota-usage.
func usageRow(out, resource string) []string {
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) >= 5 && strings.TrimSpace(cols[1]) == resource {
			return []string{strings.TrimSpace(cols[2]), strings.TrimSpace(cols[3]), strings.TrimSpace(cols[4])}
		}
	}
	return nil
}
