package tests

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// lifecycle drives one volume through create, list, show, update, extend
// and delete, and checks each step's visible result.
func lifecycle(t *testing.T, d *deployment) {
	t.Helper()
	id := d.createVolume(1, map[string]any{"description": "lifecycle", "metadata": map[string]string{"k": "v"}})
	v := d.waitStatus(id, "available")
	if v["size"] != float64(1) || v["description"] != "lifecycle" {
		t.Fatalf("created volume: %v", v)
	}
	if host, _ := v["os-vol-host-attr:host"].(string); host == "" {
		t.Fatalf("available volume has no host: %v", v)
	}

	list := d.do("GET", "/admin/volumes", nil, 200)["volumes"].([]any)
	if !containsID(list, id) {
		t.Fatalf("list lacks %s: %v", id, list)
	}
	detail := d.do("GET", "/admin/volumes/detail", nil, 200)["volumes"].([]any)
	if !containsID(detail, id) {
		t.Fatalf("detail lacks %s", id)
	}

	upd := d.do("PUT", "/admin/volumes/"+id, map[string]any{"volume": map[string]any{"name": "renamed"}}, 200)
	if upd["volume"].(map[string]any)["name"] != "renamed" || d.volume(id)["name"] != "renamed" {
		t.Fatalf("update did not rename: %v", upd)
	}

	d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-extend": map[string]any{"new_size": 2}}, 202)
	deadline := time.Now().Add(30 * time.Second)
	for d.volume(id)["size"] != float64(2) || d.volume(id)["status"] != "available" {
		if time.Now().After(deadline) {
			t.Fatalf("extend did not finish: %v", d.volume(id))
		}
		time.Sleep(50 * time.Millisecond)
	}

	path := devicePath(t, d, id)
	if fi, err := os.Stat(path); err != nil || fi.Size() != 2<<30 {
		t.Fatalf("device_path %s after extend: %v %v", path, fi, err)
	}

	d.do("DELETE", "/admin/volumes/"+id, nil, 202)
	d.waitStatus(id, "deleted")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("volume storage %s still there after delete: %v", path, err)
	}
}

// devicePath asks os-initialize_connection where volume id's bytes are.
func devicePath(t *testing.T, d *deployment, id string) string {
	t.Helper()
	out := d.do("POST", "/admin/volumes/"+id+"/action",
		map[string]any{"os-initialize_connection": map[string]any{"connector": map[string]any{"host": "test"}}}, 200)
	ci := out["connection_info"].(map[string]any)
	if ci["driver_volume_type"] != "local" {
		t.Fatalf("connection_info: %v", ci)
	}
	return ci["data"].(map[string]any)["device_path"].(string)
}

func containsID(list []any, id string) bool {
	for _, v := range list {
		if v.(map[string]any)["id"] == id {
			return true
		}
	}
	return false
}

func TestLifecycleAllInOne(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{})
	d.startAll()
	lifecycle(t, d)

	// A restart of cinder-all keeps every volume.
	ids := []string{d.createVolume(1, nil), d.createVolume(1, map[string]any{"volume_type": "__DEFAULT__"})}
	for _, id := range ids {
		d.waitStatus(id, "available")
	}
	d.stop("cinder-all")
	d.startAll()
	for _, id := range ids {
		if v := d.volume(id); v["status"] != "available" {
			t.Fatalf("after restart volume %s: %v", id, v)
		}
	}
}

func TestLifecycleSplitOverRabbitMQ(t *testing.T) {
	url := testenv.RabbitURL(t)
	d := newDeployment(t, setup{transport: url})
	d.startSplit()
	lifecycle(t, d)

	needProgram(t, "rabbitmqctl", "to restart the broker")
	rabbitmqctl(t, "stop_app")
	rabbitmqctl(t, "start_app")
	// The next create succeeds without restarting any service.
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, out, err := d.try("POST", "/admin/volumes", map[string]any{"volume": map[string]any{"size": 1}})
		if err == nil && code == 202 {
			id := out["volume"].(map[string]any)["id"].(string)
			d.waitStatus(id, "available")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no create accepted 90s after the broker restart: %d %v %v", code, out, err)
		}
		time.Sleep(time.Second)
	}
}

func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
	}
}

func TestLifecyclePostgreSQL(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{database: testenv.PostgresURL(t)})
	d.startAll()
	lifecycle(t, d)
}
