package conf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// write puts a cinder.conf with the given text in a fresh directory.
func write(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Load(write(t, "cinder.conf", text))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := &Config{
		Host:                         host,
		StatePath:                    "/var/lib/cinder",
		TransportURL:                 "fake://",
		ControlExchange:              "openstack",
		RPCResponseTimeout:           60 * time.Second,
		APIListen:                    "0.0.0.0",
		APIPort:                      8776,
		AuthStrategy:                 "noauth",
		DefaultVolumeType:            "__DEFAULT__",
		StorageAvailabilityZone:      "nova",
		ReportInterval:               10 * time.Second,
		ServiceDownTime:              60 * time.Second,
		BackendStatsPollingInterval:  60 * time.Second,
		SchedulerDefaultFilters:      []string{"AvailabilityZoneFilter", "CapacityFilter", "CapabilitiesFilter"},
		SchedulerDefaultWeighers:     []string{"CapacityWeigher"},
		MigrationCreateVolumeTimeout: 300 * time.Second,
		PeriodicInterval:             60 * time.Second,
		SchedulerDriverInitWaitTime:  60 * time.Second,
		SchedulerCreateVolumeTimeout: 300 * time.Second,
		QuotaVolumes:                 10,
		QuotaSnapshots:               10,
		QuotaGigabytes:               1000,
		QuotaBackups:                 10,
		QuotaBackupGigabytes:         1000,
		QuotaGroups:                  10,
		PerVolumeSizeLimit:           -1,
		UseDefaultQuotaClass:         true,
		ReservationExpire:            86400 * time.Second,
		ReservationCleanInterval:     86400 * time.Second,
		BackupDriver:                 "cinder.backup.drivers.posix.PosixBackupDriver",
		BackupPosixPath:              "/var/lib/cinder/backup",
		BackupFileSize:               1999994880,
		BackupSHABlockSize:           32768,
		BackupCompression:            "zlib",
		DatabaseConnection:           "sqlite:////var/lib/cinder/cinder.sqlite",
		DatabaseMaxPoolSize:          5,
		DatabaseMaxOverflow:          50,
		Keystone: Keystone{UserDomainName: "Default", ProjectDomainName: "Default", ServiceTokenRoles: []string{"service"},
			TokenCacheTime: 300 * time.Second, Timeout: 10 * time.Second},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", c, want)
	}
}

func TestBackendDefaults(t *testing.T) {
	c := load(t, "[DEFAULT]\nhost = node1\nstate_path = /srv/cinder\nenabled_backends = lvm\n[lvm]\n")
	want := &Backend{
		Name:                     "lvm",
		VolumeDriver:             "thin",
		VolumeBackendName:        "lvm",
		BackendHost:              "node1",
		VolumesDir:               "/srv/cinder/volumes/lvm",
		MaxOverSubscriptionRatio: 20,
		VolumeClear:              "zero",
		VolumeDDBlocksize:        1 << 20,
		AvailabilityZone:         "nova",
	}
	if got := c.Backend("lvm"); !reflect.DeepEqual(got, want) {
		t.Errorf("Backend(lvm) =\n%+v\nwant\n%+v", got, want)
	}
	if c.Backend("nope") != nil {
		t.Error("Backend(nope) is not nil")
	}
}

