package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// Python's oslo.messaging RPC client calls get_capabilities on a running Go
// cinder-volume over RabbitMQ, addressed as real Cinder's volume rpcapi does
// (topic cinder-volume.<host@backend>, server <host>, version 3.0), and on
// the legacy target (topic cinder-volume, server <host@backend>).
func TestPythonOsloCallsCinderVolume(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import oslo_messaging").CombinedOutput(); err != nil {
		if testenv.Required() {
			t.Fatalf("python3-oslo.messaging is required: %v\n%s", err, out)
		}
		t.Skipf("SKIP: %s cannot import oslo_messaging: %v", python, err)
	}
	url := testenv.RabbitVhostURL(t)
	d := newDeployment(t, setup{transport: url})
	d.startSplit()

	for _, target := range []struct {
		topic, server, backend string
		sparse                 bool
	}{
		{"cinder-volume.hostA@thin", "hostA", "thin", true},
		{"cinder-volume", "hostA@thick", "thick", false},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, python, "../rpc/testdata/oslo_client.py", url, d.exchange, target.topic, target.server, "3.0")
		cmd.Stdin = strings.NewReader(`[["get_capabilities", {"discover": false}]]`)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("oslo client on %v: %v\n%s", target, err, stderr.String())
		}
		var got []struct {
			Result map[string]any `json:"result"`
			Error  map[string]any `json:"error"`
		}
		if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 {
			t.Fatalf("oslo client output %q: %v", out, err)
		}
		caps := got[0].Result
		if caps == nil || caps["volume_backend_name"] != target.backend || caps["sparse_copy_volume"] != target.sparse || caps["properties"] == nil {
			t.Fatalf("get_capabilities on %+v answered %v (error %v), want backend %s, sparse_copy_volume %v and properties",
				target, caps, got[0].Error, target.backend, target.sparse)
		}
	}
}
