package tests

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/cinder-go/cinder/internal/testfile"
)

// attachCLI runs Debian's cinder CLI at microversion 3.54, where
// attachments take a mode.
func attachCLI(t *testing.T, d *deployment, args ...string) string {
	t.Helper()
	return cinderCLI(t, d, append([]string{"--os-volume-api-version", "3.54"}, args...)...)
}

// cinderCLIFails runs the cinder CLI, which must fail, and returns what it printed.
func cinderCLIFails(t *testing.T, d *deployment, args ...string) string {
	t.Helper()
	base := []string{"--os-auth-type", "noauth", "--os-user-id", "admin", "--os-project-id", "admin",
		"--os-endpoint", d.endpoint, "--os-volume-api-version", "3.54"}
	out, err := exec.Command("cinder", append(base, args...)...).CombinedOutput()
	if err == nil {
		t.Fatalf("cinder %s succeeded, want a failure:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// volumeAction runs method (reserve, unreserve, begin_detaching,
// roll_detaching) of Debian's python-cinderclient library on volume id:
// the cinder CLI has no command for these actions.
func volumeAction(t *testing.T, d *deployment, method, id string) {
	t.Helper()
	if out, err := volumesCall(d, method, id); err != nil {
		t.Fatalf("cinderclient volumes.%s(%s): %v\n%s", method, id, err, out)
	}
}

// volumesCall runs method of python-cinderclient's volumes manager on
// volume id with the string arguments args, and returns what it printed.
func volumesCall(d *deployment, method, id string, args ...string) ([]byte, error) {
	const script = `import sys
from keystoneauth1 import session
from cinderclient import client
from cinderclient.contrib import noauth
endpoint, method, volume, *args = sys.argv[1:]
auth = noauth.CinderNoAuthPlugin("admin", "admin", endpoint=endpoint)
getattr(client.Client("3.54", session=session.Session(auth=auth)).volumes, method)(volume, *args)
`
	return exec.Command("/usr/bin/python3", append([]string{"-c", script, d.endpoint, method, id}, args...)...).CombinedOutput()
}

// showField is a field of `cinder show` of volume id.
func showField(t *testing.T, d *deployment, id, field string) string {
	t.Helper()
	return cliField(cinderCLI(t, d, "show", id), field)
}

// TestCinderCLIAttachments drives attachments and the attach actions with
// Debian's cinder CLI and python-cinderclient against cinder-all: a
// reservation, a connection whose device path holds the volume's bytes,
// completion, deletion; reserve, unreserve, begin and roll back a detach;
// reset-state of the attach status; a multiattach volume's two instances.
func TestCinderCLIAttachments(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	const server = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	vol := cliField(cinderCLI(t, d, "create", "--volume-type", "__DEFAULT__", "--name", "att", "1"), "id")
	d.waitStatus(vol, "available")

	out := attachCLI(t, d, "attachment-create", vol, server)
	att := cliField(out, "id")
	if cliField(out, "status") != "reserved" || cliField(out, "instance") != server || cliField(out, "volume_id") != vol {
		t.Fatalf("attachment-create:\n%s", out)
	}
	if st := showField(t, d, vol, "status"); st != "reserved" {
		t.Fatalf("volume after attachment-create: %s", st)
	}
	if out := attachCLI(t, d, "attachment-list"); !strings.Contains(out, att) || !strings.Contains(out, "reserved") {
		t.Fatalf("attachment-list:\n%s", out)
	}
	out = cinderCLIFails(t, d, "attachment-create", vol)
	if !strings.Contains(out, "status must be available or downloading to reserve, but the current status is reserved") {
		t.Fatalf("a second attachment of a volume that is not multiattach:\n%s", out)
	}

	// The update connects: its connection info gives the path of the bytes.
	out = attachCLI(t, d, "attachment-update", att, "--host", "node1", "--mountpoint", "/dev/vdb")
	path := cliField(out, "device_path")
	if path == "" || cliField(out, "driver_volume_type") != "local" || cliField(out, "attachment_id") != att {
		t.Fatalf("attachment-update:\n%s", out)
	}
	fill(t, path, spread(4, 64<<10), 0x5A)
	written := testfile.Checksum(t, path)
	out = attachCLI(t, d, "attachment-show", att)
	if cliField(out, "status") != "attaching" || cliField(out, "attach_mode") != "rw" || cliField(out, "device_path") != path {
		t.Fatalf("attachment-show after the update:\n%s", out)
	}
	if st := showField(t, d, vol, "status"); st != "attaching" {
		t.Fatalf("volume after attachment-update: %s", st)
	}
	attachCLI(t, d, "attachment-complete", att)
	out = cinderCLI(t, d, "show", vol)
	if cliField(out, "status") != "in-use" || !strings.Contains(cliField(out, "attachment_ids"), att) ||
		!strings.Contains(cliField(out, "attached_servers"), server) {
		t.Fatalf("show after attachment-complete:\n%s", out)
	}
	if st := cliField(attachCLI(t, d, "attachment-show", att), "status"); st != "attached" {
		t.Fatalf("attachment after attachment-complete: %s", st)
	}
	// What was written through the device path is the volume's: a clone has it.
	clone := cliField(cinderCLI(t, d, "create", "--source-volid", vol, "1"), "id")
	d.waitStatus(clone, "available")
	if testfile.Checksum(t, devicePath(t, d, clone)) != written {
		t.Fatal("the clone of the attached volume lacks what was written through its device path")
	}
	if out := cinderCLIFails(t, d, "delete", vol); !strings.Contains(out, "must not be migrating, attached") {
		t.Fatalf("delete of an attached volume:\n%s", out)
	}
	attachCLI(t, d, "attachment-delete", att)
	if st := showField(t, d, vol, "status"); st != "available" {
		t.Fatalf("volume after attachment-delete: %s", st)
	}
	if out := attachCLI(t, d, "attachment-list"); strings.Contains(out, att) {
		t.Fatalf("attachment-list after the delete:\n%s", out)
	}

	// The attach actions.
	volumeAction(t, d, "reserve", vol)
	if st := showField(t, d, vol, "status"); st != "attaching" {
		t.Fatalf("after reserve: %s", st)
	}
	volumeAction(t, d, "unreserve", vol)
	if st := showField(t, d, vol, "status"); st != "available" {
		t.Fatalf("after unreserve: %s", st)
	}
	att = cliField(attachCLI(t, d, "attachment-create", "--connect", "True", "--host", "node1", "--mode", "ro", vol, server), "id")
	if out := attachCLI(t, d, "attachment-show", att); cliField(out, "attach_mode") != "ro" || cliField(out, "status") != "attaching" {
		t.Fatalf("attachment created with a connector, ro:\n%s", out)
	}
	attachCLI(t, d, "attachment-complete", att)
	volumeAction(t, d, "begin_detaching", vol)
	if st := showField(t, d, vol, "status"); st != "detaching" {
		t.Fatalf("after begin_detaching: %s", st)
	}
	volumeAction(t, d, "roll_detaching", vol)
	if st := showField(t, d, vol, "status"); st != "in-use" {
		t.Fatalf("after roll_detaching: %s", st)
	}
	cinderCLI(t, d, "reset-state", "--attach-status", "detached", vol)
	if out := cinderCLI(t, d, "show", vol); cliField(out, "status") != "available" || cliField(out, "attachment_ids") != "[]" {
		t.Fatalf("show after reset-state --attach-status detached:\n%s", out)
	}

	// A multiattach volume takes a second instance.
	cinderCLI(t, d, "type-create", "multi")
	cinderCLI(t, d, "type-key", "multi", "set", "multiattach=<is> True")
	multi := cliField(cinderCLI(t, d, "create", "--volume-type", "multi", "1"), "id")
	d.waitStatus(multi, "available")
	var atts []string
	for _, s := range []string{server, "9d6b3a8e-0f52-4b5e-8a0c-7d1f2e3c4b5a"} {
		a := cliField(attachCLI(t, d, "attachment-create", "--connect", "True", "--host", "node1", multi, s), "id")
		attachCLI(t, d, "attachment-complete", a)
		atts = append(atts, a)
	}
	out = cinderCLI(t, d, "show", multi)
	if cliField(out, "status") != "in-use" || cliField(out, "multiattach") != "True" ||
		!strings.Contains(cliField(out, "attachment_ids"), atts[0]) || !strings.Contains(cliField(out, "attachment_ids"), atts[1]) {
		t.Fatalf("show of a volume attached twice:\n%s", out)
	}
	attachCLI(t, d, "attachment-delete", atts[0])
	if st := showField(t, d, multi, "status"); st != "in-use" {
		t.Fatalf("after deleting one of two attachments: %s", st)
	}
	attachCLI(t, d, "attachment-delete", atts[1])
	if st := showField(t, d, multi, "status"); st != "available" {
		t.Fatalf("after deleting both attachments: %s", st)
	}
}

// TestCinderCLIReadonlyAttach: a volume flagged readonly with Debian's
// cinder CLI attaches ro only, as Cinder: python-cinderclient's attach in
// rw is refused with InvalidVolumeAttachMode and changes nothing, in ro
// the volume is in-use with an ro attachment; attachment-create --mode rw
// gives an ro attachment whose connection info says access_mode ro.
func TestCinderCLIReadonlyAttach(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{})
	d.startAll()
	const server = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	vol := cliField(cinderCLI(t, d, "create", "--name", "ro", "1"), "id")
	d.waitStatus(vol, "available")
	cinderCLI(t, d, "readonly-mode-update", vol, "True")
	if md := showField(t, d, vol, "metadata"); !strings.Contains(md, "readonly") || !strings.Contains(md, "True") {
		t.Fatalf("metadata after readonly-mode-update: %s", md)
	}

	out, err := volumesCall(d, "attach", vol, server, "/dev/vdb", "rw")
	if err == nil || !strings.Contains(string(out), "Invalid attaching mode 'rw' for volume "+vol+".") || !strings.Contains(string(out), "400") {
		t.Fatalf("attach in rw: %v\n%s", err, out)
	}
	if st := showField(t, d, vol, "status"); st != "available" {
		t.Fatalf("volume after a refused attach: %s", st)
	}
	if out := attachCLI(t, d, "attachment-list", "--volume-id", vol); strings.Contains(out, vol) {
		t.Fatalf("attachments after a refused attach:\n%s", out)
	}
	if out, err := volumesCall(d, "attach", vol, server, "/dev/vdb", "ro"); err != nil {
		t.Fatalf("attach in ro: %v\n%s", err, out)
	}
	d.waitStatus(vol, "in-use")
	out2 := attachCLI(t, d, "attachment-list", "--volume-id", vol)
	if !strings.Contains(out2, server) || !strings.Contains(out2, "attached") {
		t.Fatalf("attachments after attach in ro:\n%s", out2)
	}
	if out, err := volumesCall(d, "detach", vol); err != nil {
		t.Fatalf("detach: %v\n%s", err, out)
	}
	d.waitStatus(vol, "available")

	out3 := attachCLI(t, d, "attachment-create", vol, server, "--mode", "rw", "--connect", "True", "--host", "node1", "--mountpoint", "/dev/vdc")
	att := cliField(out3, "id")
	if cliField(out3, "access_mode") != "ro" {
		t.Fatalf("attachment-create --mode rw of a readonly volume:\n%s", out3)
	}
	if mode := cliField(attachCLI(t, d, "attachment-show", att), "attach_mode"); mode != "ro" {
		t.Fatalf("attach_mode of the attachment: %q", mode)
	}
	attachCLI(t, d, "attachment-delete", att)
	d.waitStatus(vol, "available")
}
