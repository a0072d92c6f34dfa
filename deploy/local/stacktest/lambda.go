package stacktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the Lambda helpers.
var (
	// LambdaBuildTimeout bounds `go build` of a handler.
	LambdaBuildTimeout = 10 * time.Minute
	// LambdaStartTimeout bounds the wait for the emulator to accept connections.
	LambdaStartTimeout = 20 * time.Second
	// LambdaInvokeTimeout bounds one Invoke when ctx has no earlier deadline.
	LambdaInvokeTimeout = 60 * time.Second
)

type counter struct{ n atomic.Uint64 }

func (c *counter) next() uint64 { return c.n.Add(1) & 0xffff }

var nameCounter counter

// LambdaProcess is a Go Lambda handler built as `bootstrap` and running under
// aws-lambda-rie on a loopback port.
type LambdaProcess struct {
	// URL is the emulator's invoke URL.
	URL string
	// Bootstrap is the path of the built handler binary.
	Bootstrap string
	// LogPath holds the emulator's and the handler's output.
	LogPath string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	once    sync.Once
	client  *http.Client
}

// RunLambda builds the Go package at pkgPath as `bootstrap` (GOOS=linux,
// -tags lambda.norpc) and starts it under aws-lambda-rie on a
// free loopback port. pkgPath is either relative to the root of the main
// module ("./lambdas/ingest"), an import path, or an absolute directory
// (built from that directory, which may hold its own go.mod). The process is
// stopped by t.Cleanup.
func (e Endpoints) RunLambda(t testing.TB, pkgPath string) *LambdaProcess {
	t.Helper()
	return e.RunLambdaEnv(t, pkgPath)
}

// RunLambdaEnv is RunLambda with extra "KEY=VALUE" environment entries for the
// handler (they override the test process's environment, which it inherits).
func (e Endpoints) RunLambdaEnv(t testing.TB, pkgPath string, env ...string) *LambdaProcess {
	t.Helper()
	e.need(t, LambdaRIE)
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	buildLambda(t, pkgPath, bootstrap)

	apiPort, emuPort := freePort(t), freePort(t)
	for emuPort == apiPort {
		emuPort = freePort(t)
	}
	logPath := filepath.Join(dir, "lambda-rie.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("stacktest: lambda-rie log: %v", err)
	}
	cmd := exec.Command(e.LambdaRIE,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(emuPort),
		bootstrap)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(),
		"AWS_REGION="+Region,
		"AWS_DEFAULT_REGION="+Region,
		"AWS_ACCESS_KEY_ID="+e.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+e.SecretAccessKey,
		"AWS_LAMBDA_FUNCTION_NAME="+filepath.Base(strings.TrimSuffix(pkgPath, "/")),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60",
		"LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, env...) // later entries win in os/exec
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("stacktest: lambda-rie (%s): start: %v", e.LambdaRIE, err)
	}
	p := &LambdaProcess{
		URL:       fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", emuPort),
		Bootstrap: bootstrap,
		LogPath:   logPath,
		cmd:       cmd,
		done:      make(chan struct{}),
		client:    &http.Client{Timeout: LambdaInvokeTimeout},
	}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	t.Cleanup(p.Stop)

	deadline := time.Now().Add(LambdaStartTimeout)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", emuPort), DialTimeout)
		if err == nil {
			_ = conn.Close()
			break
		}
		select {
		case <-p.done:
			t.Fatalf("stacktest: lambda-rie exited before it listened (%v); log %s:\n%s", p.waitErr, logPath, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stacktest: lambda-rie did not listen on 127.0.0.1:%d within %s; log %s:\n%s", emuPort, LambdaStartTimeout, logPath, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// Invoke sends payload to the handler and returns its response. A function
// error (the handler returned an error or panicked) is returned as an error
// that includes the emulator's body.
func (p *LambdaProcess) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, LambdaInvokeTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("lambda-rie: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambda-rie at %s: %w (log %s)", p.URL, err, p.LogPath)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("lambda-rie at %s: reading response: %w", p.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("lambda-rie at %s: HTTP %d: %s (log %s)", p.URL, resp.StatusCode, body, p.LogPath)
	}
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" || isFunctionError(body) {
		return body, fmt.Errorf("lambda-rie: function error %s: %s (log %s)", fe, body, p.LogPath)
	}
	return body, nil
}

// isFunctionError recognises the emulator's error envelope {"errorMessage":..,"errorType":..}.
func isFunctionError(body []byte) bool {
	b := bytes.TrimSpace(body)
	return bytes.HasPrefix(b, []byte("{")) && bytes.Contains(b, []byte(`"errorType"`)) && bytes.Contains(b, []byte(`"errorMessage"`))
}

// Log returns what the emulator and the handler printed so far.
func (p *LambdaProcess) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Stop ends the emulator and the handler (idempotent; also run by t.Cleanup).
func (p *LambdaProcess) Stop() {
	p.once.Do(func() {
		if p.cmd.Process == nil {
			return
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

func buildLambda(t testing.TB, pkgPath, out string) {
	t.Helper()
	dir, target := "", pkgPath
	switch {
	case filepath.IsAbs(pkgPath):
		dir, target = pkgPath, "."
	case strings.HasPrefix(pkgPath, "./") || strings.HasPrefix(pkgPath, "../"):
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("stacktest: RunLambda(%q): %v", pkgPath, err)
		}
		dir = root
	}
	ctx, cancel := context.WithTimeout(context.Background(), LambdaBuildTimeout)
	defer cancel()
	// Same flags as the developers' own builds (no -trimpath, CGO_ENABLED inherited) so that the
	// build cache is shared: a cold build of a real handler takes minutes on 2 cores.
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", out, target)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stacktest: building %s as bootstrap (in %s) failed: %v\n%s", pkgPath, dirOr(dir), err, b)
	}
}

func dirOr(d string) string {
	if d == "" {
		wd, _ := os.Getwd()
		return wd
	}
	return d
}

// moduleRoot finds the main module's root: the nearest go.mod above the working
// directory whose module is github.com/gannet-sec/gannet, else the nearest go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	first := ""
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			if first == "" {
				first = d
			}
			if strings.Contains(string(b), "module github.com/gannet-sec/gannet\n") {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if first == "" {
		return "", errors.New("no go.mod above " + wd)
	}
	return first, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stacktest: no free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	const n = 4000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