func TestOverrideOrder(t *testing.T) {
	first := write(t, "a.conf", "[DEFAULT]\nhost = first\nreport_interval = 5\nenabled_backends = b1\n[b1]\nvolume_driver = thick\nreserved_percentage = 7\n")
	second := write(t, "b.conf", "[DEFAULT]\nhost = second\n[b1]\nreserved_percentage = 9\n")
	c, err := Load(first, second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "second" || c.ReportInterval != 5*time.Second {
		t.Errorf("host %q, report_interval %v: want second, 5s", c.Host, c.ReportInterval)
	}
	b := c.Backend("b1")
	if b.ReservedPercentage != 9 || b.VolumeDriver != "thick" {
		t.Errorf("reserved_percentage %d, volume_driver %q: want 9, thick", b.ReservedPercentage, b.VolumeDriver)
	}
	c, err = Load(second, first)
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "first" || c.Backend("b1").ReservedPercentage != 7 {
		t.Errorf("reversed order: host %q, reserved_percentage %d: want first, 7", c.Host, c.Backend("b1").ReservedPercentage)
	}
}

func TestRepeatedOptionKeepsLast(t *testing.T) {
	c := load(t, "[DEFAULT]\nhost = one\nhost = two\n")
	if c.Host != "two" {
		t.Errorf("host = %q, want two", c.Host)
	}
}

func TestSubstitution(t *testing.T) {
	c := load(t, `[DEFAULT]
state_path = /srv/$top/state
top = base
my_ip = 10.0.0.1
transport_url = rabbit://u:p$$w@${my_ip}:5672/
control_exchange = \$literal $ 5$
enabled_backends = b1,b2
[database]
connection = postgresql://$database.user@db/$top
user = cinder
[b1]
sub = disk
volumes_dir = ${state_path}/$sub/x
[b2]
volume_backend_name = ${b1.sub}-two
`)
	checks := []struct{ name, got, want string }{
		{"state_path", c.StatePath, "/srv/base/state"},
		{"transport_url", c.TransportURL, "rabbit://u:p$w@10.0.0.1:5672/"},
		{"control_exchange", c.ControlExchange, "$literal $ 5$"},
		{"connection", c.DatabaseConnection, "postgresql://cinder@db/base"},
		{"b1 volumes_dir", c.Backend("b1").VolumesDir, "/srv/base/state/disk/x"},
		{"b2 volumes_dir (default)", c.Backend("b2").VolumesDir, "/srv/base/state/volumes/b2"},
		{"b2 volume_backend_name", c.Backend("b2").VolumeBackendName, "disk-two"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
}

func TestDefaultConnectionUsesStatePath(t *testing.T) {
	c := load(t, "[DEFAULT]\nstate_path = /data\n")
	if c.DatabaseConnection != "sqlite:////data/cinder.sqlite" {
		t.Errorf("connection = %q", c.DatabaseConnection)
	}
}

func TestSubstitutionErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"unknown", "[DEFAULT]\nhost = $nope\n", "[DEFAULT] host: unknown option $nope"},
		{"unknown nested", "[DEFAULT]\nhost = $a\na = x$nope\n", "[DEFAULT] a: unknown option $nope"},
		{"unknown group", "[DEFAULT]\nhost = ${other.x}\n", "[DEFAULT] host: unknown option $other.x"},
		{"loop", "[DEFAULT]\nhost = $a\na = $host\n", "refers back to itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, "cinder.conf", tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestLists(t *testing.T) {
	c := load(t, "[DEFAULT]\nscheduler_default_filters = A , B,,C \nscheduler_default_weighers =\nenabled_backends = x, y\n[x]\n[y]\n")
	if want := []string{"A", "B", "C"}; !reflect.DeepEqual(c.SchedulerDefaultFilters, want) {
		t.Errorf("filters = %q, want %q", c.SchedulerDefaultFilters, want)
	}
	if len(c.SchedulerDefaultWeighers) != 0 {
		t.Errorf("weighers = %q, want none", c.SchedulerDefaultWeighers)
	}
	if want := []string{"x", "y"}; !reflect.DeepEqual(c.EnabledBackends, want) {
		t.Errorf("enabled_backends = %q, want %q", c.EnabledBackends, want)
	}
}

// TestBooleans reads backup_use_same_host as oslo.config reads a BoolOpt.
func TestBooleans(t *testing.T) {
	for text, want := range map[string]bool{"True": true, "yes": true, "1": true, "ON": true, "false": false, "No": false, "0": false, "off": false} {
		if c := load(t, "[DEFAULT]\nbackup_use_same_host = "+text+"\n"); c.BackupUseSameHost != want {
			t.Errorf("backup_use_same_host = %s: %v, want %v", text, c.BackupUseSameHost, want)
		}
	}
}

func TestBackendSections(t *testing.T) {
	c := load(t, `[DEFAULT]
enabled_backends = Fast, slow.disk
volume_clear = none
reserved_percentage = 5
[Fast]
volume_driver = thick
reserved_percentage = 10
total_capacity_gb = 2.5
[slow.disk]
volume_backend_name = SLOW
max_over_subscription_ratio = auto
volume_dd_blocksize = 4Mi
[unused]
volume_driver = bogus
`)
	if len(c.Backends) != 2 || c.Backends[0].Name != "Fast" || c.Backends[1].Name != "slow.disk" {
		t.Fatalf("backends %+v, want Fast then slow.disk", c.Backends)
	}
	fast, slow := c.Backends[0], c.Backends[1]
	if fast.VolumeDriver != "thick" || fast.ReservedPercentage != 10 || fast.TotalCapacityGB != 2.5 || fast.VolumeClear != "none" {
		t.Errorf("Fast = %+v", fast)
	}
	if slow.VolumeBackendName != "SLOW" || slow.ReservedPercentage != 5 || slow.MaxOverSubscriptionRatio != 20 || slow.VolumeDDBlocksize != 4<<20 {
		t.Errorf("slow.disk = %+v", slow)
	}
}

func TestBackendErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"missing section", "[DEFAULT]\nenabled_backends = a,b\n[a]\n", `enabled backend "b" has no [b] section`},
		{"twice", "[DEFAULT]\nenabled_backends = a,A\n[a]\n", `backend "A" is listed twice`},
		{"host separator", "[DEFAULT]\nenabled_backends = a@b\n[a@b]\n", "must not contain"},
		{"path separator", "[DEFAULT]\nenabled_backends = ../b\n[../b]\n", "must not contain"},
		{"DEFAULT", "[DEFAULT]\nenabled_backends = DEFAULT\n", "not a backend section"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, "cinder.conf", tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct{ name, option, want string }{
		{"volume_clear", "volume_clear = shred", `[b] volume_clear: "shred" is not one of none, zero`},
		{"volume_driver", "volume_driver = lvm", `[b] volume_driver: "lvm" is not one of thin, thick`},
		{"reserved high", "reserved_percentage = 101", "[b] reserved_percentage: 101 is not between 0 and 100"},
		{"reserved low", "reserved_percentage = -1", "[b] reserved_percentage: -1 is not between 0 and 100"},
		{"reserved not int", "reserved_percentage = ten", `[b] reserved_percentage: "ten" is not an integer`},
		{"ratio", "max_over_subscription_ratio = 0.5", "[b] max_over_subscription_ratio: 0.5 is not a finite number of at least 1"},
		{"ratio word", "max_over_subscription_ratio = lots", `[b] max_over_subscription_ratio: "lots" is not a number`},
		{"blocksize", "volume_dd_blocksize = 1.5M", `[b] volume_dd_blocksize: invalid blocksize "1.5M"`},
		{"clear size", "volume_clear_size = 2048", "[b] volume_clear_size: 2048 is not between 0 and 1024"},
		{"bps limit", "volume_copy_bps_limit = -5", "[b] volume_copy_bps_limit: -5 is negative"},
		{"capacity", "total_capacity_gb = inf", "[b] total_capacity_gb: inf is not a finite number"},
		{"volumes_dir", "volumes_dir = ", "[b] volumes_dir: empty path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, "cinder.conf", "[DEFAULT]\nenabled_backends = b\n[b]\n"+tc.option+"\n")
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), path+": "+tc.want) {
				t.Fatalf("Load: %v\nwant error containing %q", err, path+": "+tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestDefaultSectionValidation(t *testing.T) {
	for _, tc := range []struct{ option, want string }{
		{"report_interval = 0", "[DEFAULT] report_interval: 0 is not between 1 and"},
		{"service_down_time = soon", `[DEFAULT] service_down_time: "soon" is not an integer`},
		{"backend_stats_polling_interval = 2", "[DEFAULT] backend_stats_polling_interval: 2 is not between 3 and"},
		{"osapi_volume_listen_port = 70000", "[DEFAULT] osapi_volume_listen_port: 70000 is not between 0 and 65535"},
		{"backup_driver = swift", `[DEFAULT] backup_driver: "swift" is not one of posix, cinder.backup.drivers.posix.PosixBackupDriver`},
		{"backup_compression_algorithm = lz4", `[DEFAULT] backup_compression_algorithm: "lz4" is not one of none`},
		{"backup_file_size = 1000", "[DEFAULT] backup_file_size: 1000 is not a positive multiple of backup_sha_block_size_bytes 32768"},
		{"quota_backups = -2", "[DEFAULT] quota_backups: -2 is not between -1 and"},
		{"backup_use_same_host = maybe", `[DEFAULT] backup_use_same_host: "maybe" is not a boolean`},
		{"quota_volumes = ten", `[DEFAULT] quota_volumes: "ten" is not an integer`},
		{"use_default_quota_class = maybe", `[DEFAULT] use_default_quota_class: "maybe" is not a boolean`},
		{"reservation_expire = 0", "[DEFAULT] reservation_expire: 0 is not between 1 and"},
	} {
		path := write(t, "cinder.conf", "[DEFAULT]\n"+tc.option+"\n")
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), path+": "+tc.want) {
			t.Errorf("%s: Load: %v, want error containing %q", tc.option, err, path+": "+tc.want)
		}
	}
}

// TestReservationCleanInterval: reservation_clean_interval defaults to
// reservation_expire, as Cinder's $reservation_expire, unless set.
func TestReservationCleanInterval(t *testing.T) {
	for body, want := range map[string]time.Duration{
		"reservation_expire = 600\n":                                  600 * time.Second,
		"reservation_expire = 600\nreservation_clean_interval = 30\n": 30 * time.Second,
	} {
		cfg, err := Load(write(t, "cinder.conf", "[DEFAULT]\n"+body))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ReservationCleanInterval != want {
			t.Errorf("%q: reservation_clean_interval %v, want %v", body, cfg.ReservationCleanInterval, want)
		}
	}
}

func TestDatabaseSectionValidation(t *testing.T) {
	for _, tc := range []struct{ option, want string }{
		{"max_pool_size = 0", "[database] max_pool_size: 0 is not between 1 and"},
		{"max_overflow = -1", "[database] max_overflow: -1 is not between 0 and"},
		{"max_overflow = many", `[database] max_overflow: "many" is not an integer`},
	} {
		path := write(t, "cinder.conf", "[database]\n"+tc.option+"\n")
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), path+": "+tc.want) {
			t.Errorf("%s: Load: %v, want error containing %q", tc.option, err, path+": "+tc.want)
		}
	}
}

