package tests

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// brokerDownFor is how long TestBrokerLoss keeps RabbitMQ stopped.
const brokerDownFor = 30 * time.Second

// answerBound is the longest any request may take while the broker is lost:
// cinder-api's 3 s send timeout and some slack.
const answerBound = 5 * time.Second

// answer is one request of the client loop and what came back.
type answer struct {
	op, path   string
	start      time.Time
	latency    time.Duration
	code       int
	body       map[string]any
	err        error
	id         string // the volume created, extended or deleted
	name       string // a create's volume name
	size       int    // an extend's new size
	brokerDown bool   // sent and answered while the broker was stopped
}

// brokerLoop is the client loop of TestBrokerLoss: workers send requests
// and record every answer until halt.
type brokerLoop struct {
	d      *deployment
	stop   chan struct{}
	halted sync.Once
	wg     sync.WaitGroup

	mu         sync.Mutex
	answers    []*answer
	down, up   time.Time // when the broker was stopped and started again (zero: not yet)
	created    int
	afterStart map[string]bool // ops answered 2xx that were sent after the restart began
}

// halt stops the workers and waits for them.
func (l *brokerLoop) halt() {
	l.halted.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// send sends one request and records its answer.
func (l *brokerLoop) send(op, method, path string, body any) *answer {
	a := &answer{op: op, path: path, start: time.Now()}
	a.code, a.body, a.err = l.d.try(method, path, body)
	a.latency = time.Since(a.start)
	l.mu.Lock()
	defer l.mu.Unlock()
	end := a.start.Add(a.latency)
	a.brokerDown = !l.down.IsZero() && a.start.After(l.down) && (l.up.IsZero() || end.Before(l.up))
	if !l.up.IsZero() && a.start.After(l.up) && a.err == nil && a.code/100 == 2 {
		l.afterStart[op] = true
	}
	l.answers = append(l.answers, a)
	return a
}

// run starts worker in a goroutine, pausing between its rounds.
func (l *brokerLoop) run(worker func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			worker()
		}
	}()
}

// creator creates a volume a round, then lists volumes.
func (l *brokerLoop) creator() {
	l.mu.Lock()
	l.created++
	name := fmt.Sprintf("broker-loss-%d", l.created)
	l.mu.Unlock()
	a := l.send("create", "POST", "/admin/volumes", map[string]any{"volume": map[string]any{"size": 1, "name": name}})
	a.name = name
	if a.code == 202 {
		a.id = a.body["volume"].(map[string]any)["id"].(string)
	}
	l.send("list", "GET", "/admin/volumes/detail?all_tenants=1", nil)
}

// mutator alternates extending (to 2 GiB) one of extend and deleting one of
// del, each volume until its request is accepted; after a refusal the
// volume must be as it was: available, 1 GiB.
func (l *brokerLoop) mutator(extend, del []string) func() {
	round := 0
	return func() {
		round++
		var a *answer
		switch {
		case round%2 == 0 && len(extend) > 0:
			a = l.send("extend", "POST", "/admin/volumes/"+extend[0]+"/action", map[string]any{"os-extend": map[string]any{"new_size": 2}})
			a.id, a.size = extend[0], 2
			if a.code == 202 {
				extend = extend[1:]
			}
		case round%2 == 1 && len(del) > 0:
			a = l.send("delete", "DELETE", "/admin/volumes/"+del[0], nil)
			a.id = del[0]
			if a.code == 202 {
				del = del[1:]
			}
		default:
			return
		}
		if a.code == 202 {
			return
		}
		if show := l.send("show", "GET", "/admin/volumes/"+a.id, nil); show.code == 200 {
			if v := show.body["volume"].(map[string]any); v["status"] != "available" || v["size"] != float64(1) {
				l.d.t.Errorf("volume %s after a refused %s: status %v, size %v; want available, 1", a.id, a.op, v["status"], v["size"])
			}
		}
	}
}

// reader reads a volume and asks cinder-volume and cinder-scheduler for
// what only they know.
func (l *brokerLoop) reader(id string) func() {
	return func() {
		l.send("show", "GET", "/admin/volumes/"+id, nil)
		l.send("capabilities", "GET", "/admin/capabilities/hostA@thin", nil)
		l.send("pools", "GET", "/admin/scheduler-stats/get_pools", nil)
	}
}

