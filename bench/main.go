// Command bench measures, side by side in one run, this project's copy
// engine against qemu-img, nbdcopy, cp and dd, volume migration through the
// REST API of a running Cinder, and the control plane over the in-process
// transport and over RabbitMQ (make bench; see the README's Benchmark section).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// sizes are the sizes and counts one run measures.
type sizes struct {
	volumeGiB int           // S, F, T and E volumes
	lGiB      int           // the L volume
	lData     int64         // bytes of data in the L volume
	creates   int           // create → available samples
	volumes   int           // volumes listed by GET volumes/detail
	wrk       time.Duration // how long wrk loads volumes/detail
	pageWrk   time.Duration // how long wrk loads each of case P's requests
	caps      int           // GET capabilities samples
}

// The default volume is the 4 GiB: a full run takes 7.5 minutes on
// this project's machine. On a disk that writes new blocks at 300 MB/s,
// refilling case T's destination before each of its 42 runs alone takes
// longer than the 15 minutes the benchmark must fit in: use -size 2 there.
var (
	fullSizes  = sizes{volumeGiB: 4, lGiB: 1024, lData: gib, creates: 50, volumes: 100, wrk: 10 * time.Second, pageWrk: 3 * time.Second, caps: 200}
	quickSizes = sizes{volumeGiB: 1, lGiB: 64, lData: 64 * mib, creates: 10, volumes: 100, wrk: 2 * time.Second, pageWrk: time.Second, caps: 20}
)

// bench is one run of the benchmark.
type bench struct {
	size     sizes
	runs     int
	cases    map[string]bool
	ddCap    time.Duration
	keep     bool
	dir      string            // this run's inputs and destinations, removed at the end
	bins     string            // this project's binaries, built for the run
	programs map[string]string // external program → path, absent when missing
	machine  machine
	failed   bool   // the engine's output differed from its source, or a measure of this project failed
	script   string // backup/posix's interop script: programs["python3"] runs Cinder's posix driver with it
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	b, root, jsonPath, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = b.run(ctx, root, jsonPath)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if b.failed {
		fmt.Fprintln(os.Stderr, "bench: FAILED: the engine's output differed from its source, or a case could not run (see the notes)")
		os.Exit(1)
	}
}

// parseFlags returns the benchmark args ask for, its work dir and where to
// write the JSON results.
func parseFlags(args []string) (b *bench, root, jsonPath string, err error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "small sizes and, unless -runs is given, one run: for development")
	cases := fs.String("cases", "S,F,T,L,E,C,N,B,P", "cases: S sparse, F full, T thick destination, L large volume migration, E end-to-end migration, C control plane, N snapshots and clones, B backups, P list paging at 100 and 100,000 volumes")
	runs := fs.Int("runs", 3, "runs of each measure, of which the median is reported")
	size := fs.Int("size", 0, "GiB of the S, F, T and E volumes (default 4, 1 with -quick)")
	fs.StringVar(&root, "dir", defaultDir(), "work dir, on the filesystem to measure (default $BENCH_DIR or /var/tmp/cinder-bench)")
	fs.StringVar(&jsonPath, "json", "", "where to write the results as JSON (default DIR/bench-results.json)")
	ddCap := fs.Duration("ddcap", 30*time.Second, "stop dd on the L volume after this long and extrapolate its time")
	keep := fs.Bool("keep", false, "keep the work dir's run (inputs, cinder logs) for inspection")
	if err := fs.Parse(args); err != nil {
		return nil, "", "", err
	}
	b = &bench{size: fullSizes, runs: *runs, cases: map[string]bool{}, ddCap: *ddCap, keep: *keep, programs: map[string]string{}}
	if *quick {
		b.size = quickSizes
		runsSet := false
		fs.Visit(func(f *flag.Flag) { runsSet = runsSet || f.Name == "runs" })
		if !runsSet {
			b.runs = 1
		}
	}
	if *size > 0 {
		b.size.volumeGiB = *size
	}
	for _, c := range strings.Split(*cases, ",") {
		c = strings.ToUpper(strings.TrimSpace(c))
		if len(c) != 1 || !strings.Contains("SFTLECNBP", c) {
			return nil, "", "", fmt.Errorf("unknown case %q in -cases: want S, F, T, L, E, C, N, B or P", c)
		}
		b.cases[c] = true
	}
	if b.runs < 1 || b.ddCap <= 0 {
		return nil, "", "", errors.New("-runs must be at least 1 and -ddcap positive")
	}
	if jsonPath == "" {
		jsonPath = filepath.Join(root, "bench-results.json")
	}
	return b, root, jsonPath, nil
}