func TestBadDefaultFallbackNamesItsFile(t *testing.T) {
	path := write(t, "cinder.conf", "[DEFAULT]\nenabled_backends = b\nvolume_clear = wipe\n[b]\n")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+": [b] volume_clear:") {
		t.Fatalf("Load: %v, want the DEFAULT value's file named", err)
	}
}

func TestMalformedFile(t *testing.T) {
	path := write(t, "cinder.conf", "[DEFAULT]\nhost = a\n[broken\nx = 1\n")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Load: %v, want a one-line error naming %s", err, path)
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.conf")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load: %v, want an error naming %s", err, path)
	}
}

func TestMultilineAndComments(t *testing.T) {
	c := load(t, "# comment\n[DEFAULT]\n; other comment\nhost = a#b\ntransport_url = rabbit://h1,\n  rabbit://h2\n")
	if c.Host != "a#b" {
		t.Errorf("host = %q: oslo.config keeps inline '#'", c.Host)
	}
	if c.TransportURL != "rabbit://h1,\nrabbit://h2" {
		t.Errorf("transport_url = %q, want the continuation line joined", c.TransportURL)
	}
}

func TestParseBlocksize(t *testing.T) {
	for s, want := range map[string]int64{
		"1M": 1 << 20, "512K": 512 << 10, "4096": 4096, "1Mi": 1 << 20, "1G": 1 << 30, "+8K": 8 << 10, "1Gi": 1 << 30,
	} {
		if got, err := ParseBlocksize(s); err != nil || got != want {
			t.Errorf("ParseBlocksize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1M", "0", "01M", "+0", "1.5M", ".5M", "1MB", "1k", "1 M", "M", "2T", "99999999999999999999", "1X"} {
		if got, err := ParseBlocksize(s); err == nil {
			t.Errorf("ParseBlocksize(%q) = %d, want an error", s, got)
		}
	}
}
