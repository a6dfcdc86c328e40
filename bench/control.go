package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Real Cinder on this kind of machine, measured the same way (from the
// issue), and this project's goals.
const (
	cinderCreateMs  = 188
	cinderDetailRPS = 19.6
	cinderCapsMs    = 12.2
	goalCreateMs    = 19
	goalDetailRPS   = 1000
	goalCapsMs      = 2
)

const (
	rabbitAddr = "127.0.0.1:5672"
	rabbitURL  = "rabbit://guest:guest@" + rabbitAddr + "/"
	// brokerLock is the lock file the project's tests hold while they use
	// RabbitMQ: Cinder's queue names are shared by every exchange, and some
	// tests restart the broker.
	brokerLock = "cinder-go-test-rabbitmq.lock"
)

// Measures of the control plane, as named in the table.
const (
	measureCreate    = "create → available, median"
	measureDetailRPS = "GET volumes/detail throughput"
	measureDetailP99 = "GET volumes/detail p99"
	measureCaps      = "GET capabilities/hostA@thin, median"
)

// controlPlane measures the control plane in cinder-all over the in-process
// transport, then split into three processes over RabbitMQ.
func (b *bench) controlPlane(ctx context.Context) []controlRow {
	rows := b.controlOn(ctx, "in-process (cinder-all, fake://)", "control-fake", "fake://", "cinder-all")
	const split = "RabbitMQ (api, scheduler, volume apart)"
	if err := reachable(rabbitAddr); err != nil {
		return append(rows, controlRow{Transport: split, Note: "skipped: RabbitMQ unreachable: " + err.Error()})
	}
	unlock, err := lockBroker(ctx)
	if err != nil {
		return append(rows, controlRow{Transport: split, Note: "skipped: " + err.Error()})
	}
	defer unlock()
	return append(rows, b.controlOn(ctx, split, "control-rabbit", rabbitURL, "cinder-scheduler", "cinder-volume", "cinder-api")...)
}

// controlOn starts binaries over transport, with their state in the work
// dir's subdirectory state, and measures them.
func (b *bench) controlOn(ctx context.Context, name, state, transport string, binaries ...string) []controlRow {
	slog.Info("control plane", "transport", name)
	cl, err := startCinder(ctx, b.bins, filepath.Join(b.dir, state), transport, binaries...)
	if err != nil {
		return []controlRow{{Transport: name, Note: b.failure(err)}}
	}
	defer cl.stop()
	create := controlRow{Transport: name, Measure: measureCreate, Unit: "ms", Cinder: cinderCreateMs}
	rps := controlRow{Transport: name, Measure: measureDetailRPS, Unit: "req/s", Cinder: cinderDetailRPS}
	p99 := controlRow{Transport: name, Measure: measureDetailP99, Unit: "ms"}
	caps := controlRow{Transport: name, Measure: measureCaps, Unit: "ms", Cinder: cinderCapsMs}
	if d, err := b.createLatency(ctx, cl); err != nil {
		create.Note = b.failure(err)
	} else {
		create.Value = ms(d)
	}
	if r, d, err := b.detailLoad(ctx, cl); err != nil {
		rps.Note = b.failure(err)
	} else {
		rps.Value, p99.Value = r, ms(d)
		rps.Note = fmt.Sprintf("%d volumes, wrk -t2 -c8 -d%s", b.size.volumes, b.size.wrk)
	}
	if d, err := b.capsLatency(ctx, cl); err != nil {
		caps.Note = b.failure(err)
	} else {
		caps.Value = ms(d)
	}
	return []controlRow{create, rps, p99, caps}
}

// createLatency creates volumes one at a time, polling each every 2 ms
// until it is available, and returns the median time.
func (b *bench) createLatency(ctx context.Context, cl *cinder) (time.Duration, error) {
	var times []time.Duration
	for range b.size.creates {
		start := time.Now()
		id, err := cl.createVolume(ctx, 1)
		if err != nil {
			return 0, err
		}
		if err := cl.waitAvailable(ctx, id, 2*time.Millisecond); err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
	}
	return median(times), nil
}

// detailLoad tops the volumes up to b.size.volumes and loads GET
// volumes/detail with wrk, returning requests per second and the p99 latency.
func (b *bench) detailLoad(ctx context.Context, cl *cinder) (float64, time.Duration, error) {
	if b.programs["wrk"] == "" {
		return 0, 0, errors.New(b.missing("wrk"))
	}
	for range b.size.volumes - b.size.creates {
		id, err := cl.createVolume(ctx, 1)
		if err != nil {
			return 0, 0, err
		}
		if err := cl.waitAvailable(ctx, id, 10*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
	w, err := b.wrk(ctx, b.size.wrk, cl.endpoint+"/volumes/detail")
	return w.rps, w.p99, err
}

// wrk loads url as admin with 8 connections for d, sending the extra
// headers, and returns its report.
func (b *bench) wrk(ctx context.Context, d time.Duration, url string, headers ...string) (wrkReport, error) {
	args := []string{"-t2", "-c8", "-d" + d.String(), "--latency", "-H", "X-Auth-Token: admin:admin"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	out, err := exec.CommandContext(ctx, b.programs["wrk"], append(args, url)...).CombinedOutput()
	if err != nil {
		return wrkReport{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkP50    = regexp.MustCompile(`\s50%\s+([0-9.]+)(us|ms|s|m)\b`)
	wrkP99    = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s|m)\b`)
	wrkErrors = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
	wrkUnits  = map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}
)

// wrkReport is what the benchmark reads of wrk's report.
type wrkReport struct {
	rps      float64 // requests per second
	p50, p99 time.Duration
}

// parseWrk reads requests per second and the median and 99th percentile
// latencies from wrk --latency's report, which must show no failed request.
func parseWrk(out string) (wrkReport, error) {
	if m := wrkErrors.FindString(out); m != "" {
		return wrkReport{}, fmt.Errorf("wrk saw failures: %s", m)
	}
	rps := wrkRPS.FindStringSubmatch(out)
	if rps == nil {
		return wrkReport{}, fmt.Errorf("wrk report without Requests/sec: %q", out)
	}
	r, err := strconv.ParseFloat(rps[1], 64)
	if err != nil {
		return wrkReport{}, fmt.Errorf("wrk Requests/sec %q: %w", rps[1], err)
	}
	if r == 0 {
		return wrkReport{}, fmt.Errorf("wrk completed no request: %q", out)
	}
	w := wrkReport{rps: r}
	for _, l := range []struct {
		name string
		re   *regexp.Regexp
		dst  *time.Duration
	}{{"50%", wrkP50, &w.p50}, {"99%", wrkP99, &w.p99}} {
		m := l.re.FindStringSubmatch(out)
		if m == nil {
			return wrkReport{}, fmt.Errorf("wrk report without a %s latency: %q", l.name, out)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return wrkReport{}, fmt.Errorf("wrk latency %q: %w", m[1], err)
		}
		*l.dst = time.Duration(v * float64(wrkUnits[m[2]]))
	}
	return w, nil
}

// capsLatency returns the median time of GET capabilities/hostA@thin, an
// RPC round trip to cinder-volume.
func (b *bench) capsLatency(ctx context.Context, cl *cinder) (time.Duration, error) {
	var times []time.Duration
	for range b.size.caps {
		start := time.Now()
		if err := cl.call(ctx, "GET", "/capabilities/hostA@thin", nil, nil); err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
	}
	return median(times), nil
}

// lockBroker takes the tests' broker lock, waiting up to 5 minutes for
// tests holding it, and returns its release.
func lockBroker(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), brokerLock), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open the broker lock: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for logged := false; ; logged = true {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		// The lock file holds nothing: closing it only lets the lock go.
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) || ctx.Err() != nil {
			_ = f.Close()
			return nil, fmt.Errorf("take the broker lock %s: %w", f.Name(), errors.Join(err, ctx.Err()))
		}
		if !logged {
			slog.Info("waiting for tests using RabbitMQ to release the broker", "lock", f.Name())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// reachable reports whether a TCP server answers at addr.
func reachable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