// defaultDir is $BENCH_DIR, else a directory under /var/tmp: on disk, not tmpfs.
func defaultDir() string {
	if d := os.Getenv("BENCH_DIR"); d != "" {
		return d
	}
	return "/var/tmp/cinder-bench"
}

// run measures every chosen case under root and writes the tables to
// stdout and the results to jsonPath.
func (b *bench) run(ctx context.Context, root, jsonPath string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	var err error
	if b.dir, err = os.MkdirTemp(root, "run-"); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if !b.keep {
		defer remove(b.dir)
	}
	if b.bins, err = os.MkdirTemp("", "cinder-bench-bin-"); err != nil {
		return fmt.Errorf("binaries dir: %w", err)
	}
	defer remove(b.bins)

	res := &results{Started: time.Now()}
	b.machine = describe(b.dir)
	b.findPrograms(ctx)
	if b.cases["B"] {
		b.findCinderPosix(ctx)
	}
	if err := b.buildBinaries(ctx); err != nil {
		return err
	}
	if err := b.machine.print(os.Stdout); err != nil {
		return err
	}
	fmt.Printf("runs: median of %d, tools in an order rotated each round\n", b.runs)
	fmt.Printf("volumes: S, F, T and E %d GiB (-size); L %d GiB holding %d MiB\n\n",
		b.size.volumeGiB, b.size.lGiB, b.size.lData/mib)

	res.Copies = b.copies(ctx)
	if b.cases["L"] || b.cases["E"] {
		rows, err := b.migrations(ctx)
		res.Copies = append(res.Copies, rows...)
		if err != nil {
			res.Copies = append(res.Copies, b.broken("L/E", err))
		}
	}
	if b.cases["N"] {
		res.Copies = append(res.Copies, b.snapshotCases(ctx)...)
	}
	if b.cases["B"] {
		res.Copies = append(res.Copies, b.backups(ctx)...)
	}
	if b.cases["C"] {
		res.Control = b.controlPlane(ctx)
	}
	if b.cases["P"] {
		res.Paging = b.paging(ctx)
	}
	res.Machine, res.Goals, res.Failed = b.machine, append(goals(res.Copies, res.Control), pagingGoals(res.Paging)...), b.failed
	if err := writeJSON(jsonPath, res); err != nil {
		return err
	}

	fmt.Println("copies (seconds: median wall time including the final sync; engine/tool: the engine library's time ÷ the tool's):")
	if err := printCopies(os.Stdout, res.Copies); err != nil {
		return err
	}
	if len(res.Control) > 0 {
		fmt.Println("\ncontrol plane:")
		if err := printControl(os.Stdout, res.Control); err != nil {
			return err
		}
	}
	if len(res.Paging) > 0 {
		fmt.Println("\nlist paging (wrk -t2 -c8, project admin):")
		if err := printPaging(os.Stdout, res.Paging); err != nil {
			return err
		}
	}
	fmt.Println("\ngoals:")
	if err := printGoals(os.Stdout, res.Goals); err != nil {
		return err
	}
	fmt.Println("\nresults written to", jsonPath)
	return nil
}

