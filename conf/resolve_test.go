package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvironmentOverrides(t *testing.T) {
	path := write(t, "cinder.conf", `[DEFAULT]
transport_url = rabbit://file/
enabled_backends = thin, slow.disk
[thin]
volumes_dir = /file/thin
[slow.disk]
`)
	t.Setenv("CINDER_DEFAULT_TRANSPORT_URL", "rabbit://env/")
	t.Setenv("CINDER_DEFAULT_STATE_PATH", "/env")
	t.Setenv("CINDER_DEFAULT_VOLUME_CLEAR", "none")
	t.Setenv("CINDER_THIN_VOLUMES_DIR", "/env/thin")
	t.Setenv("CINDER_SLOW_DISK_RESERVED_PERCENTAGE", "15")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	thin, slow := c.Backend("thin"), c.Backend("slow.disk")
	checks := []struct{ name, got, want string }{
		{"transport_url, over the file", c.TransportURL, "rabbit://env/"},
		{"database connection, substituted", c.DatabaseConnection, "sqlite:////env/cinder.sqlite"},
		{"thin volumes_dir, over the file", thin.VolumesDir, "/env/thin"},
		{"thin volume_clear, from DEFAULT", thin.VolumeClear, "none"},
		{"slow.disk volumes_dir, default", slow.VolumesDir, "/env/volumes/slow.disk"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if slow.ReservedPercentage != 15 {
		t.Errorf("slow.disk reserved_percentage = %d, want 15", slow.ReservedPercentage)
	}

	t.Setenv("CINDER_THIN_RESERVED_PERCENTAGE", "101")
	_, err = Load(path)
	if want := "environment CINDER_THIN_RESERVED_PERCENTAGE: [thin] reserved_percentage: 101 is not between 0 and 100"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load: %v, want error containing %q", err, want)
	}
}

func TestEmptyEnvironmentValueIsAValue(t *testing.T) {
	t.Setenv("CINDER_DEFAULT_SCHEDULER_DEFAULT_WEIGHERS", "")
	c := load(t, "[DEFAULT]\nscheduler_default_weighers = CapacityWeigher\n")
	if len(c.SchedulerDefaultWeighers) != 0 {
		t.Errorf("weighers = %q, want none", c.SchedulerDefaultWeighers)
	}
}

func TestLaterFileWins(t *testing.T) {
	files := []string{
		write(t, "1.conf", "[DEFAULT]\nhost = one\nenabled_backends = b\n[b]\nvolume_driver = thick\nvolume_clear = shred\n"),
		write(t, "2.conf", "[DEFAULT]\nhost = two\nstorage_availability_zone = az2\n[b]\nvolume_clear = wipe\n"),
		write(t, "3.conf", "[DEFAULT]\nhost = three\n[b]\n"),
	}
	_, err := Load(files...)
	if want := files[1] + ": [b] volume_clear:"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load: %v, want error naming the last file to set it, %q", err, want)
	}
	fix := write(t, "4.conf", "[b]\nvolume_clear = none\n")
	c, err := Load(append(files, fix)...)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Backend("b")
	if c.Host != "three" || c.StorageAvailabilityZone != "az2" || b.VolumeDriver != "thick" || b.VolumeClear != "none" {
		t.Errorf("host %q, zone %q, volume_driver %q, volume_clear %q: want three, az2, thick, none",
			c.Host, c.StorageAvailabilityZone, b.VolumeDriver, b.VolumeClear)
	}
}

func TestEachFileParsedOnce(t *testing.T) {
	files := []string{
		write(t, "a.conf", "[DEFAULT]\nenabled_backends = x, y\n[x]\n"),
		write(t, "b.conf", "[DEFAULT]\nhost = $my_ip\nmy_ip = 10.0.0.1\n[y]\nvolume_backend_name = ${x.volume_backend_name}2\n"),
	}
	parses := map[string]int{}
	counting := func(data []byte) (map[string]map[string]any, error) {
		parses[string(data)]++
		return parseINI(data)
	}
	c, err := loadWith(counting, files)
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "10.0.0.1" || c.Backend("y").VolumeBackendName != "x2" {
		t.Errorf("host %q, y's volume_backend_name %q: want 10.0.0.1, x2", c.Host, c.Backend("y").VolumeBackendName)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := parses[string(data)]; n != 1 {
			t.Errorf("%s parsed %d times, want once", filepath.Base(f), n)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	files := []string{filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")}
	for i, text := range []string{
		"[DEFAULT]\nhost = node1\nstate_path = /srv/cinder\nenabled_backends = thin,thick\ntransport_url = rabbit://u:p@h1:5672/,\n  rabbit://u:p@h2:5672/\n[database]\nconnection = sqlite:///$state_path/c.sqlite\n[thin]\nvolume_driver = thin\n[thick]\nvolume_driver = thick\nvolume_clear = none\n",
		"[DEFAULT]\nreport_interval = 5\n[thick]\nreserved_percentage = 10\n",
	} {
		if err := os.WriteFile(files[i], []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(files...); err != nil {
			b.Fatal(err)
		}
	}
}
