package stacktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PrivateServer is a kinesalite or dynalite instance that belongs to one test
// (started from the stack's installed node packages), e.g. to kill it mid-test.
type PrivateServer struct {
	Component string // Kinesis or DynamoDB
	Endpoint  string // http://127.0.0.1:PORT
	LogPath   string

	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// StartPrivate starts a private in-memory kinesalite (component "kinesis") or
// dynalite ("dynamodb") on a free loopback port, stopped by t.Cleanup. It needs
// node and the packages that `deploy/local/stack install` puts in the cache.
func (e Endpoints) StartPrivate(t testing.TB, component string) *PrivateServer {
	t.Helper()
	pkg := map[string]string{Kinesis: "kinesalite", DynamoDB: "dynalite"}[component]
	if pkg == "" {
		t.Fatalf("stacktest: StartPrivate(%q): only %q and %q can be started privately", component, Kinesis, DynamoDB)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, component, fmt.Errorf("node (Node.js) not found on PATH"))
	}
	if _, err := os.Stat(e.nodeServer); err != nil {
		unavailable(t, component, fmt.Errorf("%s not installed (%v)", pkg, err))
	}
	port := freePort(t)
	logPath := filepath.Join(t.TempDir(), pkg+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("stacktest: %s log: %v", component, err)
	}
	cmd := exec.Command(node, e.nodeServer, pkg, strconv.Itoa(port), "127.0.0.1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("stacktest: private %s: start: %v", serverNames[component], err)
	}
	p := &PrivateServer{
		Component: component,
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		LogPath:   logPath,
		cmd:       cmd,
		done:      make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), DialTimeout)
		if err == nil {
			_ = conn.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("stacktest: private %s exited at start-up; log %s:\n%s", serverNames[component], logPath, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stacktest: private %s did not listen within 15s; log %s:\n%s", serverNames[component], logPath, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill ends the server with SIGKILL and waits for it (idempotent).
func (p *PrivateServer) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
}

// Use returns a copy of e whose endpoint for the server's component is the
// private server's.
func (p *PrivateServer) Use(e Endpoints) Endpoints {
	switch p.Component {
	case Kinesis:
		e.KinesisEndpoint = p.Endpoint
	case DynamoDB:
		e.DynamoDBEndpoint = p.Endpoint
	}
	return e
}