// remove removes path, a file or directory the benchmark made, and logs a
// failure: what it leaves takes gigabytes of the work dir.
func remove(path string) {
	if err := os.RemoveAll(path); err != nil {
		slog.Warn("cannot remove", "path", path, "err", err)
	}
}

// broken is the row of a case that could not run.
func (b *bench) broken(name string, err error) row {
	return row{Case: name, Note: b.failure(err)}
}

// failure logs err, a measure of this project that could not be taken,
// fails the benchmark and returns the note saying so.
func (b *bench) failure(err error) string {
	slog.Error("measure failed", "err", err)
	b.failed = true
	return "failed: " + err.Error()
}

// copies measures cases S, F and T, building their inputs.
func (b *bench) copies(ctx context.Context) []row {
	size := int64(b.size.volumeGiB) * gib
	var rows []row
	if b.cases["S"] || b.cases["T"] {
		slog.Info("building inputs", "case", "S")
		s, err := makeSparse(filepath.Join(b.dir, "s-src"), size, 0.05, seedS)
		if err != nil {
			return append(rows, b.broken(caseS, err))
		}
		defer remove(s.path)
		if b.cases["S"] {
			rows = append(rows, b.newFileCase(ctx, caseS, s)...)
		}
		if b.cases["T"] {
			rows = append(rows, b.thickCases(ctx, s)...)
		}
	}
	if b.cases["F"] {
		slog.Info("building inputs", "case", "F")
		f, err := makeHalfZero(filepath.Join(b.dir, "f-src"), size, seedF)
		if err != nil {
			return append(rows, b.broken(caseF, err))
		}
		defer remove(f.path)
		rows = append(rows, b.newFileCase(ctx, caseF, f)...)
	}
	return rows
}

// newFileCase measures copying src to a new file.
func (b *bench) newFileCase(ctx context.Context, name string, src input) []row {
	dst := filepath.Join(b.dir, "dst")
	defer remove(dst)
	return b.runCase(ctx, &copyCase{name: name, src: src, dst: dst, backing: dst, dest: newFile})
}

// thickCases measures copying src onto a destination full of old bytes: a
// file, then the same file as a loop block device.
func (b *bench) thickCases(ctx context.Context, src input) []row {
	dst := filepath.Join(b.dir, "t-dst")
	defer remove(dst)
	rows := b.runCase(ctx, &copyCase{name: caseTFile, src: src, dst: dst, backing: dst, dest: staleData})
	dev, detach, err := attachLoop(ctx, dst, src.size)
	if err != nil {
		slog.Warn("skipping the loop device case", "err", err)
		return append(rows, row{Case: caseTLoop, Note: "skipped: " + err.Error()})
	}
	defer detach()
	return append(rows, b.runCase(ctx, &copyCase{name: caseTLoop, src: src, dst: dev, backing: dst, dest: staleData})...)
}

// attachLoop makes file, refilled to size bytes, a loop block device, and
// returns the device and its detach.
func attachLoop(ctx context.Context, file string, size int64) (string, func(), error) {
	if err := loopUsable(); err != nil {
		return "", nil, err
	}
	if err := fill(file, size); err != nil {
		return "", nil, err
	}
	return losetup(ctx, file)
}

// loopUsable says why this process cannot attach loop devices, if it cannot.
func loopUsable() error {
	if os.Geteuid() != 0 {
		return errors.New("loop devices need root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("no loop devices: %w", err)
	}
	return nil
}

// losetup attaches file to a free loop device and returns the device and
// its detach.
func losetup(ctx context.Context, file string) (string, func(), error) {
	out, err := exec.CommandContext(ctx, "losetup", "--find", "--show", file).CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("losetup: %w: %s", err, strings.TrimSpace(string(out)))
	}
	dev := strings.TrimSpace(string(out))
	return dev, func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			slog.Warn("detach loop device", "dev", dev, "err", err, "out", string(out))
		}
	}, nil
}
