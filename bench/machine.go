package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// machine says where the benchmark ran.
type machine struct {
	CPUs        int               `json:"cpus"`
	Kernel      string            `json:"kernel"`
	MemoryGiB   float64           `json:"memory_gib"`
	Filesystem  string            `json:"filesystem"` // of the work dir: type, device, mount options
	DropsCaches bool              `json:"drops_caches"`
	CacheNote   string            `json:"cache_note,omitempty"` // why the page cache is not dropped
	Versions    map[string]string `json:"versions"`
}

// program is an external command the benchmark runs and the Debian package
// that provides it.
type program struct {
	name, pkg string
	version   []string // arguments that print its version
}

var programs = []program{
	{"dd", "coreutils", []string{"--version"}},
	{"cp", "coreutils", []string{"--version"}},
	{"qemu-img", "qemu-utils", []string{"--version"}},
	{"nbdcopy", "libnbd-bin", []string{"--version"}},
	{"wrk", "wrk", []string{"-v"}},
	{"losetup", "mount", []string{"--version"}},
	{"time", "time", []string{"--version"}}, // GNU time, for the peak RSS of the tools
	{"mkfs.xfs", "xfsprogs", []string{"-V"}},
}

// describe learns the machine and whether the page cache can be dropped.
func describe(dir string) machine {
	m := machine{CPUs: runtime.NumCPU(), Versions: map[string]string{}}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemoryGiB = float64(si.Totalram) * float64(si.Unit) / gib
	}
	m.Filesystem = "unknown"
	if out, err := exec.Command("findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", dir).Output(); err == nil {
		m.Filesystem = strings.Join(strings.Fields(string(out)), " ")
	}
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
		m.CacheNote = fmt.Sprintf("cannot drop the page cache (%v): sources may be read warm", err)
	} else {
		m.DropsCaches = true
	}
	return m
}

// print writes the machine's description.
func (m *machine) print(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "machine: %d CPUs, %.1f GiB RAM, Linux %s\n", m.CPUs, m.MemoryGiB, m.Kernel)
	fmt.Fprintf(bw, "work dir filesystem: %s\n", m.Filesystem)
	if m.DropsCaches {
		fmt.Fprintln(bw, "page cache: dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every run")
	} else {
		fmt.Fprintln(bw, "page cache: NOT dropped:", m.CacheNote)
	}
	for _, p := range programs {
		fmt.Fprintf(bw, "  %-8s %s\n", p.name, m.Versions[p.name])
	}
	return bw.Flush()
}

// dropCaches syncs and, when it can, empties the page cache.
func (b *bench) dropCaches() {
	syscall.Sync()
	if b.machine.DropsCaches {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
			slog.Warn("drop page cache", "err", err)
		}
	}
}

// findPrograms locates the external programs, installing the Debian
// packages of missing ones first when running as root.
func (b *bench) findPrograms(ctx context.Context) {
	var pkgs []string
	for _, p := range programs {
		if _, err := exec.LookPath(p.name); err != nil && !slices.Contains(pkgs, p.pkg) {
			pkgs = append(pkgs, p.pkg)
		}
	}
	aptInstall(ctx, pkgs...)
	for _, p := range programs {
		path, err := exec.LookPath(p.name)
		if err != nil {
			b.machine.Versions[p.name] = "missing (Debian package " + p.pkg + ")"
			continue
		}
		b.programs[p.name] = path
		out, _ := exec.CommandContext(ctx, path, p.version...).CombinedOutput()
		line, _, _ := strings.Cut(string(out), "\n")
		b.machine.Versions[p.name] = strings.TrimSpace(line)
	}
}

// aptInstall installs the Debian packages pkgs of missing tools when
// running as root; tools still missing after a failure are reported so.
func aptInstall(ctx context.Context, pkgs ...string) {
	if len(pkgs) == 0 || os.Geteuid() != 0 {
		return
	}
	slog.Info("installing missing tools", "packages", pkgs)
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		slog.Warn("install tools failed: they are reported as missing", "packages", pkgs, "err", err)
	}
}

// buildBinaries builds this project's commands into b.bins and checks that
// cinder-manage has the volume copy command.
func (b *bench) buildBinaries(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bins+"/", "github.com/cinder-go/cinder/cmd/...")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the binaries: %w", err)
	}
	manage := filepath.Join(b.bins, "cinder-manage")
	out, _ := exec.CommandContext(ctx, manage, "volume", "copy", "--help").CombinedOutput()
	if bytes.Contains(out, []byte("usage: cinder-manage volume copy")) {
		b.programs["cinder-manage"] = manage
	}
	return nil
}

// has reports whether t can run: the engine library always can.
func (b *bench) has(t *tool) bool { return t.bin == "" || b.programs[t.bin] != "" }

// missing says why program is not there.
func (b *bench) missing(name string) string {
	switch name {
	case "cinder-manage":
		return "missing: this cinder-manage has no volume copy command"
	case "python3":
		return "missing: apt-get install python3-cinder (Cinder's posix driver)"
	}
	for _, p := range programs {
		if p.name == name {
			return "missing: apt-get install " + p.pkg
		}
	}
	return "missing"
}
