package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run runs binary with args and returns its combined output and exit error.
func run(binary string, args ...string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, binary), args...).CombinedOutput()
	return string(out), err
}

func TestCinderManage(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{})
	out, err := run("cinder-manage", "--config-file", d.conf, "db", "sync")
	if err != nil || !strings.Contains(out, "database schema at version") {
		t.Fatalf("db sync: %v\n%s", err, out)
	}
	version, err := run("cinder-manage", "--config-file", d.conf, "db", "version")
	if err != nil || strings.TrimSpace(version) == "0" {
		t.Fatalf("db version after sync: %v %q", err, version)
	}

	d.startAll()
	out, err = run("cinder-manage", "--config-file", d.conf, "service", "list")
	if err != nil {
		t.Fatalf("service list: %v\n%s", err, out)
	}
	for _, want := range []string{"cinder-scheduler", "hostA@thin", "hostA@thick", ":-)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("service list lacks %q:\n%s", want, out)
		}
	}
	d.stop("cinder-all")

	if out, err := run("cinder-manage", "--config-file", d.conf, "frobnicate"); err == nil || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %v\n%s", err, out)
	}
}

// A bad configuration stops every binary at once with a one-line reason.
func TestBadConfigExitsWithAReason(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "[DEFAULT]\nstate_path = " + dir + "\nenabled_backends = b1\nosapi_volume_listen_port = 0\n"
	cases := []struct{ name, conf, want string }{
		{"unknown driver", write("driver.conf", base+"[b1]\nvolume_driver = lvm\n"), "volume_driver"},
		{"malformed", write("malformed.conf", "[DEFAULT\nhost = x\n"), "malformed.conf"},
		{"missing file", filepath.Join(dir, "absent.conf"), "absent.conf"},
		{"bad number", write("number.conf", base+"report_interval = soon\n[b1]\nvolume_driver = thin\n"), "report_interval"},
	}
	for _, c := range cases {
		for _, binary := range []string{"cinder-all", "cinder-volume", "cinder-api", "cinder-scheduler"} {
			t.Run(c.name+"/"+binary, func(t *testing.T) {
				out, err := run(binary, "--config-file", c.conf)
				if err == nil {
					t.Fatalf("%s started with a bad config:\n%s", binary, out)
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
					t.Fatalf("want one line naming %q, got:\n%s", c.want, out)
				}
			})
		}
	}
}
