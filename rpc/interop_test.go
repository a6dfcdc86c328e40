package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// python is the interpreter that sees Debian's python3-oslo.messaging.
const python = "/usr/bin/python3"

// needOslo skips the test when python3-oslo.messaging or real Cinder's
// exceptions (python3-cinder) are missing, unless services are required.
func needOslo(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import oslo_messaging, cinder.exception").CombinedOutput(); err != nil {
		if testenv.Required() {
			t.Fatalf("%s cannot import oslo_messaging and cinder.exception (CINDER_TEST_REQUIRE_SERVICES=1): %v\n%s", python, err, out)
		}
		t.Skipf("SKIP: %s cannot import oslo_messaging and cinder.exception (apt-get install python3-oslo.messaging python3-cinder): %v", python, err)
	}
}

// TestPythonClientCallsGoServer has oslo.messaging's RPC client call a Go
// server as cinder-api would call cinder-volume.
func TestPythonClientCallsGoServer(t *testing.T) {
	needOslo(t)
	e := newEnv(t, testenv.RabbitURL(t))
	s := NewServer(e.tr, []Target{{Topic: "cinder-volume", Server: "hostA@thin"}}, volumeEndpoint())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	calls := `[["get_capabilities", {"discover": true}], ["delete_volume", {"volume_id": "v9"}], ["crash", {}], ["no_such", {}]]`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/oslo_client.py", e.url, e.exchange, "cinder-volume", "hostA@thin", "3.0")
	cmd.Stdin = strings.NewReader(calls)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo client: %v\n%s", err, stderr.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("oslo client output %q: %v", out, err)
	}
	want := []map[string]any{
		{"result": map[string]any{"volume_backend_name": "thin", "discover": true, "ctxt_user": "u-python",
			"ctxt_project": "p-python", "ctxt_roles": []any{"member"}, "ctxt_admin": false}},
		// cinder.exception is in the client's allowed_remote_exmods: the real class, with its code.
		{"error": map[string]any{"class": "VolumeNotFound_Remote", "module": "cinder.exception_Remote", "exc_type": nil,
			"code": 404.0, "message": "Volume v9 could not be found."}},
		{"error": map[string]any{"class": "Exception", "module": "builtins", "exc_type": nil,
			"code": nil, "message": "disk on fire"}},
		{"error": map[string]any{"class": "RemoteError", "module": "oslo_messaging.rpc.client", "exc_type": "NoSuchMethod",
			"code": nil, "message": "Remote error: NoSuchMethod Endpoint does not support RPC method no_such"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("oslo client got\n%v\nwant\n%v", got, want)
	}
}

// TestGoClientCallsPythonServer has a Go client call oslo.messaging's RPC
// server, as cinder-go's API would call a Python cinder-volume.
func TestGoClientCallsPythonServer(t *testing.T) {
	needOslo(t)
	e := newEnv(t, testenv.RabbitURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/oslo_server.py", e.url, e.exchange, e.topic, "hostA@thin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := stdin.Close(); err != nil {
			t.Error(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("oslo server: %v\n%s", err, stderr.String())
		}
	}
	defer stop()
	t.Cleanup(func() { e.deleteQueues(t, e.topic, e.topic+".hostA@thin") }) // oslo leaves them
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "READY\n" {
			err = errors.New("unexpected output " + line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("oslo server did not start: %v\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("oslo server did not start in time\n%s", stderr.String())
	}

	c := NewClient(e.tr, Target{Topic: e.topic, Server: "hostA@thin", Version: "3.0"}, 10*time.Second)
	var caps map[string]any
	if err := c.Call(userContext(), "get_capabilities", map[string]bool{"discover": true}, &caps); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"volume_backend_name": "thin", "vendor_name": "Open Source", "discover": true,
		"ctxt_user": "u1", "ctxt_roles": []any{"member", "reader"}}
	if !reflect.DeepEqual(caps, want) {
		t.Errorf("get_capabilities = %v, want %v", caps, want)
	}

	// checkRemote fails t unless err is a RemoteError of module.class
	// saying message, and returns its traceback.
	checkRemote := func(err error, module, class, message string) (traceback []string) {
		t.Helper()
		var re *RemoteError
		if !errors.As(err, &re) || re.Module != module || re.Class != class || re.Message != message {
			t.Fatalf("error = %#v, want RemoteError %s.%s %q", err, module, class, message)
		}
		return re.Traceback
	}
	tb := checkRemote(c.Call(userContext(), "fail", map[string]string{"message": "bad thing"}, nil), "builtins", "ValueError", "bad thing")
	if len(tb) == 0 || !strings.Contains(strings.Join(tb, ""), "ValueError: bad thing") {
		t.Errorf("traceback = %q, want Python's", tb)
	}
	checkRemote(c.Call(userContext(), "no_such", nil, nil), "oslo_messaging.rpc.dispatcher", "NoSuchMethod",
		"Endpoint does not support RPC method no_such")
	checkRemote(c.Prepare("", "", "4.0", 0).Call(userContext(), "get_capabilities", nil, nil), "oslo_messaging.rpc.dispatcher",
		"UnsupportedVersion", "Endpoint does not support RPC version 4.0. Attempted method: get_capabilities")

	// A cast and a call through the topic queue (no server) reach it too.
	topic := NewClient(e.tr, Target{Topic: e.topic, Version: "3.1"}, 10*time.Second)
	if err := topic.Cast(userContext(), "get_capabilities", nil); err != nil {
		t.Fatal(err)
	}
	caps = nil
	if err := topic.Call(userContext(), "get_capabilities", nil, &caps); err != nil || caps["discover"] != false {
		t.Errorf("call via the topic queue = %v, %v", caps, err)
	}
	stop()
}