// TestBrokerLoss stops RabbitMQ (rabbitmqctl stop_app: connections dropped,
// transient queues gone, port closed, as a broker crash looks to clients)
// for 30 s under a client loop of creates, deletes, extends and reads
// against cinder-api, -scheduler and -volume as separate processes. Each
// request is answered within 5 s: reads of the database 200, anything
// needing RPC refused at once with a 503 serviceUnavailable fault, its
// volume as before the request (a create leaves no row); or accepted, and
// then completed once the broker is back, which the services rejoin alone.
func TestBrokerLoss(t *testing.T) {
	url := testenv.RabbitURL(t)
	needProgram(t, "rabbitmqctl", "to stop the broker")
	start := time.Now() // once the broker is ours
	defer func() { t.Logf("%v with the broker", time.Since(start).Round(time.Millisecond)) }()
	d := newDeployment(t, setup{transport: url, backends: map[string]string{"thin": "volume_driver = thin\n"}})
	d.startSplit()
	var ids []string
	for range 5 {
		ids = append(ids, d.createVolume(1, nil))
	}
	for _, id := range ids {
		d.waitStatus(id, "available")
	}

	// Whatever happens, the broker is started again (after the loop halts).
	stopped := true
	t.Cleanup(func() {
		if stopped {
			rabbitmqctl(t, "start_app")
		}
	})
	l := &brokerLoop{d: d, stop: make(chan struct{}), afterStart: map[string]bool{}}
	t.Cleanup(l.halt)
	rabbitmqctl(t, "stop_app")
	l.mu.Lock()
	l.down = time.Now()
	l.mu.Unlock()
	l.run(l.creator)
	l.run(l.mutator(ids[1:3], ids[3:]))
	l.run(l.reader(ids[0]))
	time.Sleep(brokerDownFor)

	l.mu.Lock()
	l.up = time.Now()
	l.mu.Unlock()
	rabbitmqctl(t, "start_app")
	stopped = false
	t.Logf("broker back %v after it stopped", time.Since(l.down).Round(time.Millisecond))
	// The loop goes on until the services have taken every kind of request again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		done := l.afterStart["create"] && l.afterStart["extend"] && l.afterStart["delete"] &&
			l.afterStart["capabilities"] && l.afterStart["pools"]
		seen := fmt.Sprint(l.afterStart)
		l.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the broker restart only these were served again: %s", seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.halt()
	t.Logf("services serve again %v after the broker restart", time.Since(l.up).Round(time.Millisecond))

	checkBrokerAnswers(t, l.answers)
	for _, a := range l.answers {
		switch {
		case a.code != 202:
		case a.op == "create":
			d.waitStatus(a.id, "available")
		case a.op == "delete":
			d.waitStatus(a.id, "deleted")
		case a.op == "extend":
			waitSize(t, d, a.id, a.size)
		}
	}

	// Refused creates left no row: the list holds exactly the accepted ones.
	names := map[string]bool{}
	for _, v := range d.do("GET", "/admin/volumes/detail?all_tenants=1", nil, 200)["volumes"].([]any) {
		names[v.(map[string]any)["name"].(string)] = true
	}
	for _, a := range l.answers {
		if a.op == "create" && names[a.name] != (a.code == 202) {
			t.Errorf("create of %s answered %d, yet listed: %v", a.name, a.code, names[a.name])
		}
	}

	// The services rejoined by themselves: a new volume, every service up,
	// and each says it consumes again.
	d.waitStatus(d.createVolume(1, nil), "available")
	for _, s := range d.do("GET", "/admin/os-services", nil, 200)["services"].([]any) {
		if svc := s.(map[string]any); svc["state"] != "up" {
			t.Errorf("after the broker restart: %v", svc)
		}
	}
	for _, name := range []string{"cinder-scheduler", "cinder-volume", "cinder-api"} {
		if log := d.log(name); !strings.Contains(log, "rpc: reconnected to RabbitMQ") || !strings.Contains(log, "rpc: consuming again") {
			t.Errorf("%s did not log its reconnect and its consumers' re-declaring", name)
		}
	}
	if log := d.log("cinder-api"); strings.Contains(log, "panic") {
		t.Errorf("cinder-api panicked:\n%s", log)
	}
}

// checkBrokerAnswers checks every answer of the loop: in time, no transport
// error, a 2xx or a 503 fault, and while the broker was down 200 for reads
// of the database and a 503 saying so for anything needing RPC.
func checkBrokerAnswers(t *testing.T, answers []*answer) {
	t.Helper()
	counts := map[string]int{}
	slowest := map[string]time.Duration{}
	for _, a := range answers {
		what := fmt.Sprintf("%s %s at +%v", a.op, a.path, a.start.Sub(answers[0].start).Round(time.Millisecond))
		if a.brokerDown {
			counts[a.op+" down "+fmt.Sprint(a.code)]++
		}
		slowest[a.op] = max(slowest[a.op], a.latency.Round(time.Millisecond))
		if a.latency > answerBound {
			t.Errorf("%s answered after %v, more than %v", what, a.latency, answerBound)
		}
		if a.err != nil {
			t.Errorf("%s: %v", what, a.err)
			continue
		}
		readsDB := a.op == "show" || a.op == "list"
		switch {
		case a.code == 200 || a.code == 202 && !readsDB:
			if a.brokerDown && !readsDB {
				t.Errorf("%s answered %d while the broker was down", what, a.code)
			}
		case a.code == 503 && !readsDB:
			f, _ := a.body["serviceUnavailable"].(map[string]any)
			msg, _ := f["message"].(string)
			if f["code"] != float64(503) || msg == "" {
				t.Errorf("%s: 503 without a serviceUnavailable fault: %v", what, a.body)
			}
			if a.brokerDown && !strings.Contains(msg, "the message bus is unreachable") {
				t.Errorf("%s while the broker was down: 503 %q does not say the message bus is unreachable", what, msg)
			}
		default:
			t.Errorf("%s answered %d: %v", what, a.code, a.body)
		}
	}
	t.Logf("answers while the broker was down: %v; slowest answers: %v", counts, slowest)
	for _, op := range []string{"create", "extend", "delete", "capabilities", "pools"} {
		if counts[op+" down 503"] == 0 {
			t.Errorf("no %s was refused while the broker was down", op)
		}
	}
	for _, op := range []string{"show", "list"} {
		if counts[op+" down 200"] == 0 {
			t.Errorf("no %s was answered while the broker was down", op)
		}
	}
}

// waitSize waits until volume id is available at size GiB.
func waitSize(t *testing.T, d *deployment, id string, size int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := d.volume(id)
		if v["status"] == "available" && v["size"] == float64(size) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s not available at %d GiB after 30s: %v", id, size, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
